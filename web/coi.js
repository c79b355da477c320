// The page's one service worker: cross-origin isolation where the host
// sends no headers for it (GitHub Pages), and the page offline after one
// visit. This file is both halves: loaded by the page, it registers itself
// as the service worker; run as the service worker, it answers the page's
// requests.
//
// Isolation: the page's threads need a SharedArrayBuffer, which a browser
// gives only to a page served with
//   Cross-Origin-Opener-Policy: same-origin
//   Cross-Origin-Embedder-Policy: require-corp (or credentialless).
// The worker adds the two headers to every answer (the approach of the npm
// package coi-serviceworker), and the page reloads once, when the worker
// first takes control, to be served through it. A page that is already
// isolated (web/serve.py sends the headers) needs no reload.
//
// Offline: every answer comes from the network first, and the page's own
// files are kept in the browser's Cache Storage as they come, so that each
// online visit brings the newest version; when the network does not
// answer, the copy kept is served. The page's files are all kept when the
// page asks (web/build.sh writes their list below, `FILES`), so one visit
// is enough; the data sets are kept by the training worker as it
// fetches them (worker.js, `DATA_CACHE`), with a note of what each is.
//
// A browser without service workers, an insecure origin (plain HTTP from
// another machine), or `?isolate=no` leave the page alone: it then trains
// on one thread and says why, and needs the network.

// The page's files, relative to this one: written by web/build.sh.
const FILES = [];
// Where they are kept (the data sets are in 'faw-data').
const PAGE_CACHE = 'faw-page';

if (typeof window === 'undefined') {
  const scope = /** @type {any} */ (self).registration.scope;
  const keep = new Set(FILES.map((f) => new URL(f, scope).href));
  /**
   * The answer `response`, with the headers that isolate the page where
   * its server sent none (web/serve.py's own, credentialless, stay).
   */
  const isolated = (/** @type {Response} */ response) => {
    // Opaque answers (another origin, no CORS) cannot be changed.
    if (response.status === 0) return response;
    const headers = new Headers(response.headers);
    // WebKit (Safari's engine; WebKitGTK 2.50 here) does not isolate a page
    // whose `credentialless` came through a service worker: there the
    // worker's require-corp replaces it.
    const webkit = /AppleWebKit/.test(navigator.userAgent) && !/Chrome|Chromium|Firefox/.test(navigator.userAgent);
    const add = (/** @type {string} */ name, /** @type {string} */ value) => {
      if (!headers.has(name) || webkit) headers.set(name, value);
    };
    add('Cross-Origin-Opener-Policy', 'same-origin');
    add('Cross-Origin-Embedder-Policy', 'require-corp');
    add('Cross-Origin-Resource-Policy', 'cross-origin');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
  /** The page's file a request is for (its address without the query), if it is one. */
  const pageFile = (/** @type {Request} */ request) => {
    const url = new URL(request.url);
    url.search = '';
    url.hash = '';
    if (request.mode === 'navigate' && url.href.startsWith(scope) && !keep.has(url.href)) return scope;
    return keep.has(url.href) ? url.href : null;
  };
  // Installed and active at once, so that a page it isolates reloads
  // without waiting for the page's files to be kept (megabytes).
  self.addEventListener('install', () => /** @type {any} */ (self).skipWaiting());
  self.addEventListener('activate', (event) => event.waitUntil(/** @type {any} */ (self).clients.claim()));
  // "keep", from the page (js/offline.js), once it runs: every file of the
  // page not kept yet is fetched and kept, files of older versions no
  // longer listed are dropped, and the page is told how many are kept.
  self.addEventListener('message', (event) => {
    if (event.data?.type !== 'keep') return;
    event.waitUntil((async () => {
      const cache = await caches.open(PAGE_CACHE);
      for (const request of await cache.keys()) if (!keep.has(request.url)) await cache.delete(request);
      let kept = 0;
      for (const url of keep) {
        if (!await cache.match(url)) {
          try {
            const response = await fetch(url, { cache: 'no-cache' });
            if (response.ok) await cache.put(url, response);
          } catch {
            // No network: counted as not kept.
          }
        }
        if (await cache.match(url)) kept += 1;
      }
      /** @type {any} */ (event.source)?.postMessage({ type: 'kept', kept, of: keep.size });
    })());
  });
  self.addEventListener('fetch', (event) => {
    const request = event.request;
    if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
    if (request.method !== 'GET') return;
    const file = pageFile(request);
    const plain = request.mode === 'navigate' && new URL(request.url).searchParams.get('isolate') === 'no';
    const answer = (/** @type {Response} */ r) => (plain ? r : isolated(r));
    event.respondWith((async () => {
      try {
        const response = await fetch(request);
        if (file && response.ok && response.status === 200) {
          const copy = response.clone();
          event.waitUntil(caches.open(PAGE_CACHE).then((cache) => cache.put(file, copy)));
        }
        return answer(response);
      } catch (e) {
        // No network: the copy kept (a page's file, or a data set's).
        const kept = (file && await caches.match(file)) || await caches.match(request);
        if (kept) return answer(kept);
        throw e;
      }
    })());
  });
} else {
  // The page: register, then reload once to be served through the worker
  // where that isolates it.
  const off = new URLSearchParams(location.search).get('isolate') === 'no';
  const reloaded = sessionStorage.getItem('coi-reloaded') === '1';
  const needsReload = () => !window.crossOriginIsolated && !off && !reloaded;
  if (!off && window.isSecureContext && navigator.serviceWorker) {
    navigator.serviceWorker.register(/** @type {HTMLScriptElement} */ (document.currentScript).src).then((registration) => {
      if (registration?.active && !navigator.serviceWorker.controller && needsReload()) {
        sessionStorage.setItem('coi-reloaded', '1');
        location.reload();
      }
      navigator.serviceWorker.addEventListener('controllerchange', () => {
        if (needsReload()) {
          sessionStorage.setItem('coi-reloaded', '1');
          location.reload();
        }
      });
    }, (e) => console.warn(`coi.js: the service worker could not be registered (${e.message})`));
  }
  if (window.crossOriginIsolated) sessionStorage.removeItem('coi-reloaded');
}
