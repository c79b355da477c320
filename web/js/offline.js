// 5. The page offline: which data sets this browser keeps for use without
// the network. coi.js (the service worker) keeps the page's own files and
// serves them, and the data sets the training worker kept, when the
// network does not answer; this reads the notes the worker left
// (messages.js' OfflineNote) and says what there is.
import { DATA_CACHE, OFFLINE_NOTE } from '../messages.js';
import { $, page } from './page.js';
import { state } from './state.js';

const MB = (/** @type {number} */ bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

// Whether the service worker (coi.js) has kept every file of the page: it
// says so when asked to keep them (setupOffline).
let pageKept = false;

/**
 * Asks the service worker, once it is active, to keep the page's files,
 * and says what is kept when it answers.
 */
export function setupOffline() {
  if (!window.isSecureContext || !navigator.serviceWorker) return;
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data?.type !== 'kept') return;
    pageKept = event.data.kept === event.data.of;
    showOffline();
  });
  navigator.serviceWorker.ready.then((registration) => registration?.active?.postMessage({ type: 'keep' }));
}

/**
 * The data sets kept, from the notes in the data cache.
 * @returns {Promise<import('../messages.js').OfflineNote[]>}
 */
async function keptDatasets() {
  const cache = await caches.open(DATA_CACHE);
  const notes = (await cache.keys()).filter((r) => new URL(r.url).pathname.includes(`/${OFFLINE_NOTE}`));
  return Promise.all(notes.map(async (r) => (await cache.match(r)).json()));
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
    state.offline = { kept: kept.map((n) => n.dataset), page: pageKept, usage };
    line.textContent = `Offline: ${pageKept ? 'this browser keeps this page' : 'the page is not kept yet'}` +
      `${names.length ? ` and ${names.join(' and ')}` : ', but no data set yet'}, so that it opens and ` +
      `trains without the network${usage ? ` (${MB(usage)} in all)` : ''}. ` +
      `${missing.length ? `${missing.join(' and ')}: not kept; open it once online to keep it. ` : ''}` +
      'An online visit brings the newest version of the page.' +
      (error ? ` ${page.D.name} could not be kept: ${error}.` : '');
  } catch (e) {
    line.textContent = `Offline: could not read what this browser keeps (${e.message}).`;
  }
}
