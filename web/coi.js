// Cross-origin isolation where the host sends no headers for it (GitHub
// Pages): the page's threads need a SharedArrayBuffer, which a browser
// gives only to a page served with
//   Cross-Origin-Opener-Policy: same-origin
//   Cross-Origin-Embedder-Policy: require-corp (or credentialless).
// This file is both halves of the usual remedy (the approach of the npm
// package coi-serviceworker): loaded by the page, it registers itself as a
// service worker and reloads the page once, when that worker first takes
// control; run as the service worker, it answers the page's requests with
// the two headers added. A page that is already isolated (web/serve.py
// sends the headers), a browser without service workers, an insecure
// origin, or `?isolate=no` leave it alone: the page then trains on one
// thread and says why.

if (typeof window === 'undefined') {
  // The service worker.
  self.addEventListener('install', () => self.skipWaiting());
  self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
  self.addEventListener('fetch', (event) => {
    const request = event.request;
    if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
    event.respondWith(fetch(request).then((response) => {
      // Opaque answers (another origin, no CORS) cannot be changed.
      if (response.status === 0) return response;
      const headers = new Headers(response.headers);
      headers.set('Cross-Origin-Opener-Policy', 'same-origin');
      headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
      headers.set('Cross-Origin-Resource-Policy', 'cross-origin');
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    }));
  });
} else {
  // The page: register, then reload once to be served through the worker.
  const off = new URLSearchParams(location.search).get('isolate') === 'no';
  const reloaded = sessionStorage.getItem('coi-reloaded') === '1';
  if (!window.crossOriginIsolated && !off && window.isSecureContext && navigator.serviceWorker) {
    navigator.serviceWorker.register(document.currentScript.src).then((registration) => {
      if (registration.active && !navigator.serviceWorker.controller && !reloaded) {
        sessionStorage.setItem('coi-reloaded', '1');
        location.reload();
      }
      navigator.serviceWorker.addEventListener('controllerchange', () => {
        if (!reloaded && !window.crossOriginIsolated) {
          sessionStorage.setItem('coi-reloaded', '1');
          location.reload();
        }
      });
    }, (e) => console.warn(`coi.js: the service worker could not be registered (${e.message})`));
  } else if (window.crossOriginIsolated) {
    sessionStorage.removeItem('coi-reloaded');
  }
}
