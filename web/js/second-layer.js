// What the second layer sees: each of conv2's 64 channels as the mean of
// the test patches it answers most, drawn at each epoch's end (and when
// asked); a channel chosen shows its top patches, with how strongly it
// answered each, and its weights: a 3×3 filter on each of the first
// layer's 32 maps. The numbers are the crate's (second_layer::top_patches).
import { drawCells, largestAbs } from './draw.js';
import { $, announce, page } from './page.js';
import { state } from './state.js';

/** @typedef {import('../messages.js').SecondLayerSeen} SecondLayerSeen */

/** The channel shown in full. */
let chosen = 0;

/**
 * A patch of 0..1 values, `side` × `side`, as a gray picture.
 * @param {HTMLCanvasElement} canvas
 * @param {ArrayLike<number>} values
 * @param {number} side
 */
function drawPatch(canvas, values, side) {
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, values[i])));
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * `values`' `i`-th run of `n`.
 * @param {ArrayLike<number>} values
 * @param {number} i
 * @param {number} n
 * @returns {number[]}
 */
const part = (values, i, n) => Array.prototype.slice.call(values, i * n, (i + 1) * n);

/**
 * Sets up the section: `ask` asks the worker for the second layer now.
 * @param {() => void} ask
 */
export function setupSecondLayer(ask) {
  $('second-layer-now').addEventListener('click', () => {
    $('second-layer-status').textContent = 'Looking at the test images…';
    ask();
  });
  clearSecondLayer();
}

/** A new run: nothing seen yet. */
export function clearSecondLayer() {
  state.secondLayer = null;
  $('second-layer-grid').replaceChildren();
  $('second-layer-channel').hidden = true;
  $('second-layer-status').textContent = 'Drawn at the end of each epoch, or now with the button.';
}

/**
 * The worker's answer: the second layer of the run now.
 * @param {SecondLayerSeen} m
 */
export function onSecondLayer(m) {
  if (m.run !== state.run) return; // of a run since replaced
  state.secondLayer = m;
  state.workerMemory = m.memoryBytes;
  const noun = page.D.image_noun;
  const when = m.epochsDone > 0 && m.step === m.epochsDone * m.stepsPerEpoch
    ? `after epoch ${m.epochsDone}` : `at step ${m.step}`;
  const text = `The second layer ${when}: each channel's top ${m.k} over ${m.images} test ${noun}s ` +
    `(found in ${(m.ms / 1000).toFixed(1)} s).`;
  $('second-layer-status').textContent = text;
  drawGrid(m);
  drawChannel(m, Math.min(chosen, m.channels - 1));
  if (m.asked) announce(text);
}

/**
 * The channels, each a button showing its mean top patch.
 * @param {SecondLayerSeen} m
 */
function drawGrid(m) {
  const grid = $('second-layer-grid');
  const side = page.C.receptive_field;
  if (grid.children.length !== m.channels) {
    grid.replaceChildren();
    for (let ch = 0; ch < m.channels; ch++) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'channel';
      const canvas = document.createElement('canvas');
      canvas.setAttribute('aria-hidden', 'true');
      const label = document.createElement('span');
      label.textContent = `#${ch}`;
      button.append(canvas, label);
      button.setAttribute('aria-label', `channel ${ch}`);
      button.addEventListener('click', () => {
        if (state.secondLayer) drawChannel(state.secondLayer, ch);
      });
      grid.append(button);
    }
  }
  for (let ch = 0; ch < m.channels; ch++) {
    const button = /** @type {HTMLButtonElement} */ (grid.children[ch]);
    drawPatch(/** @type {HTMLCanvasElement} */ (button.firstElementChild), part(m.mean, ch, side * side), side);
  }
}

/**
 * One channel in full: its top patches and its 32 filters.
 * @param {SecondLayerSeen} m
 * @param {number} ch
 */
function drawChannel(m, ch) {
  chosen = ch;
  const side = page.C.receptive_field;
  const k = page.C.filter_side;
  const maps = m.weights.length / m.channels / (k * k);
  Array.from($('second-layer-grid').children).forEach((b, i) => b.setAttribute('aria-pressed', String(i === ch)));
  $('second-layer-channel').hidden = false;
  $('second-layer-title').textContent = `Channel #${ch}`;
  const top = $('second-layer-top');
  top.replaceChildren();
  const activations = part(m.activations, ch, m.k);
  const sources = part(m.sources, ch, m.k);
  activations.forEach((a, j) => {
    const figure = document.createElement('figure');
    const canvas = document.createElement('canvas');
    drawPatch(canvas, part(m.patches, ch * m.k + j, side * side), side);
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `test ${page.D.image_noun} ${sources[j]}: answer ${a.toFixed(2)}`);
    const caption = document.createElement('figcaption');
    caption.textContent = a.toFixed(2);
    figure.append(canvas, caption);
    top.append(figure);
  });
  const weights = part(m.weights, ch, maps * k * k);
  const scale = largestAbs(weights);
  const grid = $('second-layer-weights');
  grid.replaceChildren();
  for (let i = 0; i < maps; i++) {
    const canvas = document.createElement('canvas');
    drawCells(canvas, part(weights, i, k * k), k, k, scale);
    canvas.title = `on the map of filter #${i}`;
    grid.append(canvas);
  }
  grid.setAttribute('aria-label', `channel ${ch}'s weights: a 3×3 filter on each of the ${maps} maps of the ` +
    `first layer, red positive, blue negative, largest ${scale.toFixed(3)}`);
}
