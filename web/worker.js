// The training worker: fetches MNIST, decodes it with the crate (compiled to
// WebAssembly) and trains Keras' mnist_cnn a few batches at a time, so that
// the page stays responsive. The messages in and out are in messages.js.
import init, { Session } from './pkg/filters_are_weights_web.js';
import { MAX_FILE_BYTES, TO_PAGE, TO_WORKER } from './messages.js';

const IDX = [
  'train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte',
];
const TEST_IMAGES = 1000;    // the test subset scored during training
const SCORE_EVERY = 50;      // batches between two scores of the test subset
const SLICE_MS = 250;        // training time between two updates to the page

let session = null;
let playing = false;
let msPerBatch = 400;        // measured as training goes
let lastScoreStep = -1;

const post = (type, data = {}) => postMessage({ type, ...data });

// A failure the page explains to the visitor: `kind` is one of messages.js'.
class Failure extends Error {
  constructor(kind, message, details = {}) {
    super(message);
    Object.assign(this, { kind, ...details });
  }
}

// Why `fetch(url)` threw. Browsers say only "Failed to fetch", whether
// nothing answered or a server on another origin answered without
// Access-Control-Allow-Origin; a request that does not ask for the answer
// (mode 'no-cors') tells the two apart: it goes through in the second case.
async function whyUnfetched(url, error) {
  const { origin } = new URL(url);
  const details = { url, origin };
  if (!navigator.onLine) return new Failure('offline', error.message, details);
  if (origin === self.location.origin) return new Failure('unreachable', error.message, details);
  try {
    await fetch(url, { mode: 'no-cors', method: 'HEAD', cache: 'no-store' });
    return new Failure('cross-origin', error.message, details);
  } catch {
    // An isolated page (for threads) may block that request too.
    return new Failure(self.crossOriginIsolated ? 'blocked' : 'unreachable', error.message, details);
  }
}

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
  return bytes;
}

// An IDX file, gzipped (.gz) or not.
async function fetchIdx(base, name) {
  try {
    return await fetchBytes(`${base}/${name}.gz`, name);
  } catch (e) {
    if (e.kind !== 'not-found') throw e;
    return fetchBytes(`${base}/${name}`, name);
  }
}

// The crate's decoding, its refusals told as "not MNIST".
function decode(make, url) {
  post(TO_PAGE.progress, { label: 'decoding', loaded: 0, total: 0 });
  try {
    return make();
  } catch (e) {
    throw new Failure('not-mnist', e.message, { url });
  }
}

// MNIST at `base`: the Hub's parquet layout or the four IDX files; `format`
// ('parquet' or 'idx') says which, else the parquet files are tried first.
async function load(base, format) {
  if (format !== 'idx') {
    try {
      const train = await fetchBytes(`${base}/mnist/train/0000.parquet`, 'train/0000.parquet');
      const test = await fetchBytes(`${base}/mnist/test/0000.parquet`, 'test/0000.parquet');
      return decode(() => Session.from_parquet(train, test, `parquet files at ${base}`), base);
    } catch (e) {
      // Not the Hub's layout at this address: the four IDX files, then.
      if (e.kind !== 'not-found' || format === 'parquet') throw e;
    }
  }
  const files = [];
  for (const name of IDX) {
    try {
      files.push(await fetchIdx(base, name));
    } catch (e) {
      // Neither layout there: say so of the folder, not of its last file.
      if (e.kind === 'not-found' && !files.length) throw new Failure('not-found', e.message, { url: `${base}/` });
      throw e;
    }
  }
  return decode(() => Session.from_idx(...files, `IDX files at ${base}`), base);
}

function update(losses, ms, epochEnded) {
  const step = session.step();
  const data = {
    step,
    epochsDone: session.epochs_done(),
    stepsPerEpoch: session.steps_per_epoch(),
    losses,
    filters: session.filters(),
    nearest: session.nearest(),
    imagesPerSecond: losses.length ? (losses.length * 128 * 1000) / ms : 0,
    trainMs: ms,
    epochEnded,
  };
  if (epochEnded || step - lastScoreStep >= SCORE_EVERY) {
    data.testAccuracy = epochEnded ? session.test_accuracy().at(-1) : session.score();
    lastScoreStep = step;
  }
  post(TO_PAGE.update, data);
}

// Trains `n` batches (or, playing, what fits in a slice of time), then reports.
function train(n) {
  const epochs = session.epochs_done();
  const t0 = performance.now();
  const losses = Array.from(session.train(n));
  const ms = performance.now() - t0;
  if (losses.length) msPerBatch = ms / losses.length;
  update(losses, ms, session.epochs_done() > epochs);
}

function loop() {
  if (!playing) return;
  try {
    train(Math.max(1, Math.floor(SLICE_MS / msPerBatch)));
  } catch (e) {
    playing = false;
    post(TO_PAGE.error, { kind: 'training', message: e.message });
    return;
  }
  setTimeout(loop, 0); // let messages (pause, predict) in between
}

function reset(seed, trainImages) {
  session.reset(BigInt(seed), trainImages, TEST_IMAGES);
  lastScoreStep = -1;
  update([], 0, false);
}

onmessage = async ({ data: m }) => {
  try {
    switch (m.type) {
      case TO_WORKER.load: {
        await init();
        session = await load(m.base, m.format);
        const info = session.info();
        post(TO_PAGE.ready, { train: info.train, test: info.test, source: info.source });
        break;
      }
      case TO_WORKER.reset: reset(m.seed, m.trainImages); break;
      case TO_WORKER.play: if (!playing) { playing = true; loop(); } break;
      case TO_WORKER.pause: playing = false; break;
      case TO_WORKER.step: for (let i = 0; i < (m.n || 1); i++) train(1); break;
      case TO_WORKER.predict:
        if (session) {
          post(TO_PAGE.prediction, {
            probabilities: session.predict(m.digit),
            maps: session.feature_maps(m.digit),
          });
        }
        break;
      default: throw new Error(`unknown message ${m.type}`);
    }
  } catch (e) {
    playing = false;
    const { kind = session ? 'training' : 'internal', url, origin, status } = e;
    post(TO_PAGE.error, { kind, message: e.message, url, origin, status });
  }
};
