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
// Offline, by version: every answer comes from the network first; when
// the network does not answer, the kept copy is served. web/stamp.py
// writes below the page's files with the SHA-256 of each and the page's
// version (a hash of them all). Asked by the page ("keep", js/offline.js,
// saying which of the two WebAssembly builds it runs), this worker fills a
// cache of that version's name with the page's files, each checked against
// its hash (taken from an older version's cache where it has not changed,
// else fetched), and the other build's left out; once every file is in, it
// writes a mark of completion, and only then drops the older versions. A
// version is served only when complete, so a visitor's copy moves from one
// version to the next at once, never mixed. Only the page's files are
// answered from it: another document in its folder (the guide's chapters)
// is never kept, and offline it gets a short page that says so. The data
// sets are kept by the training worker, each in a cache of its own with a
// note of what it is (worker.js, `keepForOffline`).
//
// A browser without service workers, an insecure origin (plain HTTP from
// another machine), or `?isolate=no` leave the page alone: it then trains
// on one thread and says why, and needs the network.

// The page's files, relative to this one, each with its SHA-256 (coi.js
// itself with none: its version stands for it); written by web/stamp.py.
const FILES = [];
// This version of the page: a hash of its files; written by web/stamp.py.
const VERSION = '';
// The two WebAssembly builds: only the one the page runs is kept.
const BUILDS = ['pkg/', 'pkg-threads/'];
// Each version's cache is PAGE_CACHE + its version; the data sets' caches
// begin with DATA_CACHE (messages.js' DATA_CACHE).
const PAGE_CACHE = 'faw-page-';
const DATA_CACHE = 'faw-data-';
// The key of the mark written once a version's cache holds every file,
// relative to this file, and of the notes of the data sets kept.
const COMPLETE = 'offline-page/complete';
const DATA_NOTE = 'offline-data/';

if (typeof window === 'undefined') {
  const scope = /** @type {any} */ (self).registration.scope;
  const url = (/** @type {string} */ file) => new URL(file, scope).href;
  /** @type {Map<string, string | null>} each file's address and hash */
  const listed = new Map(FILES.map(([file, sha]) => [url(file), sha]));
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
    const address = new URL(request.url);
    address.search = '';
    address.hash = '';
    return listed.has(address.href) ? address.href : null;
  };
  /** The SHA-256 of `response`'s body, in hex. */
  const sha256 = async (/** @type {Response} */ response) => {
    const digest = await crypto.subtle.digest('SHA-256', await response.clone().arrayBuffer());
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  };
  /** Whether `response` is this version's `file`: its hash, or for coi.js its version line. */
  const isThisVersion = async (/** @type {string} */ file, /** @type {Response} */ response) => {
    const sha = listed.get(file);
    if (sha) return await sha256(response) === sha;
    return (await response.clone().text()).includes(`const VERSION = '${VERSION}';`);
  };
  /** The page's caches, each with its mark of completion (null while filling). */
  const pageCaches = async () => Promise.all((await caches.keys()).filter((n) => n.startsWith(PAGE_CACHE))
    .map(async (name) => {
      const mark = await (await caches.open(name)).match(url(COMPLETE));
      return { name, complete: mark ? /** @type {{ at: number }} */ (await mark.json()) : null };
    }));
  /** The cache to answer from offline: this version's if complete, else the newest complete one. */
  const servedCache = async () => {
    const complete = (await pageCaches()).filter((c) => c.complete);
    const own = complete.find((c) => c.name === PAGE_CACHE + VERSION);
    const newest = complete.sort((a, b) => b.complete.at - a.complete.at)[0];
    return (own || newest)?.name;
  };

  /**
   * Keeps this version: every listed file but the other build's, checked
   * against its hash, then the mark, then the older versions dropped.
   * @param {string} build the build the page runs ('pkg/' or 'pkg-threads/')
   * @returns {Promise<{ type: 'kept', version: string, kept: number, of: number, bytes: number,
   *   complete: boolean, error?: string }>}
   */
  const keep = async (build) => {
    const name = PAGE_CACHE + VERSION;
    const cache = await caches.open(name);
    const skipped = (/** @type {string} */ file) => BUILDS.some((b) => b !== build && file.startsWith(url(b)));
    const wanted = [...listed.keys()].filter((file) => !skipped(file));
    const older = (await pageCaches()).filter((c) => c.name !== name);
    const wasComplete = Boolean(await cache.match(url(COMPLETE)));
    let added = 0;
    let kept = 0;
    let bytes = 0;
    let error;
    for (const file of wanted) {
      let copy = await cache.match(file);
      for (const other of older) {
        if (copy) break;
        const theirs = await (await caches.open(other.name)).match(file);
        if (theirs && await isThisVersion(file, theirs)) {
          await cache.put(file, theirs.clone());
          copy = theirs;
          added += 1;
        }
      }
      if (!copy) {
        try {
          const response = await fetch(file, { cache: 'no-cache' });
          if (!response.ok) {
            error = `${file} answered HTTP ${response.status}`;
          } else if (!await isThisVersion(file, response)) {
            // The server has another version: its own service worker will keep it.
            error = `${file} is not this version's (the page has changed since)`;
          } else {
            await cache.put(file, response.clone());
            copy = response;
            added += 1;
          }
        } catch {
          error = 'the network did not answer';
        }
      }
      if (copy) {
        kept += 1;
        bytes += (await copy.clone().arrayBuffer()).byteLength;
      }
    }
    const complete = kept === wanted.length;
    if (complete && (added || !wasComplete)) {
      // The other build, if an earlier visit kept it, goes; then the mark.
      for (const request of await cache.keys()) if (skipped(request.url)) await cache.delete(request);
      const mark = JSON.stringify({ at: Date.now(), build, files: kept, bytes });
      await cache.put(url(COMPLETE), new Response(mark, { headers: { 'content-type': 'application/json' } }));
      // The older versions go once this one is first complete (not later:
      // this worker may be the old one, still running while a newer one fills its cache).
      if (!wasComplete) for (const other of older) await caches.delete(other.name);
    }
    return { type: 'kept', version: VERSION, kept, of: wanted.length, bytes, complete, ...(error && { error }) };
  };
  // One pass at a time (a page may ask twice: once loaded, and again when
  // a new version of this worker takes it over).
  let keeping = Promise.resolve();

  // Installed and active at once, so that a page it isolates reloads
  // without waiting for the page's files to be kept (megabytes).
  self.addEventListener('install', () => /** @type {any} */ (self).skipWaiting());
  self.addEventListener('activate', (event) => event.waitUntil((async () => {
    // The caches of versions before this scheme: one for every version.
    await caches.delete('faw-page');
    await caches.delete('faw-data');
    await /** @type {any} */ (self).clients.claim();
  })()));
  self.addEventListener('message', (event) => {
    if (event.data?.type !== 'keep') return;
    const build = BUILDS.includes(event.data.build) ? event.data.build : BUILDS[0];
    keeping = keeping.then(() => keep(build)).catch((e) => ({
      type: 'kept', version: VERSION, kept: 0, of: 0, bytes: 0, complete: false, error: e.message || String(e),
    })).then((answer) => /** @type {any} */ (event.source)?.postMessage(answer));
    event.waitUntil(keeping);
  });

  /** The kept copy of a data set's file: from a data set's cache that holds its note (complete). */
  const keptData = async (/** @type {Request} */ request) => {
    for (const name of (await caches.keys()).filter((n) => n.startsWith(DATA_CACHE))) {
      const cache = await caches.open(name);
      const noted = (await cache.keys()).some((r) => r.url.startsWith(url(DATA_NOTE)));
      const copy = noted && await cache.match(request);
      if (copy) return copy;
    }
    return undefined;
  };
  /** What a document of this folder that is not the page gets offline (a chapter of the guide). */
  const notKept = () => new Response(`<!doctype html><meta charset="utf-8"><title>Not kept for offline use</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<p>This page is not kept for use without the network; the network does not answer now.
<p><a href="${scope}">The page itself is kept</a>: it opens and trains offline.`,
  { status: 503, headers: { 'content-type': 'text/html; charset=utf-8' } });

  self.addEventListener('fetch', (event) => {
    const request = event.request;
    if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
    if (request.method !== 'GET') return;
    const file = pageFile(request);
    const plain = request.mode === 'navigate' && new URL(request.url).searchParams.get('isolate') === 'no';
    const answer = (/** @type {Response} */ r) => (plain ? r : isolated(r));
    event.respondWith((async () => {
      try {
        return answer(await fetch(request));
      } catch (e) {
        // No network: the copy kept (of the page's version served, or of a data set).
        const served = file && await servedCache();
        const kept = served ? await (await caches.open(served)).match(file) : await keptData(request);
        if (kept) return answer(kept);
        if (request.mode === 'navigate' && request.url.startsWith(scope)) return answer(notKept());
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
