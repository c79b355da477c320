// 5. The page offline: what this browser keeps for use without the
// network. coi.js (the service worker) keeps the page's files, one version
// at a time and whole, when asked (keepPage, once the training worker says
// which WebAssembly build it runs), and answers with what it holds; the
// training worker keeps each data set it loads, in a cache of its own with
// a note of what it is (messages.js' OfflineNote). This reads both and says
// what there is.
import { DATA_CACHE, OFFLINE_NOTE } from '../messages.js';
import { $, page } from './page.js';
import { state } from './state.js';

const MB = (/** @type {number} */ bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

// What the service worker last said it keeps of the page, and the build
// the page asked it to keep.
/** @type {import('../messages.js').PageKept | null} */
let pageKept = null;
let build = '';

/** Listens to the service worker's answers; a new version of it, taking the page over, keeps its own version. */
export function setupOffline() {
  if (!window.isSecureContext || !navigator.serviceWorker) return;
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data?.type !== 'kept') return;
    pageKept = event.data;
    showOffline();
  });
  navigator.serviceWorker.addEventListener('controllerchange', () => { if (build) keepPage(build); });
}

/**
 * Asks the service worker to keep this version of the page with the
 * WebAssembly build `which` (messages.js' Ready.build).
 * @param {string} which
 */
export function keepPage(which) {
  build = which;
  if (!window.isSecureContext || !navigator.serviceWorker) return;
  /** @type {import('../messages.js').KeepPage} */
  const message = { type: 'keep', build };
  navigator.serviceWorker.ready.then((registration) => {
    (navigator.serviceWorker.controller || registration?.active)?.postMessage(message);
  });
}

/**
 * The data sets kept, from the notes in the data sets' caches (one each).
 * @returns {Promise<import('../messages.js').OfflineNote[]>}
 */
async function keptDatasets() {
  const notes = [];
  for (const name of (await caches.keys()).filter((n) => n.startsWith(DATA_CACHE))) {
    const cache = await caches.open(name);
    for (const r of await cache.keys()) {
      if (new URL(r.url).pathname.includes(`/${OFFLINE_NOTE}`)) notes.push(await (await cache.match(r)).json());
    }
  }
  return notes;
}

/**
 * Says, in the data section, what works without the network; `error`: why
 * the data set just loaded could not be kept.
 * @param {string} [error]
 */
export async function showOffline(error) {
  const line = $('offline-status');
  if (!window.isSecureContext || !navigator.serviceWorker || !window.caches) {
    line.textContent = 'Offline: this browser cannot keep the page here for use without the network ' +
      '(it does so only for https:// addresses and http://localhost, and with service workers on).';
    state.offline = { kept: [], page: false };
    return;
  }
  try {
    const kept = await keptDatasets();
    const names = kept.map((n) => `${n.name} (${MB(n.bytes)}, ${n.source})`);
    const missing = page.C.datasets.filter((d) => !kept.some((n) => n.dataset === d.id)).map((d) => d.name);
    const usage = navigator.storage?.estimate ? (await navigator.storage.estimate()).usage : null;
    const whole = Boolean(pageKept?.complete);
    state.offline = { kept: kept.map((n) => n.dataset), page: whole, version: pageKept?.version, usage };
    const pageSaid = whole
      ? `this browser keeps this page (version ${pageKept.version.slice(0, 8)}: ${pageKept.kept} files, ` +
        `${MB(pageKept.bytes)})`
      : `the page is not kept yet${pageKept ? ` (${pageKept.kept} of its ${pageKept.of} files` +
        `${pageKept.error ? `; ${pageKept.error}` : ''})` : ''}`;
    line.textContent = `Offline: ${pageSaid}` +
      `${names.length ? ` and ${names.join(' and ')}` : ', but no data set yet'}, so that it opens and ` +
      `trains without the network${usage ? ` (${MB(usage)} in all)` : ''}. ` +
      `${missing.length ? `${missing.join(' and ')}: not kept; open it once online to keep it. ` : ''}` +
      'An online visit brings the newest version of the page.' +
      (error ? ` ${page.D.name} could not be kept: ${error}.` : '');
  } catch (e) {
    line.textContent = `Offline: could not read what this browser keeps (${e.message}).`;
  }
}
