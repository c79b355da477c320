// The page: the crate (compiled to WebAssembly) draws the kernels on the
// main thread, and a worker (worker.js) trains. This file starts them and
// routes the worker's messages; each section of the page is a module of
// js/ (kernels, training, editor, digit, dataset), the page's state and
// its history are js/state.js. `window.faw` is for the tests: the state,
// the history's limits, a prediction for an exact digit, the pad, and a
// panic.
import {
  datasetOf, explain, isDataFailure, memoryUnshareable, oneThread, PKG, SIMD_PROBE, TO_PAGE, TO_WORKER,
  UNKNOWN_DATASET, UNSUPPORTED,
} from './messages.js';
import { listenUntil, replaceWorker, send, startWorker } from './js/channel.js';
import { setupDataset } from './js/dataset.js';
import { forgetPending, onPrediction, onTestDigit, padDigit, redrawPrediction, setupPad } from './js/digit.js';
import { setupEditor } from './js/editor.js';
import { onFigure, onFigureError, setupFigures } from './js/figures.js';
import { setupKernels } from './js/kernels.js';
import { readLink, setupLink } from './js/link.js';
import { keepPage, setupOffline, showOffline } from './js/offline.js';
import { onSecondLayer, setupSecondLayer } from './js/second-layer.js';
import { announce, $, page, params, threads } from './js/page.js';
import { limits, state } from './js/state.js';
import {
  drawCurves, drawStep, enableControls, onUpdate, restart, saveModel, setPlaying, setupTraining,
} from './js/training.js';

/**
 * Tells the visitor, in the status lines, why the page cannot go on.
 * @param {string} text
 */
function fail(text) {
  state.startError = text;
  state.dataError = text;
  for (const id of ['load-status', 'data-status']) {
    $(id).textContent = text;
    $(id).classList.add('error');
  }
}

/**
 * A failure the worker reported (messages.js' FAILURES), shown where it
 * belongs and announced once. Data that cannot be had disables training;
 * the crate stopped (a panic, or no memory left) leaves only "start again".
 * @param {{ kind: string, message: string }} m
 */
function showError(m) {
  const { D } = page;
  if (m.kind === 'figure') {
    onFigureError(explain(m, page.C, D));
    return;
  }
  const data = isDataFailure(m);
  const what = explain(m, page.C, D) + (data ? ` The kernels above work without ${D.name}.` : '');
  // The controls as they were before: nothing waits for an answer.
  setPlaying(false);
  forgetPending();
  if (data) {
    state.dataError = what;
    enableControls(false);
  }
  if (m.kind === 'panic' || m.kind === 'memory') {
    state.stopped = true;
    enableControls(false);
    /** @type {HTMLButtonElement} */ ($('restart')).disabled = false;
  }
  const ids = data ? ['load-status', 'data-status'] : ['train-status'];
  for (const id of ids) {
    $(id).textContent = what;
    $(id).classList.add('error');
  }
  announce(what);
}

/** @param {import('./messages.js').Ready} m */
function onReady(m) {
  const { D } = page;
  state.ready = true;
  state.stopped = false;
  state.threads = m.threads;
  const on = m.threads > 1 ? ` Training on ${m.threads} threads.` : ' Training on one thread.';
  $('load-status').textContent = `Ready: ${m.train} training and ${m.test} test images.${on}`;
  if (m.threads === 1 && threads > 1) {
    const why = oneThread({
      secure: window.isSecureContext, isolated: window.crossOriginIsolated, error: m.threadsError,
    });
    if (why) $('load-status').textContent += ` ${why}`;
  }
  $('data-status').textContent = `${D.name}: ${m.train} training and ${m.test} test images, from ${m.source}.`;
  enableControls(true);
  keepPage(m.build);
  restart();
}

/** @type {Record<string, (m: any) => void>} */
const ON_MESSAGE = {
  [TO_PAGE.progress]: (m) => {
    const { D } = page;
    const size = m.total ? ` ${(m.loaded / 1e6).toFixed(1)} of ${(m.total / 1e6).toFixed(1)} MB` : '';
    $('load-status').textContent = m.label === 'decoding'
      ? `${D.name} downloaded; decoding it…`
      : `Downloading ${D.name} (${m.label}):${size || ` ${(m.loaded / 1e6).toFixed(1)} MB`}`;
  },
  [TO_PAGE.ready]: onReady,
  [TO_PAGE.update]: onUpdate,
  [TO_PAGE.stepShown]: drawStep,
  // The tests' own predictions have negative ids.
  [TO_PAGE.prediction]: (m) => { if (m.id > 0) onPrediction(m); },
  [TO_PAGE.testDigit]: onTestDigit,
  [TO_PAGE.modelFile]: saveModel,
  [TO_PAGE.error]: showError,
  [TO_PAGE.secondLayer]: onSecondLayer,
  [TO_PAGE.offline]: (m) => showOffline(m.error),
  [TO_PAGE.figure]: onFigure,
};

/** Fetches the data set into the worker (it answers `ready`). */
function load() {
  // `?data=` may be relative to the page, and may name the data set with
  // {dataset} (web/serve.py serves each at data/ID/: ?data=data/{dataset}/).
  const data = params.get('data')?.replaceAll('{dataset}', page.D.id);
  const base = new URL(data || page.D.hub_url, location.href).href.replace(/\/+$/, '');
  send(TO_WORKER.load, { base, format: params.get('format'), threads, dataset: page.D.id });
}

/**
 * "Start again": a new model from the seed; after the crate stopped in the
 * worker (a panic), a fresh worker first, which fetches the data again
 * (from the browser's cache) and then starts the new model.
 */
function startAgain() {
  if (!state.stopped) {
    restart();
    return;
  }
  state.ready = false;
  enableControls(false);
  $('train-status').classList.remove('error');
  $('train-status').textContent = 'starting again…';
  if (replaceWorker()) load();
}

/** For the tests: the model's answer for an exact digit (784 floats), told by a negative id. */
let testPredictions = 0;
/** @param {number[]} pixels */
function predictForTests(pixels) {
  testPredictions -= 1;
  const id = testPredictions;
  return new Promise((resolve) => {
    listenUntil((m) => {
      if ((m.type !== TO_PAGE.prediction && m.type !== TO_PAGE.error) || m.id !== id) return false;
      resolve(m);
      return true;
    });
    send(TO_WORKER.predict, { digit: Float32Array.from(pixels), id });
  });
}

// `pad`: the drawn digit; `panic`: makes the crate panic in the worker, as
// a bug would; `exhaustMemory`: makes it run out of memory; `secondLayer`:
// what the second layer sees over every test image (for the benchmark).
Object.assign(window, {
  faw: { state, limits, predict: predictForTests, pad: padDigit, panic: () => send(TO_WORKER.panic),
    exhaustMemory: () => send(TO_WORKER.exhaustMemory), secondLayer: () => send(TO_WORKER.secondLayer, { all: true }) },
});

// ---- Start: what the browser can run, then the crate -----------------------

async function main() {
  if (typeof WebAssembly !== 'object') return fail(UNSUPPORTED.webassembly);
  if (!WebAssembly.validate(SIMD_PROBE)) return fail(UNSUPPORTED.simd);
  try {
    // The build the worker will train with: the one-thread build where
    // threads cannot share memory here, so that a visitor downloads one.
    page.faw = await import(PKG(window.crossOriginIsolated === true && !memoryUnshareable(), threads));
    await page.faw.default();
  } catch (e) {
    return fail(UNSUPPORTED.pkg(e));
  }
  const { faw } = page;
  const C = faw.constants();
  page.C = C;
  const id = params.get('dataset') || C.datasets[0].id;
  page.D = datasetOf(C, id);
  if (!page.D) return fail(UNKNOWN_DATASET(id, C));
  state.dataset = page.D.id;
  setupDataset();
  const epochs = Array.from(C.post_epochs);
  const listed = `${epochs.slice(0, -1).join(', ')} and ${epochs.at(-1)}`;
  $('post-title').textContent = `The post's figure: the filters after ${listed} epochs`;
  $('post-stops-epochs').textContent = listed;
  page.names = faw.classic_names();
  page.classic = faw.classic_weights();
  setupKernels();
  setupPad();
  setupEditor();
  setupSecondLayer(() => send(TO_WORKER.secondLayer, {}));
  $('load-status').textContent = `Fetching ${page.D.name}…`;
  setupTraining(startAgain);
  setupLink();
  setupFigures();
  readLink();
  setupOffline();
  showOffline();
  const started = startWorker((m) => (ON_MESSAGE[m.type] || (() => {}))(m),
    (why) => showError({ kind: 'worker', message: why }));
  if (!started) return;
  load();
  // The curves and the bars follow the width of the window.
  let resizing = false;
  window.addEventListener('resize', () => {
    if (resizing) return;
    resizing = true;
    requestAnimationFrame(() => {
      resizing = false;
      drawCurves();
      redrawPrediction();
    });
  });
}

main();
