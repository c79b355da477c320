// The messages between the page (app.js) and the training worker
// (worker.js), defined once, and what the page tells a visitor when
// something fails. Both sides import this module.

// Page -> worker.
//   load      { base, format, threads, dataset }  fetch the data set `dataset` ('mnist',
//                                   'fashion-mnist') at `base` ('idx', 'parquet' or null:
//                                   find out); train on `threads` threads (where isolated)
//   reset     { run, seed, trainImages, handChosen, link? }  a new model, the page's run
//                                   number `run`; the first `trainImages` images an epoch;
//                                   `handChosen`: the hand-chosen, frozen model beside it,
//                                   on the same batches; `link`: a link's query, whose
//                                   filter changes are made as training reaches them and
//                                   whose last batch it stops at
//   play      {}                    train until paused
//   pause     {}
//   step      { n, show }           train `n` batches; `show`: the last one's step too
//   predict   { digit, id }         784 floats, 0..1: logits, probabilities, feature maps;
//                                   `id` comes back with the answer (or the error)
//   testDigit { index }             test image `index` (modulo their number), for the pad
//   model     { id }                the model now, as a model.safetensors file
//   openModel { run, name, bytes }  go on from a model.safetensors file, as run `run`
//   panic     {}                    the crate panics (for the tests: what a bug does)
//   exhaustMemory {}                the crate takes memory until the browser refuses it
//                                   (for the tests: what a tablet does sooner)
//   setFilter { index, values }     filter `index` (0..31) becomes these nine numbers
//   classicFilter { index, kernel } ... classic kernel `kernel` (its index), scaled to it
//   randomFilter { index, seed }    ... a new glorot-uniform draw
//   freeze    { index, frozen }     training leaves filter `index` alone, or not
//   stops     { epochs }            playing pauses at the end of these epochs (none: [])
//   secondLayer { all? }            what the second layer sees now (over every test image
//                                   with `all`, else the test subset)
//   figure    { id, kind, steps?, filters? }   a picture for slides, drawn by the crate
//                                   (Session.figure's kinds; "evolution": the snapshots'
//                                   steps and their filters, 288 numbers each)
// Worker -> page.
//   progress   { label, loaded, total }   bytes fetched so far ('decoding' when done)
//   ready      { train, test, source, threads, threadsError }   the data decoded; training
//                threads; `threadsError`: why the build with threads did not start (null
//                when it did, or was not tried), the one-thread build training instead
//   update     { run, opened?, step, epochsDone, stepsPerEpoch, losses, filters, nearest, frozen,
//                imagesPerSecond, trainMs, epochEnded, testAccuracy?, stoppedAt?, reachedUntil?,
//                link?, linkHere?, linkError?, hand?: { losses, testAccuracy? } }   `frozen`:
//                the frozen filters' indices; `hand`: the hand-chosen model's, when it
//                trains beside; `opened`: the name of the model file just opened;
//                `stoppedAt`: the epoch (one of `stops`) at whose end playing paused;
//                `reachedUntil`: training stopped at the link's last batch; `link`: this
//                run as a link's query (`linkHere`: one that trains to this batch and
//                stops), or `linkError`: why there is none
//   stepShown  { run, loss, before, gradient, update, after }   one batch's step (288 numbers each)
//   prediction { id, logits, probabilities, maps }
//   testDigit  { index, digit, label }   784 floats, 0..1, and its class
//   modelFile  { id, bytes }          the answer to `model` `id`
//   figure     { id, kind, name, mime, bytes, inputs }   the picture asked for: its file,
//                and what it was drawn from (JSON)
//   offline    { dataset, bytes?, error? }   the data set is kept for offline use (`bytes`
//                of it), or could not be (`error`)
//   secondLayer { run, step, epochsDone, stepsPerEpoch, asked, ms, memoryBytes, images, channels, k, mean,
//                patches, activations, sources, weights }   each conv2 channel's top patches (the
//                crate's SecondLayer) at each epoch's end, or `asked` for; `ms`: the time it took
//   error      { kind, message, url?, origin?, status?, id? }   `kind`: one of FAILURES' keys;
//                `id`: the prediction's that failed
// The same, as types (JSDoc, checked by TypeScript: npm run typecheck).
/** @typedef {import('./dist/pkg/filters_are_weights_web.js').Constants} Constants */
/** @typedef {import('./dist/pkg/filters_are_weights_web.js').DatasetInfo} DatasetInfo */
/**
 * A message to the worker: its `type` (TO_WORKER) and that message's fields.
 * @typedef {{ type: string, base?: string, format?: string | null, threads?: number, dataset?: string,
 *   run?: number, seed?: number | string, link?: string | null, trainImages?: number, handChosen?: boolean, n?: number, show?: boolean,
 *   digit?: Float32Array, id?: number, index?: number, name?: string, bytes?: Uint8Array,
 *   values?: number[], kernel?: number, frozen?: boolean, all?: boolean, epochs?: number[], kind?: string,
 *   steps?: Uint32Array, filters?: Float32Array }} ToWorker
 */
/** @typedef {{ label: string, loaded: number, total: number }} Progress */
/**
 * @typedef {{ train: number, test: number, source: string, threads: number, threadsError: string | null,
 *   build: string }} Ready
 */
/**
 * @typedef {{ run: number, opened?: string, step: number, epochsDone: number, stepsPerEpoch: number,
 *   losses: number[], filters: Float32Array, nearest: Float32Array, frozen: number[],
 *   imagesPerSecond: number, trainMs: number, epochEnded: boolean, testAccuracy?: number,
 *   memoryBytes: number, stoppedAt?: number, reachedUntil?: boolean, link?: string, linkHere?: string,
 *   linkError?: string, hand?: { losses: number[], testAccuracy?: number } }} Update
 */
/**
 * @typedef {{ run: number, loss: number, before: Float32Array, gradient: Float32Array, update: Float32Array,
 *   after: Float32Array }} StepShown
 */
/** @typedef {{ id: number, logits: Float32Array, probabilities: Float32Array, maps: Float32Array }} Prediction */
/** @typedef {{ index: number, digit: Float32Array, label: number }} TestDigit */
/** @typedef {{ id: number, bytes: Uint8Array<ArrayBuffer> }} ModelFile */
/**
 * @typedef {{ id: number, kind: string, name: string, mime: string, bytes: Uint8Array<ArrayBuffer>, inputs: string }}
 *   FigureFile
 */
/**
 * @typedef {{ run: number, step: number, epochsDone: number, stepsPerEpoch: number, asked: boolean, ms: number,
 *   memoryBytes: number, images: number, channels: number, k: number, mean: Float32Array, patches: Float32Array,
 *   activations: Float32Array, sources: Uint32Array, weights: Float32Array }} SecondLayerSeen
 */
/**
 * @typedef {{ kind: string, message: string, url?: string, origin?: string, status?: number, id?: number }}
 *   ErrorMessage
 */

// Between the training worker and the worker that starts its threads
// (pool.js), once: the training worker's compiled module, its shared
// memory and how many threads; the answer, once they all run (or why not).
/** @typedef {{ module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number }} PoolStart */
/** @typedef {{ started: boolean, error?: string }} PoolStarted */

export const TO_WORKER = Object.freeze({
  load: 'load', reset: 'reset', play: 'play', pause: 'pause', step: 'step',
  predict: 'predict', testDigit: 'testDigit', model: 'model', openModel: 'openModel', panic: 'panic',
  exhaustMemory: 'exhaustMemory',
  setFilter: 'setFilter', classicFilter: 'classicFilter', randomFilter: 'randomFilter', freeze: 'freeze',
  secondLayer: 'secondLayer', stops: 'stops', figure: 'figure',
});
export const TO_PAGE = Object.freeze({
  progress: 'progress', ready: 'ready', update: 'update', stepShown: 'stepShown',
  prediction: 'prediction', testDigit: 'testDigit', modelFile: 'modelFile', error: 'error',
  secondLayer: 'secondLayer', offline: 'offline', figure: 'figure',
});

/**
 * The data set `id` names among the crate's (`c` is its constants()), or null.
 * @param {Constants} c
 * @param {string} id
 */
export const datasetOf = (c, id) => c.datasets.find((d) => d.id === id) || null;

const SERVE = 'serve the data from the page\'s own server: web/serve.py --mnist DIR --fashion-mnist DIR ' +
  '(either or both), and open the address it prints';
/**
 * What a folder of the data set `d` holds; `c` is the crate's constants().
 * @param {Constants} c
 * @param {DatasetInfo} d
 */
const layout = (c, d) => `the folder must hold the four ${d.name} IDX files ` +
  `(${c.idx_files.map((n) => `${n}.gz`).join(', ')}, gzipped or not) or the Hub's parquet layout ` +
  `(${d.parquet_files.join(', ')})`;

// What went wrong and what to do, for each kind of failure the worker
// reports; `m` is its error message (`url`: the file asked for, `origin`:
// its server's, `status`: the HTTP status, `message`: the crate's words),
// `d` the data set asked for.
/** @type {Readonly<Record<string, (m: ErrorMessage, c: Constants, d: DatasetInfo) => string>>} */
const FAILURES = Object.freeze({
  'cross-origin': (m, c, d) =>
    `Could not fetch ${d.name}: the server at ${m.origin} answered, but refused to share ${m.url} ` +
    'with this page: it sends no Access-Control-Allow-Origin header (Python\'s http.server ' +
    `sends none), so the browser withholds the answer.\nWhat to do: ${SERVE}; or make that ` +
    'server send "Access-Control-Allow-Origin: *".',
  'unreachable': (m, c, d) =>
    `Could not fetch ${d.name}: nothing answered at ${m.origin} (${m.url}).\nWhat to do: check the ` +
    'address and that the server is running; for the Hugging Face Hub, check your internet ' +
    `connection. Without internet, ${SERVE}.`,
  'blocked': (m, c, d) =>
    `Could not fetch ${d.name} from ${m.origin} (${m.url}): either nothing answered there, or the ` +
    'server sends no Access-Control-Allow-Origin header, which a page on another origin needs ' +
    `(Python's http.server sends none).\nWhat to do: ${SERVE}.`,
  'offline': (m, c, d) =>
    `Could not fetch ${d.name}: this browser is offline, and has not kept ${d.name} from an earlier ` +
    `visit.\nWhat to do: connect to the internet and reload the page (once it has loaded ${d.name}, ` +
    `the page keeps it and works offline after), or ${SERVE}.`,
  'not-found': (m, c, d) =>
    `Could not fetch ${d.name}: there is none at ${m.url} (HTTP 404: not found).\nWhat to do: ` +
    `check the address given with ?data= (web/serve.py serves ${d.name} when started with --${d.id} DIR); ` +
    `${layout(c, d)}.`,
  'refused': (m, c, d) =>
    `Could not fetch ${d.name}: the server answered HTTP ${m.status} for ${m.url}.\nWhat to do: ` +
    `try again later; if it goes on, ${SERVE}.`,
  'too-big': (m, c, d) =>
    `Could not fetch ${d.name}: ${m.url} is larger than ${MAX_FILE_BYTES / 2 ** 20} MiB, far more ` +
    'than the data set, so the page stopped reading it.\nWhat to do: check the address given with ?data=.',
  'not-mnist': (m, c, d) =>
    `Could not read ${d.name} from ${m.url}: ${m.message}.\nWhat to do: check the address given ` +
    `with ?data= (${layout(c, d)}), or fetch the files again.`,
  'startup': (m) =>
    `The training could not start in this browser: ${m.message}.\nWhat to do: reload the page; if ` +
    'it fails again, update this browser (the page is tested in current Chromium, Firefox and ' +
    'WebKit, Safari\'s engine). The kernels above may still work.',
  'worker': (m) =>
    `The training worker could not start (${m.message}).\nWhat to do: reload the page; if it fails again, ` +
    'use a browser with module workers (Chrome 80, Firefox 114, Safari 15 or later).',
  'training': (m) => `Training stopped: ${m.message}. Start again to go on.`,
  'panic': (m) => `The training stopped on a bug in the crate: ${m.message}.\nWhat to do: press "start ` +
    'again", which starts it afresh (the data comes from the browser\'s cache). If it happens again, ' +
    'please report it with these words.',
  'memory': (m) => `The training ran out of memory: ${m.message}.\nWhat to do: close other tabs ` +
    '(on a phone or tablet, other apps too), then press "start again", which starts it afresh (the ' +
    'data comes from the browser\'s cache).',
  'model': (m) =>
    `Could not open ${m.url}: ${m.message}.\nWhat to do: open a model.safetensors written by ` +
    '`filters-are-weights reproduce` or downloaded from this page.',
  'filter': (m) => `Could not change the filter: ${m.message}. The model is as it was.`,
  'figure': (m) => `Could not draw the picture: ${m.message}.`,
  'prediction': (m, c, d) => `Could not read the ${d.image_noun}: ${m.message}.`,
  'internal': (m) => `Something went wrong in the page: ${m.message}. Reloading it may help.`,
});

// The text the page shows for a worker's error message `m`; `c` is the
// crate's constants(), `d` the data set asked for (one of c.datasets).
/**
 * @param {ErrorMessage} m
 * @param {Constants} c
 * @param {DatasetInfo} d
 */
export function explain(m, c, d) {
  return (FAILURES[m.kind] || FAILURES.internal)(m, c, d);
}

/**
 * What the page says to a `?dataset=` it does not know.
 * @param {string} id
 * @param {Constants} c
 */
export const UNKNOWN_DATASET = (id, c) => `There is no data set "${id}" here.\nWhat to do: ` +
  `use ?dataset= with one of ${c.datasets.map((d) => d.id).join(', ')}, or leave it out for MNIST.`;

// The failures that leave the page without its data (the training controls
// cannot work); the others leave it as it was.
const DATA_FAILURES = new Set(['cross-origin', 'unreachable', 'blocked', 'offline', 'not-found',
  'refused', 'too-big', 'not-mnist', 'startup', 'worker']);
export const isDataFailure = (/** @type {ErrorMessage} */ m) => DATA_FAILURES.has(m.kind);

// What the page says when the browser cannot run it at all.
export const UNSUPPORTED = Object.freeze({
  webassembly: 'This browser cannot run WebAssembly, which the page is made of: the crate ' +
    'compiled for browsers.\nWhat to do: open it in a current Chrome, Edge, Firefox or Safari ' +
    '(and check that WebAssembly is not switched off).',
  simd: 'This browser runs WebAssembly but not its 128-bit vector instructions (SIMD128), ' +
    'which the page is compiled with.\nWhat to do: update it (Chrome 91, Firefox 89, Safari ' +
    '16.4 or later).',
  pkg: (/** @type {Error} */ e) => `The page's WebAssembly could not be loaded (${e.message}).\nWhat to do: if you ` +
    'built the page yourself, build it again with web/build.sh and serve web/dist ' +
    '(web/serve.py); the pkg/ folder must be beside index.html.',
});

// The crate's module for this page: the build with threads where the page
// is cross-origin isolated (a SharedArrayBuffer can be had) and is to train
// on more than one, else the one-thread build (no pool to hand work to).
// The page and its worker load the same one, so a visitor downloads one.
/**
 * @param {boolean} isolated
 * @param {number} threads
 */
export const PKG = (isolated, threads) => (isolated && threads > 1
  ? './pkg-threads/filters_are_weights_web.js'
  : './pkg/filters_are_weights_web.js');

// Why this browser cannot hand a SharedArrayBuffer to another thread, or
// null when it can. WebAssembly threads share their memory that way; a
// browser may be cross-origin isolated and still refuse (WebKitGTK does:
// "The object can not be cloned."), and then only the one-thread build runs.
export function memoryUnshareable() {
  if (typeof SharedArrayBuffer !== 'function') return 'it has no SharedArrayBuffer';
  const channel = new MessageChannel();
  try {
    channel.port1.postMessage(new SharedArrayBuffer(8));
    return null;
  } catch (e) {
    return `it cannot hand shared memory to another thread: ${e.message}`;
  } finally {
    channel.port1.close();
  }
}

// Why the page trains on one thread when it could have had more, in one
// line: `secure` and `isolated` are the page's isSecureContext and
// crossOriginIsolated, `error` why the build with threads did not start.
/** @param {{ secure: boolean, isolated: boolean, error: string | null }} why */
export function oneThread({ secure, isolated, error }) {
  if (error) {
    return `This browser would not start WebAssembly threads (${error}): training uses one thread, ` +
      'the same numbers, more slowly.';
  }
  if (!secure) {
    return 'This page comes over plain HTTP from another machine, which browsers do not trust with ' +
      'WebAssembly threads (it is not a secure context): training uses one thread. For threads, open ' +
      'it as http://localhost on the machine that serves it, or serve it over HTTPS.';
  }
  if (!isolated) {
    return 'This page is not cross-origin isolated, which WebAssembly threads need (its server sends ' +
      'no Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers, and the service worker ' +
      'that adds them could not run here): training uses one thread. web/serve.py sends them.';
  }
  return '';
}

// Where the training worker keeps each data set it fetched, for the page
// offline (coi.js, the service worker, serves it when the network does not
// answer): each in a cache of its own, DATA_CACHE + its id + '-' + when it
// was kept, with a note of what it is at OFFLINE_NOTE + its id, written
// last (coi.js serves only a cache that holds its note). coi.js, a classic
// script, writes the two names again.
export const DATA_CACHE = 'faw-data-';
export const OFFLINE_NOTE = 'offline-data/';

// The page's files as the service worker keeps them (coi.js): the page asks
// it to keep them ("keep", naming the WebAssembly build the training worker
// runs) and it answers with what it holds of this version ("kept").
/** @typedef {{ type: 'keep', build: string }} KeepPage */
/**
 * @typedef {{ type: 'kept', version: string, kept: number, of: number, bytes: number, complete: boolean,
 *   error?: string }} PageKept
 */

/** The folder of the WebAssembly build `PKG` names: 'pkg/' or 'pkg-threads/'. */
export const buildOf = (/** @type {string} */ js) => js.replace(/^\.\//, '').replace(/[^/]*$/, '');

/**
 * A data set kept for offline use: which, from where, its files' bytes.
 * @typedef {{ dataset: string, name: string, source: string, bytes: number, files: string[] }} OfflineNote
 */

// The most the page reads of one file: MNIST's largest, the training
// images unzipped, is 47 MB (Fashion-MNIST's too).
export const MAX_FILE_BYTES = 256 * 2 ** 20;

// A tiny WebAssembly module using a SIMD128 instruction: whether the
// browser validates it is whether it has SIMD128 (as wasm-feature-detect
// tests it).
export const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3,
  2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
