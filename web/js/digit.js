// 3. Draw a digit (or take one from the test set): what the model says
// now, and the digit through each of the 32 filters. One prediction is on
// its way at a time; a stroke drawn meanwhile is read next, and an answer
// asked for before the pad was cleared is not shown.
import { TO_WORKER } from '../messages.js';
import { send } from './channel.js';
import { drawCells, largestAbs, sharp } from './draw.js';
import { announce, $, canvasById, filterCount, page } from './page.js';
import { state } from './state.js';

/** @type {Float32Array} the pad, 28 × 28 values in 0..1 */
let digit = null;
let predictionPending = false;
// The digit changed while its prediction was on its way: ask again.
let predictAgain = false;
// Predictions asked for, and the last one asked for before the pad was
// cleared: an answer to an older one is not shown.
let predictions = 0;
let clearedAfter = 0;
let testDigits = 0;
/** @typedef {{ id: number, logits: Float32Array, probabilities: Float32Array, maps: Float32Array }} Prediction */
/** @type {Prediction} */
let lastPrediction = null;

function drawPad() {
  const side = page.C.image_side;
  const canvas = canvasById('pad');
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const v = Math.round(255 * digit[i]);
    img.data.set([v, v, v, 255], 4 * i);
  }
  const tmp = new OffscreenCanvas(side, side);
  tmp.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

/**
 * A soft round brush, about as wide as an MNIST pen stroke.
 * @param {PointerEvent} e
 */
function paint(e) {
  const side = page.C.image_side;
  const r = canvasById('pad').getBoundingClientRect();
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

/** Asks the worker what the model says of the pad (after a stroke, after each step). */
export function requestPrediction() {
  if (!state.ready || !digit || !digit.some((v) => v > 0)) return;
  if (predictionPending) {
    predictAgain = true;
    return;
  }
  predictionPending = true;
  predictAgain = false;
  predictions += 1;
  send(TO_WORKER.predict, { digit: Float32Array.from(digit), id: predictions });
}

/**
 * The worker's answer for prediction `m.id`: shown unless the pad was
 * cleared since it was asked for; asked again if the digit changed since.
 * @param {Prediction} m
 */
export function onPrediction(m) {
  predictionPending = false;
  if (m.id > clearedAfter) drawPrediction(m);
  if (predictAgain) requestPrediction();
}

/** Nothing waits for an answer any more (the worker failed, or was replaced). */
export function forgetPending() {
  predictionPending = false;
  predictAgain = false;
}

/** Blank bars and maps, for an empty pad. */
function clearPrediction() {
  clearedAfter = predictions;
  predictAgain = false;
  lastPrediction = null;
  Object.assign(state, { prediction: null, logits: null, maps: null, reads: null });
  sharp(canvasById('prediction'));
  $('prediction').setAttribute('aria-label', "the model's probabilities: nothing drawn yet");
  for (const canvas of /** @type {HTMLCollectionOf<HTMLCanvasElement>} */ ($('maps').children)) {
    canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
  }
}

/** @param {Prediction} m */
function drawPrediction(m) {
  const { logits, probabilities: p, maps } = m;
  const { C, D } = page;
  lastPrediction = m;
  state.prediction = Array.from(p);
  state.logits = Array.from(logits);
  state.maps = maps;
  const { ctx } = sharp(canvasById('prediction'));
  const best = state.prediction.indexOf(Math.max(...state.prediction));
  ctx.font = '13px sans-serif';
  const classes = D.short_class_names;
  // Digits fit under their bars; words are set on a slant.
  const words = classes.some((c) => c.length > 1);
  for (let d = 0; d < p.length; d++) {
    const h = 150 * p[d];
    // The crate's diverging colours' two ends: red the answer, blue the rest.
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
    drawCells(/** @type {HTMLCanvasElement} */ (grid.children[i]), map, side, side, largestAbs(map));
  }
}

/** The bars again, at the window's new width. */
export function redrawPrediction() {
  if (lastPrediction && state.prediction) drawPrediction(lastPrediction);
  else sharp(canvasById('prediction'));
}

/**
 * A test digit from the worker, on the pad.
 * @param {{ index: number, digit: Float32Array, label: number }} m
 */
export function onTestDigit(m) {
  digit.set(m.digit);
  drawPad();
  state.reads = null;
  $('pad').setAttribute('aria-label', `the drawing pad, showing test ${page.D.image_noun} ${m.index}, labelled ` +
    `${page.D.class_names[m.label]}`);
  requestPrediction();
}

/** The pad as it is, 784 values in 0..1 (for the tests). */
export const padDigit = () => Array.from(digit);

export function setupPad() {
  digit = new Float32Array(page.C.image_side * page.C.image_side);
  const pad = canvasById('pad');
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
    $('pad').setAttribute('aria-label', 'the drawing pad: draw with a mouse, a pen or a finger');
  });
  // A digit from the test set, for those who cannot draw one.
  $('test-digit').addEventListener('click', () => {
    testDigits += 1;
    send(TO_WORKER.testDigit, { index: testDigits * 7919 });
  });
  drawPad();
}
