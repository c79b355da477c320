// What every part of the page shares: the crate once it runs (compiled to
// WebAssembly), its constants, the data set trained on, the page's
// address, its elements by id, and its one live region.

/** @typedef {typeof import('../dist/pkg/filters_are_weights_web.js')} Crate */
/** @typedef {import('../dist/pkg/filters_are_weights_web.js').Constants} Constants */
/** @typedef {import('../dist/pkg/filters_are_weights_web.js').DatasetInfo} DatasetInfo */

/**
 * Set once by app.js's start, then read everywhere.
 * @type {{ faw: Crate, C: Constants, D: DatasetInfo, names: string[], classic: Float32Array }}
 */
export const page = { faw: null, C: null, D: null, names: [], classic: null };

export const params = new URLSearchParams(location.search);

// All the cores, unless ?threads=N says otherwise (the tests compare 1 and 2).
export const threads = Math.max(1, Math.floor(Number(params.get('threads'))) || navigator.hardwareConcurrency || 1);

/** @param {string} id */
export const $ = (id) => document.getElementById(id);
/** @param {string} id */
export const inputById = (id) => /** @type {HTMLInputElement} */ ($(id));
/** @param {string} id */
export const selectById = (id) => /** @type {HTMLSelectElement} */ ($(id));
/** @param {string} id */
export const canvasById = (id) => /** @type {HTMLCanvasElement} */ ($(id));

/**
 * Says `text` to a screen reader, once (the page's one live region).
 * @param {string} text
 */
export function announce(text) {
  const region = $('announce');
  region.textContent = '';
  // Set again a frame later, so that the same words twice are said twice.
  requestAnimationFrame(() => { region.textContent = text; });
}

/** The number of first-layer filters (32). */
export const filterCount = () => page.C.filters;
/** The weights of one filter (9). */
export const filterSize = () => page.C.filter_side * page.C.filter_side;
