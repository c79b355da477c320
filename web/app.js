// The page: kernels on the main thread, training in a worker (worker.js).
// Everything numeric comes from the crate, compiled to WebAssembly; this
// file draws and wires the controls. `window.faw.state` is what the page
// shows, for the tests.
import {
  datasetOf, explain, isDataFailure, memoryUnshareable, oneThread, PKG, SIMD_PROBE, TO_PAGE, TO_WORKER, UNKNOWN_DATASET,
  UNSUPPORTED,
} from './messages.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

// History kept for the slider and the curves: past these counts, older
// entries are thinned out (every other one goes, or two losses become their
// mean), so that a long run stays in bounded memory.
const limits = { snapshots: 400, losses: 4000, accuracies: 1000 };

// `losses`, `lossEvery`, `pending` and `accuracy` are the learned model's
// curves; `hand` holds the same for the hand-chosen model, when it trains
// beside it. `frozen`: the frozen filters' indices.
const state = {
  ready: false, kernelOutput: null, step: 0, losses: [], lossEvery: 1, pending: [], accuracy: [],
  snapshots: [], postEpochs: {}, filters: null, prediction: null, logits: null, maps: null,
  stepShown: null, imagesPerSecond: 0, trainMs: 0, dataError: null, firstTrainedDrawAt: null,
  threads: null, modelFile: null, startError: null, frozen: [], hand: null, dataset: null,
  editing: null,
};
window.faw = { state, limits };

let faw = null;   // the crate's module
let C = null;     // its constants()
let D = null;     // the data set trained on (one of C.datasets), from ?dataset=
// All the cores, unless ?threads=N says otherwise (the tests compare 1 and 2).
const threads = Math.max(1, Math.floor(Number(params.get('threads'))) || navigator.hardwareConcurrency || 1);

// Tells the visitor, in the status line, why the page cannot go on.
function fail(text) {
  state.startError = text;
  state.dataError = text;
  for (const id of ['load-status', 'data-status']) {
    $(id).textContent = text;
    $(id).classList.add('error');
  }
}

function largestAbs(values) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

// `values` (w × h) as cells on the notebooks' diverging colours (the crate's).
function drawCells(canvas, values, w, h, scale) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  img.data.set(faw.diverging_rgba(Float32Array.from(values), scale));
  ctx.putImageData(img, 0, 0);
}

function drawGray(canvas, w, h, pixels) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) img.data.set([pixels[i], pixels[i], pixels[i], 255], 4 * i);
  ctx.putImageData(img, 0, 0);
  // Small pictures are shown bigger, with square pixels.
  const k = Math.max(1, Math.floor(192 / Math.max(w, h)));
  canvas.style.width = `${w * k}px`;
}

// A canvas for lines and text, as sharp on a high-density screen as on any:
// its pixels are the screen's. It is drawn in the units of its width and
// height in index.html, and shown as wide as its figure allows (up to a
// quarter more than that width, on a projector): on a phone, smaller.
// Returns the context and the size in drawing units.
function sharp(canvas) {
  const w = Number(canvas.dataset.width || (canvas.dataset.width = canvas.width));
  const h = Number(canvas.dataset.height || (canvas.dataset.height = canvas.height));
  const room = canvas.parentElement.clientWidth - 2; // its border
  const css = Math.max(120, Math.floor(Math.min(1.25 * w, room > 0 ? room : w)));
  const scale = css / w;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(css * dpr)) {
    canvas.width = Math.round(css * dpr);
    canvas.height = Math.round(h * scale * dpr);
    canvas.style.width = `${css}px`;
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr * scale, 0, 0, dpr * scale, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, W: w, H: h };
}

// Says `text` to a screen reader, once (the page's one live region).
function announce(text) {
  const region = $('announce');
  region.textContent = '';
  // A new node, so that the same words twice are said twice.
  requestAnimationFrame(() => { region.textContent = text; });
}

// ---- 1. Kernels -----------------------------------------------------------

let names = [];
let classic = [];
let picture = null;
let kernel = [];
const inputs = [];

function setKernel(values) {
  kernel = Array.from(values);
  inputs.forEach((input, i) => { input.value = String(+kernel[i].toFixed(4)); });
  redrawKernel();
}

function redrawKernel() {
  const out = faw.apply_kernel(picture.width, picture.height, picture.pixels, new Float32Array(kernel));
  state.kernelOutput = out;
  drawGray($('kernel-output'), picture.width, picture.height, out);
  $('kernel-caption').textContent = `the kernel's output, ${picture.width}×${picture.height} pixels`;
}

function showPicture(p) {
  picture = p;
  drawGray($('picture'), p.width, p.height, p.pixels);
  redrawKernel();
}

function setupKernels() {
  const select = $('kernel-select');
  names.forEach((n, i) => select.add(new Option(n, String(i))));
  select.add(new Option('your own', 'own'));
  select.value = String(names.indexOf('outline'));
  for (let i = 0; i < 9; i++) {
    const input = document.createElement('input');
    input.type = 'number';
    input.step = 'any';
    input.setAttribute('aria-label', `kernel row ${Math.floor(i / 3) + 1}, column ${(i % 3) + 1}`);
    input.addEventListener('input', () => {
      const v = parseFloat(input.value);
      kernel[i] = Number.isFinite(v) ? v : 0;
      select.value = 'own';
      redrawKernel();
    });
    inputs.push(input);
    $('kernel-grid').append(input);
  }
  select.addEventListener('change', () => {
    if (select.value !== 'own') {
      const k = Number(select.value);
      setKernel(classic.slice(9 * k, 9 * k + 9));
    }
  });
  const k = Number(select.value);
  kernel = Array.from(classic.slice(9 * k, 9 * k + 9));
  inputs.forEach((input, i) => { input.value = String(+kernel[i].toFixed(4)); });
  showPicture(faw.demo_picture());

  $('demo-picture').addEventListener('click', () => showPicture(faw.demo_picture()));
  $('picture-file').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    const error = $('picture-error');
    try {
      showPicture(faw.decode_picture(file.name, new Uint8Array(await file.arrayBuffer())));
      error.hidden = true;
    } catch (err) {
      error.textContent = `${file.name}: ${err.message}`;
      error.hidden = false;
    }
  });
  // A mouse, a pen or a finger on the output; or the arrow keys.
  const output = $('kernel-output');
  const at = (e) => {
    const r = output.getBoundingClientRect();
    showProducts(Math.floor(((e.clientX - r.left) / r.width) * picture.width),
      Math.floor(((e.clientY - r.top) / r.height) * picture.height));
  };
  output.addEventListener('pointermove', at);
  output.addEventListener('pointerdown', at);
  output.addEventListener('keydown', (e) => {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const move = moves[e.key];
    if (!move) return;
    e.preventDefault();
    const step = e.shiftKey ? 10 : 1;
    cursor.x = Math.max(0, Math.min(picture.width - 1, cursor.x + step * move[0]));
    cursor.y = Math.max(0, Math.min(picture.height - 1, cursor.y + step * move[1]));
    announce(showProducts(cursor.x, cursor.y));
  });
  output.addEventListener('focus', () => {
    cursor.x = Math.min(cursor.x, picture.width - 2);
    cursor.y = Math.min(cursor.y, picture.height - 2);
    showProducts(cursor.x, cursor.y);
  });
}

// The pixel the arrow keys move over the kernel's output.
const cursor = { x: 1, y: 1 };

// The nine products at output pixel (x, y), and their sum (setosa's
// hover), shown in the products panel; returns one line to announce.
function showProducts(x, y) {
  const { width: w, height: h, pixels } = picture;
  if (x < 1 || y < 1 || x > w - 2 || y > h - 2) {
    const text = `(${x}, ${y}): the border, where the 3×3 window does not fit: black`;
    $('products').textContent = text;
    return text;
  }
  const lines = [];
  let sum = 0;
  for (let i = 0; i < 3; i++) {
    const cells = [];
    for (let j = 0; j < 3; j++) {
      const p = pixels[(y - 1 + i) * w + (x - 1 + j)];
      const k = kernel[3 * i + j];
      sum += p * k;
      cells.push(`${String(p).padStart(3)}×${String(+k.toFixed(3)).padStart(6)}`);
    }
    lines.push(cells.join('  '));
  }
  const shown = state.kernelOutput[y * w + x];
  lines.push('', `sum ${+sum.toFixed(3)} → pixel ${shown}`, '(truncated, clamped to 0..255)');
  $('products').textContent = `pixel (${x}, ${y}):\n` + lines.join('\n');
  return `pixel ${x}, ${y}: the nine products sum to ${+sum.toFixed(3)}, shown as ${shown}`;
}

// ---- 2. Training ----------------------------------------------------------

let worker = null;
let playing = false;
const send = (type, data = {}, transfer = []) => worker.postMessage({ type, ...data }, transfer);
// The controls that need the data, disabled until it is there (and again
// if it cannot be had).
const TRAINING_CONTROLS = ['play', 'one-batch', 'restart', 'hand-chosen', 'download-model', 'open-model', 'seed',
  'images-per-epoch', 'test-digit'];

function filterCount() { return C.filters; }
function filterSize() { return C.filter_side * C.filter_side; }

// A grid of the filters in `values`, drawn into `grid` (made once; a
// click on cell i calls `onClick(i)`, where given).
function drawFilterGrid(grid, values, scale, cellClass, labels, onClick) {
  const n = filterCount();
  const size = filterSize();
  if (grid.children.length !== n) {
    grid.replaceChildren();
    for (let i = 0; i < n; i++) {
      const cell = document.createElement('div');
      cell.className = cellClass;
      const canvas = document.createElement('canvas');
      canvas.setAttribute('aria-hidden', 'true');
      cell.append(canvas);
      if (labels) cell.append(document.createElement('div'));
      if (onClick) {
        cell.tabIndex = 0;
        cell.setAttribute('role', 'button');
        cell.title = `filter #${i}: click to set, freeze or randomise it`;
        cell.addEventListener('click', () => onClick(i));
        cell.addEventListener('keydown', (e) => {
          if (e.key !== 'Enter' && e.key !== ' ') return;
          e.preventDefault(); // Space would scroll the page
          onClick(i);
        });
      }
      grid.append(cell);
    }
  }
  for (let i = 0; i < n; i++) {
    const [canvas, label] = grid.children[i].children;
    drawCells(canvas, values.slice(size * i, size * (i + 1)), C.filter_side, C.filter_side, scale);
    if (labels) label.textContent = labels(i);
  }
}

// The filters of a snapshot, each labelled with its nearest classic kernel;
// the frozen ones (now) marked. A click on one opens its editor.
function drawFilters(snapshot) {
  const frozen = (i) => state.frozen.includes(i);
  drawFilterGrid($('filters'), snapshot.filters, largestAbs(snapshot.filters), 'filter',
    (i) => `#${i} ${names[snapshot.nearest[2 * i]]} ${snapshot.nearest[2 * i + 1].toFixed(2)}` +
      `${frozen(i) ? ' · frozen' : ''}`, openEditor);
  Array.from($('filters').children).forEach((cell, i) => {
    cell.classList.toggle('frozen', frozen(i));
    cell.classList.toggle('editing', state.editing === i);
    cell.setAttribute('aria-label', `filter ${i}: nearest kernel ${names[snapshot.nearest[2 * i]]}, similarity ` +
      `${snapshot.nearest[2 * i + 1].toFixed(2)}${frozen(i) ? ', frozen' : ''}; set it by hand`);
    cell.setAttribute('aria-pressed', String(state.editing === i));
  });
  const e = snapshot.step / snapshot.stepsPerEpoch;
  const start = state.opened ? `as opened from ${state.opened}` : 'at initialisation (random)';
  $('snapshot-label').textContent = snapshot.step === 0
    ? start
    : `after ${snapshot.step} batches (epoch ${e.toFixed(2)})${state.opened ? `, from ${state.opened}` : ''}`;
}

function drawPostFigure() {
  const fig = $('post-figure');
  const epochs = Object.keys(state.postEpochs).map(Number).sort((a, b) => a - b);
  const scale = largestAbs(epochs.flatMap((e) => Array.from(state.postEpochs[e])));
  fig.replaceChildren();
  for (const e of epochs) {
    const figure = document.createElement('figure');
    const grid = document.createElement('div');
    grid.className = 'post-grid';
    drawFilterGrid(grid, state.postEpochs[e], scale, 'cell');
    const cap = document.createElement('figcaption');
    cap.textContent = `after ${e} epoch${e > 1 ? 's' : ''}`;
    grid.setAttribute('role', 'img');
    grid.setAttribute('aria-label', `the 32 filters ${cap.textContent}`);
    figure.append(grid, cap);
    fig.append(figure);
  }
}

// One batch's step, as the notebooks show it: the filters before, the
// gradient, Adadelta's update and the filters after (before and after on
// one scale, the gradient and the update each on its own).
function drawStep(s) {
  state.stepShown = s;
  const scale = largestAbs([...s.before, ...s.after]);
  const panels = [
    ['before', s.before, scale], ['gradient', s.gradient, largestAbs(s.gradient)],
    ['update', s.update, largestAbs(s.update)], ['after', s.after, scale],
  ];
  const fig = $('step-figure');
  fig.replaceChildren();
  for (const [name, values, k] of panels) {
    const figure = document.createElement('figure');
    const grid = document.createElement('div');
    grid.className = 'post-grid';
    drawFilterGrid(grid, values, k, 'cell');
    const cap = document.createElement('figcaption');
    cap.textContent = `${name} (largest ${k.toPrecision(2)})`;
    grid.setAttribute('role', 'img');
    grid.setAttribute('aria-label', `the 32 filters' ${name}, largest ${k.toPrecision(2)}`);
    figure.append(grid, cap);
    fig.append(figure);
  }
  $('step-note').textContent = `The last batch's step: loss ${s.loss.toFixed(4)}. Each weight moved ` +
    'against its gradient, by Adadelta\'s step for that weight.';
}

function drawCurves() {
  const { ctx, W, H } = sharp($('curves'));
  const pad = 34;
  ctx.strokeStyle = '#999';
  ctx.strokeRect(pad, 8, W - pad - 8, H - pad - 8);
  const n = state.losses.length;
  const batches = state.step;
  ctx.fillStyle = '#333';
  ctx.font = '11px sans-serif';
  ctx.fillText(`batches: ${batches}`, pad, H - 8);
  const accuracy = state.accuracy.at(-1);
  $('curves').setAttribute('aria-label', n
    ? `the curves after ${batches} batches: the last batch's loss ${state.losses.at(-1).toFixed(3)}` +
      (accuracy ? `, test accuracy ${(100 * accuracy[1]).toFixed(1)}%` : '')
    : 'the loss and accuracy curves: nothing trained yet');
  if (!n) return;
  const maxLoss = Math.max(2.5, ...state.losses.slice(0, 5));
  const x = (batch) => pad + ((W - pad - 8) * batch) / Math.max(1, batches - 1);
  const yLoss = (v) => 8 + (H - pad - 8) * (1 - Math.min(v, maxLoss) / maxLoss);
  const line = (points, colour) => {
    ctx.strokeStyle = colour;
    ctx.beginPath();
    points.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
    ctx.stroke();
  };
  // Each kept loss stands for `lossEvery` batches (their mean); the
  // running mean over about 20 batches is drawn over them.
  const smooth = (series, colour) => {
    const at = (i) => x(i * series.lossEvery + (series.lossEvery - 1) / 2);
    let mean = series.losses[0];
    const k = Math.min(1, 0.05 * series.lossEvery);
    line(series.losses.map((v, i) => { mean = (1 - k) * mean + k * v; return [at(i), yLoss(mean)]; }), colour);
  };
  const at = (i) => x(i * state.lossEvery + (state.lossEvery - 1) / 2);
  line(state.losses.map((v, i) => [at(i), yLoss(v)]), '#bbb');
  if (state.hand?.losses.length) smooth(state.hand, HAND_COLOUR);
  smooth(state, '#000');
  ctx.fillText(`loss 0–${maxLoss.toFixed(1)}`, 2, 16);
  const yAcc = (a) => 8 + (H - pad - 8) * (1 - a);
  const accuracies = [[state.accuracy, '#2166ac', 'learned', 22]];
  if (state.hand) accuracies.push([state.hand.accuracy, HAND_COLOUR, 'hand-chosen, frozen', 38]);
  for (const [points, colour, label, y] of accuracies) {
    if (!points.length) continue;
    line(points.map(([s, a]) => [x(s - 1), yAcc(a)]), colour);
    ctx.fillStyle = colour;
    const name = state.hand ? `${label}: ` : '';
    ctx.fillText(`${name}test accuracy ${(100 * points.at(-1)[1]).toFixed(1)}%`, W - 230, y);
  }
}

// The hand-chosen model's curves, beside the learned one's blue and black.
const HAND_COLOUR = '#e08214';

// Keeps every other entry of `list` but the first and the last.
function thin(list) {
  return list.filter((_, i) => i === 0 || i === list.length - 1 || i % 2 === 0);
}

// Adds batches' losses to `series` (the learned model's: `state`, or the
// hand-chosen one's); past limits.losses, pairs of old ones become their mean.
function addLosses(series, losses) {
  for (const v of losses) {
    series.pending.push(v);
    if (series.pending.length < series.lossEvery) continue;
    series.losses.push(series.pending.reduce((a, b) => a + b, 0) / series.pending.length);
    series.pending = [];
    if (series.losses.length > limits.losses) {
      const merged = [];
      for (let i = 0; i + 1 < series.losses.length; i += 2) merged.push((series.losses[i] + series.losses[i + 1]) / 2);
      series.losses = merged;
      series.lossEvery *= 2;
    }
  }
}

// A test accuracy after batch `step`, kept within limits.accuracies.
function addAccuracy(series, step, accuracy) {
  series.accuracy.push([step, accuracy]);
  if (series.accuracy.length > limits.accuracies) series.accuracy = thin(series.accuracy);
}

const newCurves = () => ({ losses: [], lossEvery: 1, pending: [], accuracy: [] });

function setPlaying(on) {
  playing = on;
  $('play').textContent = playing ? '❚❚ pause' : '▶ train';
}

function restart() {
  send(TO_WORKER.pause);
  setPlaying(false);
  const handChosen = $('hand-chosen').checked;
  Object.assign(state, {
    step: 0, ...newCurves(), snapshots: [], postEpochs: {}, trainMs: 0, frozen: [],
    hand: handChosen ? newCurves() : null, opened: null,
  });
  drawPostFigure();
  closeEditor();
  const seed = Math.max(0, Math.floor(Number($('seed').value) || 0));
  const trainImages = Number($('images-per-epoch').value);
  send(TO_WORKER.reset, { seed, trainImages, handChosen });
}

function onUpdate(m) {
  if (m.opened) {
    // A model opened from a file: a new history (the hand-chosen model
    // beside, if on, starts again with it).
    Object.assign(state, {
      ...newCurves(), snapshots: [], postEpochs: {}, hand: state.hand && newCurves(), opened: m.opened,
    });
    drawPostFigure();
  }
  state.step = m.step;
  state.epochsDone = m.epochsDone;
  state.filters = m.filters;
  state.frozen = Array.from(m.frozen);
  state.workerMemory = m.memoryBytes;
  state.imagesPerSecond = m.imagesPerSecond;
  state.trainMs += m.trainMs;
  addLosses(state, m.losses);
  if (m.testAccuracy !== undefined && m.step > 0) addAccuracy(state, m.step, m.testAccuracy);
  if (m.hand && state.hand) {
    addLosses(state.hand, m.hand.losses);
    if (m.hand.testAccuracy !== undefined && m.step > 0) addAccuracy(state.hand, m.step, m.hand.testAccuracy);
  }
  const snapshot = { step: m.step, stepsPerEpoch: m.stepsPerEpoch, filters: m.filters, nearest: m.nearest };
  const slider = $('snapshot');
  const following = Number(slider.value) >= Number(slider.max) - 1 || state.snapshots.length === 0;
  state.snapshots.push(snapshot);
  if (state.snapshots.length > limits.snapshots) state.snapshots = thin(state.snapshots);
  if (m.epochEnded) {
    const accuracy = m.testAccuracy === undefined ? '' : `: test accuracy ${(100 * m.testAccuracy).toFixed(1)}%`;
    announce(`epoch ${m.epochsDone} done${accuracy}`);
  }
  if (m.epochEnded && C.post_epochs.includes(m.epochsDone)) {
    state.postEpochs[m.epochsDone] = m.filters;
    drawPostFigure();
  }
  slider.max = String(state.snapshots.length - 1);
  if (following) {
    slider.value = slider.max;
    drawFilters(snapshot);
    if (m.step > 0 && state.firstTrainedDrawAt === null) state.firstTrainedDrawAt = performance.now();
  }
  drawCurves();
  if (state.editing !== null) fillEditor();
  const rate = m.imagesPerSecond ? `, ${Math.round(m.imagesPerSecond)} images/s` : '';
  const status = $('train-status');
  status.classList.remove('error');
  status.textContent = `step ${m.step}, epoch ${(m.step / m.stepsPerEpoch).toFixed(2)}${rate}`;
  requestPrediction();
}

// The model as a file the visitor keeps: `filters-are-weights analyze` reads it.
function saveModel(bytes) {
  state.modelFile = { bytes: bytes.length, filters: state.filters };
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'model.safetensors';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function showError(m) {
  const data = isDataFailure(m);
  const what = explain(m, C, D) + (data ? ` The kernels above work without ${D.name}.` : '');
  // The controls as they were before: nothing waits for an answer.
  setPlaying(false);
  predictionPending = false;
  if (data) {
    state.dataError = what;
    for (const id of TRAINING_CONTROLS) $(id).disabled = true;
  }
  const ids = data ? ['load-status', 'data-status'] : ['train-status'];
  for (const id of ids) {
    $(id).textContent = what;
    $(id).classList.add('error');
  }
  announce(what);
}

const ON_MESSAGE = {
  [TO_PAGE.progress]: (m) => {
    const size = m.total ? ` ${(m.loaded / 1e6).toFixed(1)} of ${(m.total / 1e6).toFixed(1)} MB` : '';
    $('load-status').textContent = m.label === 'decoding'
      ? `${D.name} downloaded; decoding it…`
      : `Downloading ${D.name} (${m.label}):${size || ` ${(m.loaded / 1e6).toFixed(1)} MB`}`;
  },
  [TO_PAGE.ready]: (m) => {
    state.ready = true;
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
    for (const id of TRAINING_CONTROLS) $(id).disabled = false;
    restart();
  },
  [TO_PAGE.update]: onUpdate,
  [TO_PAGE.stepShown]: drawStep,
  [TO_PAGE.prediction]: (m) => { if (m.id > 0) onPrediction(m); },
  [TO_PAGE.testDigit]: onTestDigit,
  [TO_PAGE.modelFile]: (m) => saveModel(m.bytes),
  [TO_PAGE.error]: showError,
};

function setupTraining() {
  $('play').addEventListener('click', () => {
    setPlaying(!playing);
    send(playing ? TO_WORKER.play : TO_WORKER.pause);
  });
  $('one-batch').addEventListener('click', () => send(TO_WORKER.step, { n: 1, show: true }));
  $('restart').addEventListener('click', restart);
  $('hand-chosen').addEventListener('change', restart);
  setupEditor();
  $('seed').addEventListener('change', restart);
  $('images-per-epoch').addEventListener('change', restart);
  $('snapshot').addEventListener('input', (e) => drawFilters(state.snapshots[Number(e.target.value)]));
  $('download-model').addEventListener('click', () => send(TO_WORKER.model));
  $('open-model').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    setPlaying(false);
    const bytes = new Uint8Array(await file.arrayBuffer());
    send(TO_WORKER.openModel, { name: file.name, bytes }, [bytes.buffer]);
    e.target.value = '';
  });
  try {
    worker = new Worker('worker.js', { type: 'module' });
  } catch (e) {
    fail(UNSUPPORTED.worker(e.message));
    return;
  }
  worker.onmessage = ({ data: m }) => (ON_MESSAGE[m.type] || (() => {}))(m);
  // A worker that cannot start (its script, its imports) says only this.
  worker.onerror = (e) => {
    e.preventDefault();
    showError({ kind: 'startup', message: UNSUPPORTED.worker(e.message || 'its script failed to load') });
  };
  // `?data=` may be relative to the page (web/serve.py serves the data at data/).
  const base = new URL(params.get('data') || D.hub_url, location.href).href.replace(/\/+$/, '');
  send(TO_WORKER.load, { base, format: params.get('format'), threads, dataset: D.id });
}

// ---- 2b. A filter set by hand ----------------------------------------------

const editorInputs = [];
let randomDraws = 0;
let editorTyping = false;

function openEditor(i) {
  if (!state.ready || !state.filters) return;
  editorTyping = false;
  state.editing = i;
  $('filter-editor').hidden = false;
  fillEditor();
  // Focus goes to the editor, and back to the filter when it closes.
  $('editor-kernel').focus();
  $('snapshot').value = $('snapshot').max;
  drawFilters(state.snapshots.at(-1));
}

function closeEditor() {
  const cell = state.editing === null ? null : $('filters').children[state.editing];
  state.editing = null;
  if (cell && $('filter-editor').contains(document.activeElement)) cell.focus();
  $('filter-editor').hidden = true;
  if (state.snapshots.length) drawFilters(state.snapshots.at(Number($('snapshot').value)) || state.snapshots.at(-1));
}

// The editor shows the model's filter now (not a snapshot's).
function fillEditor() {
  const i = state.editing;
  const values = state.filters.slice(filterSize() * i, filterSize() * (i + 1));
  $('editor-title').textContent = `filter #${i}`;
  // Numbers being typed stay until they are used, or the editor closes.
  if (!editorTyping) editorInputs.forEach((input, j) => { input.value = String(+values[j].toFixed(4)); });
  $('editor-frozen').checked = state.frozen.includes(i);
  $('editor-kernel').value = '';
}

function setupEditor() {
  const select = $('editor-kernel');
  select.add(new Option('a classic kernel…', ''));
  names.forEach((n, k) => select.add(new Option(n, String(k))));
  for (let j = 0; j < 9; j++) {
    const input = document.createElement('input');
    input.type = 'number';
    input.step = 'any';
    input.setAttribute('aria-label', `filter weight row ${Math.floor(j / 3) + 1}, column ${(j % 3) + 1}`);
    input.addEventListener('input', () => { editorTyping = true; });
    editorInputs.push(input);
    $('editor-grid').append(input);
  }
  const index = () => state.editing;
  select.addEventListener('change', () => {
    editorTyping = false;
    if (select.value !== '') send(TO_WORKER.classicFilter, { index: index(), kernel: Number(select.value) });
  });
  $('editor-set').addEventListener('click', () => {
    const values = editorInputs.map((input) => parseFloat(input.value));
    if (values.some((v) => !Number.isFinite(v))) {
      $('editor-note').textContent = 'Each of the nine boxes needs a number.';
      return;
    }
    $('editor-note').textContent = '';
    editorTyping = false;
    send(TO_WORKER.setFilter, { index: index(), values });
  });
  $('editor-random').addEventListener('click', () => {
    // Another draw each time, repeatable from the seed.
    randomDraws += 1;
    editorTyping = false;
    const seed = Math.max(0, Math.floor(Number($('seed').value) || 0)) * 1000 + randomDraws;
    send(TO_WORKER.randomFilter, { index: index(), seed });
  });
  $('editor-frozen').addEventListener('change', (e) => {
    send(TO_WORKER.freeze, { index: index(), frozen: e.target.checked });
  });
  $('editor-close').addEventListener('click', closeEditor);
}

// ---- 3. Draw a digit ------------------------------------------------------

let digit = null;
let predictionPending = false;
// The digit changed while its prediction was on its way: ask again.
let predictAgain = false;
// Predictions asked for, and the last one asked for before the pad was
// cleared: an answer to an older one is not shown.
let predictions = 0;
let clearedAfter = 0;

function drawPad() {
  const side = C.image_side;
  const pixels = Uint8Array.from(digit, (v) => Math.round(255 * v));
  const canvas = $('pad');
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) img.data.set([pixels[i], pixels[i], pixels[i], 255], 4 * i);
  const tmp = new OffscreenCanvas(side, side);
  tmp.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

// A soft round brush, about as wide as an MNIST pen stroke.
function paint(e) {
  const side = C.image_side;
  const r = e.target.getBoundingClientRect();
  const cx = ((e.clientX - r.left) / r.width) * side;
  const cy = ((e.clientY - r.top) / r.height) * side;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      const v = Math.max(0, Math.min(1, 1.6 - d / 1.1));
      digit[side * y + x] = Math.max(digit[side * y + x], v);
    }
  }
  drawPad();
  requestPrediction();
}

function requestPrediction() {
  if (!state.ready || !digit.some((v) => v > 0)) return;
  if (predictionPending) {
    predictAgain = true;
    return;
  }
  predictionPending = true;
  predictAgain = false;
  predictions += 1;
  send(TO_WORKER.predict, { digit: Float32Array.from(digit), id: predictions });
}

// The worker's answer for prediction `m.id`: shown unless the pad was
// cleared since it was asked for; asked again if the digit changed since.
function onPrediction(m) {
  predictionPending = false;
  if (m.id > clearedAfter) drawPrediction(m);
  if (predictAgain) requestPrediction();
}

// Blank bars and maps, for an empty pad.
function clearPrediction() {
  clearedAfter = predictions;
  predictAgain = false;
  Object.assign(state, { prediction: null, logits: null, maps: null, reads: null });
  sharp($('prediction'));
  $('prediction').setAttribute('aria-label', "the model's probabilities: nothing drawn yet");
  for (const canvas of $('maps').children) canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
}

function drawPrediction({ logits, probabilities: p, maps }) {
  lastPrediction = { logits, probabilities: p, maps };
  state.prediction = Array.from(p);
  state.logits = Array.from(logits);
  state.maps = maps;
  const { ctx } = sharp($('prediction'));
  const best = state.prediction.indexOf(Math.max(...state.prediction));
  ctx.font = '13px sans-serif';
  const classes = D.short_class_names;
  // Digits fit under their bars; words are set on a slant.
  const words = classes.some((c) => c.length > 1);
  for (let d = 0; d < p.length; d++) {
    const h = 150 * p[d];
    ctx.fillStyle = d === best ? '#b2182b' : '#2166ac';
    ctx.fillRect(10 + 28 * d, 170 - h, 20, h);
    ctx.fillStyle = '#222';
    if (words) {
      ctx.save();
      ctx.translate(14 + 28 * d, 178);
      ctx.rotate(Math.PI / 5);
      ctx.font = '10px sans-serif';
      ctx.fillText(classes[d], 0, 0);
      ctx.restore();
    } else {
      ctx.fillText(classes[d], 16 + 28 * d, 188);
    }
  }
  const reads = D.class_names[best];
  const says = `it reads ${words ? '' : 'a '}${reads} (${(100 * p[best]).toFixed(0)}%)`;
  ctx.fillText(says, 10, 14);
  $('prediction').setAttribute('aria-label', `the model's probabilities: ${says}`);
  // Said when the answer changes, not at every stroke or step.
  if (reads !== state.reads) announce(says);
  state.reads = reads;
  const grid = $('maps');
  const n = filterCount();
  const side = C.map_side;
  if (grid.children.length !== n) {
    grid.replaceChildren(...Array.from({ length: n }, () => document.createElement('canvas')));
  }
  for (let i = 0; i < n; i++) {
    const map = maps.slice(side * side * i, side * side * (i + 1));
    drawCells(grid.children[i], map, side, side, largestAbs(map));
  }
}

function setupPad() {
  digit = new Float32Array(C.image_side * C.image_side);
  const pad = $('pad');
  let down = false;
  pad.addEventListener('pointerdown', (e) => { down = true; pad.setPointerCapture(e.pointerId); paint(e); });
  pad.addEventListener('pointermove', (e) => { if (down) paint(e); });
  for (const end of ['pointerup', 'pointercancel', 'lostpointercapture']) {
    pad.addEventListener(end, () => { down = false; });
  }
  $('clear-pad').addEventListener('click', () => {
    digit.fill(0);
    drawPad();
    clearPrediction();
  });
  // A digit from the test set, for those who cannot draw one.
  $('test-digit').addEventListener('click', () => {
    testDigits += 1;
    send(TO_WORKER.testDigit, { index: testDigits * 7919 });
  });
  drawPad();
}

let testDigits = 0;
let lastPrediction = null;

// A test digit from the worker, on the pad.
function onTestDigit(m) {
  digit.set(m.digit);
  drawPad();
  state.reads = null;
  $('pad').setAttribute('aria-label', `the drawing pad, showing test ${D.image_noun} ${m.index}, labelled ` +
    `${D.class_names[m.label]}`);
  requestPrediction();
}

// For the tests: the model's answer for an exact digit (784 floats), told
// from the page's own predictions by its id (a negative one).
let testPredictions = 0;
window.faw.predict = (pixels) => new Promise((resolve) => {
  testPredictions -= 1;
  const id = testPredictions;
  const listen = ({ data: m }) => {
    if ((m.type !== TO_PAGE.prediction && m.type !== TO_PAGE.error) || m.id !== id) return;
    worker.removeEventListener('message', listen);
    resolve(m);
  };
  worker.addEventListener('message', listen);
  send(TO_WORKER.predict, { digit: Float32Array.from(pixels), id });
});

// ---- Start: what the browser can run, then the crate -----------------------

async function main() {
  if (typeof WebAssembly !== 'object') return fail(UNSUPPORTED.webassembly);
  if (!WebAssembly.validate(SIMD_PROBE)) return fail(UNSUPPORTED.simd);
  try {
    // The build the worker will train with: the one-thread build where
    // threads cannot share memory here, so that a visitor downloads one.
    faw = await import(PKG(window.crossOriginIsolated === true && !memoryUnshareable(), threads));
    await faw.default();
  } catch (e) {
    return fail(UNSUPPORTED.pkg(e));
  }
  C = faw.constants();
  const id = params.get('dataset') || C.datasets[0].id;
  D = datasetOf(C, id);
  if (!D) return fail(UNKNOWN_DATASET(id, C));
  state.dataset = D.id;
  setupDataset();
  const epochs = Array.from(C.post_epochs);
  $('post-title').textContent = `The post's figure: the filters after ${epochs.slice(0, -1).join(', ')} ` +
    `and ${epochs.at(-1)} epochs`;
  names = faw.classic_names();
  classic = faw.classic_weights();
  setupKernels();
  setupPad();
  $('load-status').textContent = `Fetching ${D.name}…`;
  setupTraining();
  // The curves and the bars follow the width of the window.
  let resizing = false;
  window.addEventListener('resize', () => {
    if (resizing) return;
    resizing = true;
    requestAnimationFrame(() => {
      resizing = false;
      drawCurves();
      if (lastPrediction && state.prediction) drawPrediction(lastPrediction);
      else sharp($('prediction'));
    });
  });
}

// The data set picker, and the words that name what the pictures are.
// Another data set is another page: the same address with ?dataset=.
function setupDataset() {
  const picker = $('dataset');
  for (const d of C.datasets) picker.add(new Option(d.name, d.id));
  picker.value = D.id;
  picker.addEventListener('change', () => {
    const next = new URLSearchParams(location.search);
    next.set('dataset', picker.value);
    location.search = next.toString();
  });
  for (const el of document.querySelectorAll('.dataset-name')) el.textContent = D.name;
  for (const el of document.querySelectorAll('.image-noun')) el.textContent = D.image_noun;
  $('hub-repo').textContent = D.repo;
}

main();
