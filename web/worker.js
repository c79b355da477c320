// The training worker: fetches MNIST (or Fashion-MNIST), decodes it with the
// crate (compiled to WebAssembly) and trains Keras' mnist_cnn a few batches
// at a time, so that the page stays responsive; with the hand-chosen
// comparison on, a second model beside it on the same batches. The
// messages in and out are in messages.js.
import {
  buildOf, DATA_CACHE, datasetOf, MAX_FILE_BYTES, memoryUnshareable, OFFLINE_NOTE, PKG, TO_PAGE, TO_WORKER,
} from './messages.js';

/** @typedef {import('./messages.js').ToWorker} ToWorker */

/**
 * The crate's module: either build, for one thread or several.
 * @typedef {typeof import('./dist/pkg/filters_are_weights_web.js')
 *   | typeof import('./dist/pkg-threads/filters_are_weights_web.js')} Crate
 */
/** @typedef {import('./dist/pkg/filters_are_weights_web.js').Session} Session */
/** @typedef {import('./messages.js').DatasetInfo} DatasetInfo */

/** @type {Crate} */
let faw = null;              // the crate's module
/** @type {import('./messages.js').Constants} */
let C = null;                // its constants(), once it runs
/** @type {{ memory: WebAssembly.Memory }} */
let wasm = null;             // its exports (the memory, for the page to show)
const TEST_IMAGES = 1000;    // the test subset scored during training
const SCORE_EVERY = 50;      // batches between two scores of the test subset
const SLICE_MS = 250;        // training time between two updates to the page

/** @type {Session} */
let session = null;
let playing = false;
let run = 0;                 // the page's number for the model now (reset, openModel)
/** @type {{ kind: string, message: string }} */
let stopped = null;          // why the crate stopped (a panic, no memory left): nothing more runs
let msPerBatch = 400;        // measured as training goes
/** @type {number[]} */
let stops = [];              // epochs at whose end playing pauses

/**
 * Sends the page message `type` (one of messages.js' TO_PAGE).
 * @param {string} type
 * @param {object} data
 */
const post = (type, data = {}) => postMessage({ type, ...data });

// A failure the page explains to the visitor: `kind` is one of messages.js'.
class Failure extends Error {
  /**
   * @param {string} kind
   * @param {string} message
   * @param {{ url?: string, origin?: string, status?: number }} details
   */
  constructor(kind, message, details = {}) {
    super(message);
    /** @type {string} */
    this.kind = kind;
    /** @type {string} */
    this.url = details.url;
    /** @type {string} */
    this.origin = details.origin;
    /** @type {number} */
    this.status = details.status;
  }
}

// Why `fetch(url)` threw. Browsers say only "Failed to fetch", whether
// nothing answered or a server on another origin answered without
// Access-Control-Allow-Origin; a request that does not ask for the answer
// (mode 'no-cors') tells the two apart: it goes through in the second case.
/**
 * @param {string} url
 * @param {Error} error
 */
async function whyUnfetched(url, error) {
  const { origin } = new URL(url);
  const details = { url, origin };
  if (!navigator.onLine) return new Failure('offline', error.message, details);
  // The page's own server, or the Hub (which sends Access-Control-Allow-Origin):
  // a failure there is one of reaching it.
  if (origin === self.location.origin || C.datasets.some((d) => url.startsWith(d.hub_url))) {
    return new Failure('unreachable', error.message, details);
  }
  try {
    await fetch(url, { mode: 'no-cors', method: 'HEAD', cache: 'no-store' });
    return new Failure('cross-origin', error.message, details);
  } catch {
    // An isolated page (for threads) may block that request too.
    return new Failure(self.crossOriginIsolated ? 'blocked' : 'unreachable', error.message, details);
  }
}

/** The files of the data set being loaded, as fetched, to keep for offline use. */
/** @type {{ url: string, bytes: Uint8Array<ArrayBuffer> }[]} */
let fetched = [];

/**
 * Keeps the data set just loaded (`fetched`) in the browser's Cache Storage,
 * where coi.js finds it when the network does not answer: in a cache of
 * its own (DATA_CACHE + its id + '-' + now), its files first, then a note
 * of what it is; only then are the set's older copies dropped, so that one
 * complete copy is kept at every moment and two are never mixed. A copy of
 * the same files (addresses and sizes) kept already is left as it is.
 * Then tells the page. Where there is no Cache Storage (not a secure
 * context), nothing is kept.
 * @param {DatasetInfo} set
 * @param {string} source
 */
async function keepForOffline(set, source) {
  const files = fetched;
  fetched = [];
  if (!self.caches) return;
  try {
    const prefix = `${DATA_CACHE}${set.id}-`;
    const noteUrl = new URL(OFFLINE_NOTE + set.id, self.location.href).href;
    const older = (await caches.keys()).filter((name) => name.startsWith(prefix));
    const bytes = files.reduce((n, f) => n + f.bytes.length, 0);
    for (const name of older) {
      const cache = await caches.open(name);
      const kept = await cache.match(noteUrl);
      /** @type {import('./messages.js').OfflineNote | null} */
      const note = kept ? await kept.json() : null;
      const same = note && note.files.length === files.length && (await Promise.all(files.map(async (f, i) => {
        const copy = note.files[i] === f.url && await cache.match(f.url);
        return copy && Number(copy.headers.get('content-length')) === f.bytes.length;
      }))).every(Boolean);
      if (same) {
        post(TO_PAGE.offline, { dataset: set.id, bytes });
        return;
      }
    }
    const cache = await caches.open(`${prefix}${Date.now()}`);
    for (const { url, bytes: body } of files) {
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) };
      await cache.put(url, new Response(body, { headers }));
    }
    /** @type {import('./messages.js').OfflineNote} */
    const note = { dataset: set.id, name: set.name, source, bytes, files: files.map((f) => f.url) };
    await cache.put(noteUrl, new Response(JSON.stringify(note), { headers: { 'content-type': 'application/json' } }));
    for (const name of older) await caches.delete(name);
    post(TO_PAGE.offline, { dataset: set.id, bytes });
  } catch (e) {
    post(TO_PAGE.offline, { dataset: set.id, error: e.message || String(e) });
  }
}

/**
 * The bytes at `url`, told to the page as they come (`label`: the file).
 * @param {string} url
 * @param {string} label
 */
async function fetchBytes(url, label) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw await whyUnfetched(url, e);
  }
  if (!response.ok) {
    const kind = response.status === 404 ? 'not-found' : 'refused';
    throw new Failure(kind, `HTTP ${response.status}`, { url, status: response.status });
  }
  const total = Number(response.headers.get('content-length')) || 0;
  const tooBig = () => new Failure('too-big', `over ${MAX_FILE_BYTES} bytes`, { url });
  if (total > MAX_FILE_BYTES) throw tooBig();
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    loaded += value.length;
    if (loaded > MAX_FILE_BYTES) {
      reader.cancel();
      throw tooBig();
    }
    chunks.push(value);
    post(TO_PAGE.progress, { label, loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  fetched.push({ url, bytes });
  return bytes;
}

/**
 * An IDX file, gzipped (.gz) or not.
 * @param {string} base
 * @param {string} name
 */
async function fetchIdx(base, name) {
  try {
    return await fetchBytes(`${base}/${name}.gz`, name);
  } catch (e) {
    if (e.kind !== 'not-found') throw e;
    return fetchBytes(`${base}/${name}`, name);
  }
}

let fontGiven = false;

/** Gives the crate its figures' font, fetched beside the page the first time it is needed. */
async function useFont() {
  if (fontGiven) return;
  const url = new URL(C.font_file, self.location.href).href;
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`the pictures' font (${url}) could not be fetched: ${e.message}`, { cause: e });
  }
  if (!response.ok) throw new Error(`the pictures' font (${url}) could not be fetched: HTTP ${response.status}`);
  faw.use_font(new Uint8Array(await response.arrayBuffer()));
  fontGiven = true;
}

/**
 * The crate's decoding, its refusals told as "not MNIST".
 * @param {() => Session} make
 * @param {string} url
 */
function decode(make, url) {
  post(TO_PAGE.progress, { label: 'decoding', loaded: 0, total: 0 });
  try {
    return make();
  } catch (e) {
    throw new Failure('not-mnist', e.message, { url });
  }
}

// The data set `set` (one of the crate's datasets) at `base`: the Hub's
// parquet layout or the four IDX files; `format` ('parquet' or 'idx') says
// which, else the parquet files are tried first.
/**
 * @param {string} base
 * @param {string | null} format
 * @param {DatasetInfo} set
 * @returns {Promise<Session>}
 */
async function load(base, format, set) {
  if (format !== 'idx') {
    try {
      const [trainFile, testFile] = set.parquet_files;
      const train = await fetchBytes(`${base}/${trainFile}`, trainFile);
      const test = await fetchBytes(`${base}/${testFile}`, testFile);
      return decode(() => faw.Session.from_parquet(train, test, `parquet files at ${base}`, set.id), base);
    } catch (e) {
      // Not the Hub's layout at this address: the four IDX files, then.
      if (e.kind !== 'not-found' || format === 'parquet') throw e;
      fetched = [];
    }
  }
  /** @type {Uint8Array[]} */
  const files = [];
  for (const name of C.idx_files) {
    try {
      files.push(await fetchIdx(base, name));
    } catch (e) {
      // Neither layout there: say so of the folder, not of its last file.
      if (e.kind === 'not-found' && !files.length) throw new Failure('not-found', e.message, { url: `${base}/` });
      throw e;
    }
  }
  const [trainImages, trainLabels, testImages, testLabels] = files;
  return decode(() => faw.Session.from_idx(trainImages, trainLabels, testImages, testLabels, `IDX files at ${base}`,
    set.id), base);
}

/**
 * Trains `n` batches (or, playing, what fits in a slice of time; none
 * after a change made by hand), then tells the page where training is
 * (messages.js' Update); `show`: the last batch's step too; `opened`: the
 * file name of a model just opened.
 * @param {number} n
 * @param {boolean} show
 * @param {string} [opened]
 */
function train(n, show = false, opened = undefined) {
  const t0 = performance.now();
  const u = session.train(n, show, SCORE_EVERY);
  const ms = performance.now() - t0;
  const losses = Array.from(u.losses);
  if (losses.length) msPerBatch = ms / losses.length;
  const s = u.shown;
  if (s) {
    post(TO_PAGE.stepShown, {
      run, loss: s.loss, before: s.before, gradient: s.gradient, update: s.update, after: s.after,
    });
  }
  /** @type {import('./messages.js').Update} */
  const data = {
    run,
    opened,
    step: u.step,
    epochsDone: u.epochs_done,
    stepsPerEpoch: u.steps_per_epoch,
    losses,
    filters: u.filters,
    nearest: u.nearest,
    frozen: Array.from(u.frozen),
    imagesPerSecond: losses.length ? (losses.length * C.batch_size * 1000) / ms : 0,
    trainMs: ms,
    epochEnded: u.epoch_ended,
    memoryBytes: wasm.memory.buffer.byteLength,
    testAccuracy: u.test_accuracy,
  };
  // The hand-chosen model's losses of the same batches.
  if (u.hand) data.hand = { losses: Array.from(u.hand_losses), testAccuracy: u.hand_test_accuracy };
  if (playing && u.epoch_ended && stops.includes(u.epochs_done)) {
    playing = false;
    data.stoppedAt = u.epochs_done;
  }
  // The link's last batch: training stops there.
  if (u.reached_until) {
    playing = false;
    data.reachedUntil = true;
  }
  // This run as a link, and as one that trains to this batch and stops.
  try {
    data.link = session.link(stops.length > 0, undefined);
    data.linkHere = session.link(stops.length > 0, u.step);
  } catch (e) {
    data.linkError = e.message;
  }
  post(TO_PAGE.update, data);
  if (u.epoch_ended) secondLayer(false, false);
}

/**
 * Tells the page what the second layer sees now (messages.js'
 * SecondLayerSeen): over the test subset, or every test image with `all`;
 * `asked`: at the visitor's request (else at an epoch's end).
 * @param {boolean} all
 * @param {boolean} asked
 */
function secondLayer(all, asked) {
  const t0 = performance.now();
  const s = session.second_layer(all);
  const ms = performance.now() - t0;
  post(TO_PAGE.secondLayer, {
    run, step: s.step, epochsDone: s.epochs_done, stepsPerEpoch: s.steps_per_epoch, asked, ms,
    memoryBytes: wasm.memory.buffer.byteLength,
    images: s.images, channels: s.channels, k: s.k, mean: s.mean, patches: s.patches,
    activations: s.activations, sources: s.sources, weights: s.weights,
  });
}

function loop() {
  if (!playing) return;
  try {
    train(Math.max(1, Math.floor(SLICE_MS / msPerBatch)));
  } catch (e) {
    report(e, 'training');
    return;
  }
  setTimeout(loop, 0); // let messages (pause, predict) in between
}

// Tells the page what failed. A trap of the WebAssembly stops the module
// for good: the memory ran out (the crate's allocator kept the size the
// browser refused) or the crate panicked (its hook kept the words). It is
// reported as such, now and for every later message.
/**
 * @param {Error & { kind?: string, url?: string, origin?: string, status?: number }} e
 * @param {string} kind what failed, where `e` does not say (messages.js' FAILURES)
 * @param {ToWorker | {}} message the message that failed
 */
function report(e, kind, message = {}) {
  /** @type {ToWorker} */
  const m = { type: '', ...message };
  playing = false;
  if (e instanceof WebAssembly.RuntimeError && !stopped) stopped = whyTrapped(e);
  if (stopped) {
    post(TO_PAGE.error, { ...stopped, id: m.id });
    return;
  }
  // A browser that will not give a new module its memory says so in a RangeError.
  if (e instanceof RangeError && /memory/i.test(e.message)) kind = 'memory';
  post(TO_PAGE.error, {
    kind: e.kind || kind, message: e.message, url: e.url || m.name, origin: e.origin, status: e.status, id: m.id,
  });
}

/**
 * What stopped the module: no memory left, or a panic.
 * @param {WebAssembly.RuntimeError} e the trap
 * @returns {{ kind: string, message: string }}
 */
function whyTrapped(e) {
  const mib = (/** @type {number} */ bytes) => Math.ceil(bytes / 2 ** 20);
  try {
    const refused = faw.refused_allocation();
    if (refused !== undefined && refused !== null) {
      const had = wasm ? `, on top of the ${mib(wasm.memory.buffer.byteLength)} MiB it had` : '';
      return { kind: 'memory', message: `the browser would not give it ${mib(refused)} MiB more${had}` };
    }
    return { kind: 'panic', message: faw.last_panic() || e.message };
  } catch {
    // The module cannot even say why.
    return { kind: 'panic', message: e.message };
  }
}

/** @param {ToWorker} m */
function reset(m) {
  run = m.run;
  session.reset(BigInt(m.seed), m.trainImages, TEST_IMAGES, Boolean(m.handChosen));
  if (m.link) session.follow(m.link);
  train(0);
}

// Why the threaded build did not start, when it did not.
/** @type {string | null} */
let threadsError = null;
// The folder of the build that runs ('pkg/' or 'pkg-threads/'): the one the
// service worker keeps for offline use.
let build = '';

// How long the pool's threads may take to start (well under a second, as a
// rule): past it, the one-thread build trains instead, and the page says why.
const THREADS_START_MS = 20000;

// The worker that started the pool (pool.js), held here: its own workers
// are the pool's threads, and a worker nobody holds may be collected while
// its threads run (Firefox's bug 1702191).
/** @type {Set<Worker>} */
const poolStarters = new Set();

/**
 * A WebAssembly module, compiled as it downloads where the server says
 * what it is.
 * @param {URL} url
 * @returns {Promise<WebAssembly.Module>}
 */
async function compiled(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return response.headers.get('Content-Type') === 'application/wasm'
    ? WebAssembly.compileStreaming(response)
    : WebAssembly.compile(await response.arrayBuffer());
}

/**
 * Starts the pool of `threads` threads of the threaded build's `module`,
 * which shares `memory`, from pool.js. Building the pool blocks the thread
 * that builds it until every one of them runs, so it is built there and
 * not here: rejected, and pool.js ended with the threads it started, when
 * they do not all run within THREADS_START_MS.
 * @param {WebAssembly.Module} module
 * @param {WebAssembly.Memory} memory
 * @param {number} threads
 * @returns {Promise<void>}
 */
function startPool(module, memory, threads) {
  const pool = new Worker(new URL('./pool.js', import.meta.url), { type: 'module' });
  poolStarters.add(pool);
  return new Promise((resolve, reject) => {
    const fail = (/** @type {string} */ why) => {
      clearTimeout(timer);
      pool.terminate();
      poolStarters.delete(pool);
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`its ${threads} threads had not started after ${THREADS_START_MS / 1000} s`),
      THREADS_START_MS);
    pool.onmessage = (/** @type {MessageEvent<import('./messages.js').PoolStarted>} */ { data }) => {
      if (!data.started) return fail(data.error);
      clearTimeout(timer);
      resolve();
    };
    pool.onerror = (e) => fail(`the worker that starts them failed (${e.message || 'pool.js would not run'})`);
    pool.postMessage(/** @type {import('./messages.js').PoolStart} */ ({ module, memory, threads }));
  });
}

// The crate's module, started once, on `threads` threads where the page
// is cross-origin isolated. Where the build with threads cannot start (a
// browser that will not share memory with its workers, say, or threads
// that do not start in time: Firefox, now and then, under load), the
// one-thread build trains instead, and the page is told why; a failure of
// that one is the browser's.
/** @param {number} threads */
async function start(threads) {
  if (C) return;
  const isolated = self.crossOriginIsolated === true;
  if (isolated && threads > 1) threadsError = memoryUnshareable();
  if (isolated && threads > 1 && !threadsError) {
    try {
      const js = PKG(isolated, threads);
      /** @type {typeof import('./dist/pkg-threads/filters_are_weights_web.js')} */
      const withThreads = await import(js);
      const module = await compiled(new URL(js.replace(/\.js$/, '_bg.wasm'), import.meta.url));
      wasm = await withThreads.default({ module_or_path: module });
      await startPool(module, wasm.memory, threads);
      faw = withThreads;
      build = buildOf(js);
    } catch (e) {
      threadsError = e.message || String(e);
      faw = null;
    }
  }
  try {
    if (!faw) {
      faw = await import(PKG(false, 1));
      wasm = await faw.default();
      build = buildOf(PKG(false, 1));
    }
  } catch (e) {
    throw new Failure('startup', `its WebAssembly would not start in the worker (${e.message})`);
  }
  C = faw.constants();
}

// Each message, and the kind of failure it reports if it fails.
/** @type {Record<string, [string, (m: ToWorker) => void | Promise<void>]>} */
const HANDLERS = {
  [TO_WORKER.load]: ['startup', async (m) => {
    await start(m.threads);
    const set = datasetOf(C, m.dataset);
    if (!set) throw new Error(`there is no data set "${m.dataset}"`);
    fetched = [];
    session = await load(m.base, m.format, set);
    const info = session.info();
    keepForOffline(set, info.source);
    post(TO_PAGE.ready, {
      train: info.train, test: info.test, source: info.source, threads: faw.threads(), threadsError, build,
    });
  }],
  [TO_WORKER.reset]: ['training', reset],
  [TO_WORKER.play]: ['training', () => { if (!playing) { playing = true; loop(); } }],
  [TO_WORKER.pause]: ['training', () => { playing = false; }],
  [TO_WORKER.step]: ['training', (m) => train(m.n || 1, m.show)],
  [TO_WORKER.predict]: ['prediction', (m) => {
    const r = session.read(m.digit);
    post(TO_PAGE.prediction, { id: m.id, logits: r.logits, probabilities: r.probabilities, maps: r.maps });
  }],
  [TO_WORKER.testDigit]: ['prediction', (m) => {
    const index = m.index % session.info().test;
    post(TO_PAGE.testDigit, { index, digit: session.test_digit(index), label: session.test_label(index) });
  }],
  [TO_WORKER.model]: ['internal', (m) => {
    const bytes = session.model_file();
    post(TO_PAGE.modelFile, { id: m.id, bytes });
  }],
  // For the tests: the crate panics, as a bug would; it runs out of memory.
  [TO_WORKER.panic]: ['training', () => faw.panic_for_tests()],
  [TO_WORKER.exhaustMemory]: ['training', () => faw.exhaust_memory_for_tests()],
  // A filter changed by the visitor: the model's, then shown.
  [TO_WORKER.setFilter]: ['filter', (m) => { session.set_filter(m.index, Float32Array.from(m.values)); train(0); }],
  [TO_WORKER.classicFilter]: ['filter', (m) => { session.set_filter_classic(m.index, m.kernel); train(0); }],
  [TO_WORKER.randomFilter]: ['filter', (m) => { session.randomise_filter(m.index, BigInt(m.seed)); train(0); }],
  [TO_WORKER.freeze]: ['filter', (m) => { session.set_frozen(m.index, m.frozen); train(0); }],
  [TO_WORKER.secondLayer]: ['training', (m) => secondLayer(Boolean(m.all), true)],
  [TO_WORKER.figure]: ['figure', async (m) => {
    await useFont();
    const f = session.figure(m.kind, m.steps || new Uint32Array(), m.filters || new Float32Array());
    const bytes = f.bytes;
    post(TO_PAGE.figure, { id: m.id, kind: m.kind, name: f.name, mime: f.mime, bytes, inputs: f.inputs });
  }],
  [TO_WORKER.stops]: ['training', (m) => { stops = Array.from(m.epochs || []); }],
  [TO_WORKER.openModel]: ['model', (m) => {
    playing = false;
    session.open_model(m.name, m.bytes);
    run = m.run;
    train(0, false, m.name);
  }],
};

onmessage = async ({ data: m }) => {
  const handler = HANDLERS[m.type];
  if (!handler) {
    post(TO_PAGE.error, { kind: 'internal', message: `the worker got an unknown message ${m.type}` });
    return;
  }
  const [kind, handle] = handler;
  try {
    if (stopped) throw new Error(stopped.message); // reported as `stopped`
    if (!session && m.type !== TO_WORKER.load) throw new Error('the data is not loaded yet');
    await handle(m);
  } catch (e) {
    report(e, kind, m);
  }
};
