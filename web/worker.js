// The training worker: fetches MNIST, decodes it with the crate (compiled to
// WebAssembly) and trains Keras' mnist_cnn a few batches at a time, so that
// the page stays responsive. Messages in: load, reset, play, pause, step,
// predict. Messages out: progress, ready, update, prediction, error.
import init, { Session } from './pkg/filters_are_weights_web.js';

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

class FetchError extends Error {
  constructor(url, why, status) { super(`${url}: ${why}`); this.url = url; this.status = status; }
}

async function fetchBytes(url, label) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new FetchError(url, `the request failed (${e.message})`, 0);
  }
  if (!response.ok) throw new FetchError(url, `HTTP ${response.status}`, response.status);
  const total = Number(response.headers.get('content-length')) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    post('progress', { label, loaded, total });
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
    if (e.status !== 404) throw e;
    return fetchBytes(`${base}/${name}`, name);
  }
}

// MNIST at `base`: the Hub's parquet layout or the four IDX files; `format`
// ('parquet' or 'idx') says which, else the parquet files are tried first.
async function load(base, format) {
  let parquet = null;
  if (format !== 'idx') try {
    const train = await fetchBytes(`${base}/mnist/train/0000.parquet`, 'train/0000.parquet');
    const test = await fetchBytes(`${base}/mnist/test/0000.parquet`, 'test/0000.parquet');
    parquet = [train, test];
  } catch (e) {
    // Not the Hub's layout at this address: the four IDX files, then.
    if (e.status !== 404 || format === 'parquet') throw e;
  }
  post('progress', { label: 'decoding', loaded: 0, total: 0 });
  if (parquet) return Session.from_parquet(parquet[0], parquet[1], `parquet files at ${base}`);
  const files = [];
  for (const name of IDX) files.push(await fetchIdx(base, name));
  return Session.from_idx(files[0], files[1], files[2], files[3], `IDX files at ${base}`);
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
  post('update', data);
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
    post('error', { message: `training stopped: ${e.message}` });
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
      case 'load': {
        await init();
        session = await load(m.base, m.format);
        const info = session.info();
        post('ready', { train: info.train, test: info.test, source: info.source });
        break;
      }
      case 'reset': reset(m.seed, m.trainImages); break;
      case 'play': if (!playing) { playing = true; loop(); } break;
      case 'pause': playing = false; break;
      case 'step': for (let i = 0; i < (m.n || 1); i++) train(1); break;
      case 'predict':
        if (session) {
          post('prediction', {
            probabilities: session.predict(m.digit),
            maps: session.feature_maps(m.digit),
          });
        }
        break;
    }
  } catch (e) {
    playing = false;
    const fetching = e instanceof FetchError;
    post('error', { message: e.message, fetching, url: e.url });
  }
};
