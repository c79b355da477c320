// The messages between the page (app.js) and the training worker
// (worker.js), defined once, and what the page tells a visitor when MNIST
// cannot be had. Both sides import this module.

// Page -> worker.
//   load    { base, format }     fetch MNIST at `base` ('idx', 'parquet' or null: find out)
//   reset   { seed, trainImages } a new model; the first `trainImages` images an epoch
//   play    {}                   train until paused
//   pause   {}
//   step    { n }                train `n` batches
//   predict { digit }            784 floats, 0..1: probabilities and feature maps
// Worker -> page.
//   progress   { label, loaded, total }   bytes fetched so far ('decoding' when done)
//   ready      { train, test, source }    MNIST decoded
//   update     { step, epochsDone, stepsPerEpoch, losses, filters, nearest,
//                imagesPerSecond, trainMs, epochEnded, testAccuracy? }
//   prediction { probabilities, maps }
//   error      { kind, message, url?, origin?, status? }   see FAILURES below
export const TO_WORKER = Object.freeze({
  load: 'load', reset: 'reset', play: 'play', pause: 'pause', step: 'step', predict: 'predict',
});
export const TO_PAGE = Object.freeze({
  progress: 'progress', ready: 'ready', update: 'update', prediction: 'prediction', error: 'error',
});

const SERVE = 'serve the data from the page\'s own server: web/serve.py --data DIR, and open ' +
  'the address it prints';
const LAYOUT = 'the folder must hold the four MNIST IDX files (train-images-idx3-ubyte.gz, ' +
  'train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, gzipped ' +
  'or not) or the Hub\'s parquet layout (mnist/train/0000.parquet, mnist/test/0000.parquet)';

// What went wrong and what to do, for each kind of failure the worker
// reports; `m` is its error message (`url`: the file asked for, `origin`:
// its server's, `status`: the HTTP status, `message`: the crate's words).
const FAILURES = Object.freeze({
  'cross-origin': (m) =>
    `Could not fetch MNIST: the server at ${m.origin} answered, but refused to share ${m.url} ` +
    'with this page: it sends no Access-Control-Allow-Origin header (Python\'s http.server ' +
    `sends none), so the browser withholds the answer.\nWhat to do: ${SERVE}; or make that ` +
    'server send "Access-Control-Allow-Origin: *".',
  'unreachable': (m) =>
    `Could not fetch MNIST: nothing answered at ${m.origin} (${m.url}).\nWhat to do: check the ` +
    'address and that the server is running; for the Hugging Face Hub, check your internet ' +
    `connection. Without internet, ${SERVE}.`,
  'blocked': (m) =>
    `Could not fetch MNIST from ${m.origin} (${m.url}): either nothing answered there, or the ` +
    'server sends no Access-Control-Allow-Origin header, which a page on another origin needs ' +
    `(Python's http.server sends none).\nWhat to do: ${SERVE}.`,
  'offline': () =>
    'Could not fetch MNIST: this browser is offline.\nWhat to do: connect to the internet and ' +
    `reload the page, or ${SERVE}.`,
  'not-found': (m) =>
    `Could not fetch MNIST: there is none at ${m.url} (HTTP 404: not found).\nWhat to do: check the ` +
    `address given with ?data=; ${LAYOUT}.`,
  'refused': (m) =>
    `Could not fetch MNIST: the server answered HTTP ${m.status} for ${m.url}.\nWhat to do: ` +
    `try again later; if it goes on, ${SERVE}.`,
  'too-big': (m) =>
    `Could not fetch MNIST: ${m.url} is larger than ${MAX_FILE_BYTES / 2 ** 20} MiB, far more ` +
    'than MNIST, so the page stopped reading it.\nWhat to do: check the address given with ?data=.',
  'not-mnist': (m) =>
    `Could not read MNIST from ${m.url}: ${m.message}.\nWhat to do: check the address given ` +
    `with ?data= (${LAYOUT}), or fetch the files again.`,
  'training': (m) => `Training stopped: ${m.message}. Start again to go on.`,
  'internal': (m) => `Something went wrong in the page: ${m.message}. Reloading it may help.`,
});

// The text the page shows for a worker's error message.
export function explain(m) {
  return (FAILURES[m.kind] || FAILURES.internal)(m);
}

// Whether an error is about getting MNIST (the training controls cannot work).
export const isDataFailure = (m) => !['training', 'internal'].includes(m.kind);

// The most the page reads of one file: MNIST's largest, the training
// images unzipped, is 47 MB.
export const MAX_FILE_BYTES = 256 * 2 ** 20;
