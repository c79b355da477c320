// The page: kernels on the main thread, training in a worker (worker.js).
// Everything numeric comes from the crate, compiled to WebAssembly; this
// file draws and wires the controls. `window.faw.state` is what the page
// shows, for the tests.
import init, * as faw from './pkg/filters_are_weights_web.js';
import { explain, isDataFailure, TO_PAGE, TO_WORKER } from './messages.js';

const $ = (id) => document.getElementById(id);
const HUB = 'https://huggingface.co/datasets/ylecun/mnist/resolve/refs%2Fconvert%2Fparquet';
const params = new URLSearchParams(location.search);
// `?data=` may be relative to the page (web/serve.py serves MNIST at data/).
const base = new URL(params.get('data') || HUB, location.href).href.replace(/\/+$/, '');
const format = params.get('format'); // 'idx' or 'parquet'; else found out

const state = {
  ready: false, kernelOutput: null, step: 0, losses: [], accuracy: [],
  snapshots: [], postEpochs: {}, filters: null, prediction: null, maps: null,
  imagesPerSecond: 0, trainMs: 0, dataError: null, firstTrainedDrawAt: null,
};
window.faw = { state };

// The notebooks' diverging colours: white 0, red positive, blue negative.
function diverging(v, scale) {
  const t = scale > 0 ? Math.max(-1, Math.min(1, v / scale)) : 0;
  const end = t >= 0 ? [178, 24, 43] : [33, 102, 172];
  const a = Math.abs(t);
  return end.map((e) => Math.round(255 + (e - 255) * a));
}

function largestAbs(values) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

function drawCells(canvas, values, w, h, scale) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = diverging(values[i], scale);
    img.data.set([r, g, b, 255], 4 * i);
  }
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
  canvas.style.height = `${h * k}px`;
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
  $('kernel-output').addEventListener('mousemove', showProducts);
}

// The nine products under the mouse, and their sum (setosa's hover).
function showProducts(e) {
  const canvas = e.target;
  const r = canvas.getBoundingClientRect();
  const x = Math.floor(((e.clientX - r.left) / r.width) * picture.width);
  const y = Math.floor(((e.clientY - r.top) / r.height) * picture.height);
  const { width: w, height: h, pixels } = picture;
  if (x < 1 || y < 1 || x > w - 2 || y > h - 2) {
    $('products').textContent = `(${x}, ${y}): the border, where the 3×3 window does not fit: black`;
    return;
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
}

// ---- 2. Training ----------------------------------------------------------

const worker = new Worker('worker.js', { type: 'module' });
let playing = false;

function filterScale(filters) {
  return largestAbs(filters);
}

// The 32 filters of a snapshot, each labelled with its nearest classic kernel.
function drawFilters(snapshot) {
  const grid = $('filters');
  if (grid.children.length !== 32) {
    grid.replaceChildren();
    for (let i = 0; i < 32; i++) {
      const cell = document.createElement('div');
      cell.className = 'filter';
      cell.append(document.createElement('canvas'), document.createElement('div'));
      grid.append(cell);
    }
  }
  const scale = filterScale(snapshot.filters);
  for (let i = 0; i < 32; i++) {
    const [canvas, label] = grid.children[i].children;
    drawCells(canvas, snapshot.filters.slice(9 * i, 9 * i + 9), 3, 3, scale);
    const k = names[snapshot.nearest[2 * i]];
    label.textContent = `#${i} ${k} ${snapshot.nearest[2 * i + 1].toFixed(2)}`;
  }
  const e = snapshot.step / snapshot.stepsPerEpoch;
  $('snapshot-label').textContent = snapshot.step === 0
    ? 'at initialisation (random)'
    : `after ${snapshot.step} batches (epoch ${e.toFixed(2)})`;
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
    for (let i = 0; i < 32; i++) {
      const c = document.createElement('canvas');
      drawCells(c, state.postEpochs[e].slice(9 * i, 9 * i + 9), 3, 3, scale);
      grid.append(c);
    }
    const cap = document.createElement('figcaption');
    cap.textContent = `after ${e} epoch${e > 1 ? 's' : ''}`;
    figure.append(grid, cap);
    fig.append(figure);
  }
}

function drawCurves() {
  const canvas = $('curves');
  const ctx = canvas.getContext('2d');
  const { width: W, height: H } = canvas;
  const pad = 34;
  ctx.clearRect(0, 0, W, H);
  ctx.strokeStyle = '#999';
  ctx.strokeRect(pad, 8, W - pad - 8, H - pad - 8);
  const n = state.losses.length;
  ctx.fillStyle = '#333';
  ctx.font = '11px sans-serif';
  ctx.fillText(`batches: ${n}`, pad, H - 8);
  if (!n) return;
  const maxLoss = Math.max(2.5, ...state.losses.slice(0, 5));
  const x = (i) => pad + ((W - pad - 8) * i) / Math.max(1, n - 1);
  const yLoss = (v) => 8 + (H - pad - 8) * (1 - Math.min(v, maxLoss) / maxLoss);
  const line = (points, colour) => {
    ctx.strokeStyle = colour;
    ctx.beginPath();
    points.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
    ctx.stroke();
  };
  line(state.losses.map((v, i) => [x(i), yLoss(v)]), '#bbb');
  let mean = state.losses[0];
  line(state.losses.map((v, i) => { mean = 0.95 * mean + 0.05 * v; return [x(i), yLoss(mean)]; }), '#000');
  ctx.fillText(`loss 0–${maxLoss.toFixed(1)}`, 2, 16);
  if (state.accuracy.length) {
    const yAcc = (a) => 8 + (H - pad - 8) * (1 - a);
    line(state.accuracy.map(([s, a]) => [x(s - 1), yAcc(a)]), '#2166ac');
    const last = state.accuracy.at(-1)[1];
    ctx.fillStyle = '#2166ac';
    ctx.fillText(`test accuracy ${(100 * last).toFixed(1)}%`, W - 150, 22);
  }
}

function restart() {
  worker.postMessage({ type: TO_WORKER.pause });
  playing = false;
  $('play').textContent = '▶ train';
  Object.assign(state, { step: 0, losses: [], accuracy: [], snapshots: [], postEpochs: {}, trainMs: 0 });
  drawPostFigure();
  const seed = Math.max(0, Math.floor(Number($('seed').value) || 0));
  const trainImages = Number($('images-per-epoch').value);
  worker.postMessage({ type: TO_WORKER.reset, seed, trainImages });
}

function onUpdate(m) {
  state.step = m.step;
  state.filters = m.filters;
  state.imagesPerSecond = m.imagesPerSecond;
  state.trainMs += m.trainMs;
  state.losses.push(...m.losses);
  if (m.testAccuracy !== undefined && m.step > 0) state.accuracy.push([m.step, m.testAccuracy]);
  const snapshot = { step: m.step, stepsPerEpoch: m.stepsPerEpoch, filters: m.filters, nearest: m.nearest };
  state.snapshots.push(snapshot);
  if (m.epochEnded && [1, 7, 15].includes(m.epochsDone)) {
    state.postEpochs[m.epochsDone] = m.filters;
    drawPostFigure();
  }
  const slider = $('snapshot');
  const following = Number(slider.value) >= Number(slider.max) - 1 || state.snapshots.length === 1;
  slider.max = String(state.snapshots.length - 1);
  if (following) {
    slider.value = slider.max;
    drawFilters(snapshot);
    if (m.step > 0 && state.firstTrainedDrawAt === null) state.firstTrainedDrawAt = performance.now();
  }
  drawCurves();
  const rate = m.imagesPerSecond ? `, ${Math.round(m.imagesPerSecond)} images/s` : '';
  $('train-status').textContent = `step ${m.step}, epoch ${(m.step / m.stepsPerEpoch).toFixed(2)}${rate}`;
  requestPrediction();
}

function setupTraining() {
  $('play').addEventListener('click', () => {
    playing = !playing;
    worker.postMessage({ type: playing ? TO_WORKER.play : TO_WORKER.pause });
    $('play').textContent = playing ? '❚❚ pause' : '▶ train';
  });
  $('one-batch').addEventListener('click', () => worker.postMessage({ type: TO_WORKER.step, n: 1 }));
  $('restart').addEventListener('click', restart);
  $('seed').addEventListener('change', restart);
  $('images-per-epoch').addEventListener('change', restart);
  $('snapshot').addEventListener('input', (e) => drawFilters(state.snapshots[Number(e.target.value)]));
  worker.onmessage = ({ data: m }) => {
    if (m.type === TO_PAGE.progress) {
      const size = m.total ? ` ${(m.loaded / 1e6).toFixed(1)} of ${(m.total / 1e6).toFixed(1)} MB` : '';
      $('load-status').textContent = m.label === 'decoding'
        ? 'MNIST downloaded; decoding it…'
        : `Downloading MNIST (${m.label}):${size || ` ${(m.loaded / 1e6).toFixed(1)} MB`}`;
    } else if (m.type === TO_PAGE.ready) {
      state.ready = true;
      $('load-status').textContent = `Ready: ${m.train} training and ${m.test} test images.`;
      $('data-status').textContent = `MNIST: ${m.train} training and ${m.test} test images, from ${m.source}.`;
      for (const id of ['play', 'one-batch', 'restart']) $(id).disabled = false;
      restart();
    } else if (m.type === TO_PAGE.update) {
      onUpdate(m);
    } else if (m.type === TO_PAGE.prediction) {
      drawPrediction(m.probabilities, m.maps);
    } else if (m.type === TO_PAGE.error) {
      showError(m);
    }
  };
  worker.onerror = (e) => showError({ kind: 'internal', message: e.message || 'the worker failed to start' });
  worker.postMessage({ type: TO_WORKER.load, base, format });
}

function showError(m) {
  const data = isDataFailure(m);
  const what = explain(m) + (data ? ' The kernels above work without MNIST.' : '');
  state.dataError = what;
  const ids = data ? ['load-status', 'data-status'] : ['train-status'];
  for (const id of ids) {
    $(id).textContent = what;
    $(id).classList.add('error');
  }
}

// ---- 3. Draw a digit ------------------------------------------------------

const digit = new Float32Array(28 * 28);
let predictionPending = false;

function drawPad() {
  const pixels = Uint8Array.from(digit, (v) => Math.round(255 * v));
  const canvas = $('pad');
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) img.data.set([pixels[i], pixels[i], pixels[i], 255], 4 * i);
  const tmp = new OffscreenCanvas(28, 28);
  tmp.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

// A soft round brush, about as wide as an MNIST pen stroke.
function paint(e) {
  const r = e.target.getBoundingClientRect();
  const cx = ((e.clientX - r.left) / r.width) * 28;
  const cy = ((e.clientY - r.top) / r.height) * 28;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      const v = Math.max(0, Math.min(1, 1.6 - d / 1.1));
      digit[28 * y + x] = Math.max(digit[28 * y + x], v);
    }
  }
  drawPad();
  requestPrediction();
}

function requestPrediction() {
  if (predictionPending || !state.ready || !digit.some((v) => v > 0)) return;
  predictionPending = true;
  worker.postMessage({ type: TO_WORKER.predict, digit: Float32Array.from(digit) });
}

function drawPrediction(p, maps) {
  predictionPending = false;
  state.prediction = Array.from(p);
  state.maps = maps;
  const canvas = $('prediction');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const best = state.prediction.indexOf(Math.max(...state.prediction));
  for (let d = 0; d < 10; d++) {
    const h = 150 * p[d];
    ctx.fillStyle = d === best ? '#b2182b' : '#2166ac';
    ctx.fillRect(10 + 28 * d, 170 - h, 20, h);
    ctx.fillStyle = '#222';
    ctx.font = '13px sans-serif';
    ctx.fillText(String(d), 16 + 28 * d, 188);
  }
  ctx.fillText(`it reads a ${best} (${(100 * p[best]).toFixed(0)}%)`, 10, 14);
  const grid = $('maps');
  if (grid.children.length !== 32) {
    grid.replaceChildren(...Array.from({ length: 32 }, () => document.createElement('canvas')));
  }
  for (let i = 0; i < 32; i++) {
    const map = maps.slice(676 * i, 676 * (i + 1));
    drawCells(grid.children[i], map, 26, 26, largestAbs(map));
  }
}

function setupPad() {
  const pad = $('pad');
  let down = false;
  pad.addEventListener('pointerdown', (e) => { down = true; pad.setPointerCapture(e.pointerId); paint(e); });
  pad.addEventListener('pointermove', (e) => { if (down) paint(e); });
  pad.addEventListener('pointerup', () => { down = false; });
  $('clear-pad').addEventListener('click', () => {
    digit.fill(0);
    drawPad();
    state.prediction = null;
  });
  drawPad();
}

await init();
names = faw.classic_names();
classic = faw.classic_weights();
setupKernels();
setupPad();
setupTraining();
$('load-status').textContent = 'Fetching MNIST…';
