// 2. Filters nobody chose: training live. The controls, the 32 filters
// with their nearest classic kernels and the slider over their history, the
// curves, one batch's step, and the post's figure (the filters after 1, 7
// and 15 epochs). The worker trains; this draws what it reports.
import { TO_WORKER } from '../messages.js';
import { send } from './channel.js';
import { requestPrediction } from './digit.js';
import { drawFilterGrid, filterFigure, largestAbs, sharp } from './draw.js';
import { closeEditor, fillEditor, openEditor } from './editor.js';
import { FIGURE_CONTROLS } from './figures.js';
import { onLink, takeLink } from './link.js';
import { announce, $, canvasById, inputById, page, selectById } from './page.js';
import { clearSecondLayer } from './second-layer.js';
import { applyUpdate, newRun, state } from './state.js';

// The controls that need the data, disabled until it is there (and again
// if it cannot be had, or the crate stopped).
export const TRAINING_CONTROLS = ['play', 'one-batch', 'restart', 'hand-chosen', 'download-model', 'open-model',
  'seed', 'images-per-epoch', 'test-digit', 'second-layer-now', 'post-stops', 'copy-link', 'link-until',
  ...FIGURE_CONTROLS];

/** @param {boolean} on */
export function enableControls(on) {
  for (const id of TRAINING_CONTROLS) /** @type {HTMLInputElement} */ ($(id)).disabled = !on;
}

let playing = false;
// Model files asked for: only the answer to the last one is saved.
let downloads = 0;

/** @param {boolean} on */
export function setPlaying(on) {
  playing = on;
  $('play').textContent = playing ? '❚❚ pause' : '▶ train';
}

/** Tells the worker where playing pauses: the post's epochs, or nowhere. */
function sendStops() {
  const epochs = inputById('post-stops').checked ? Array.from(page.C.post_epochs) : [];
  send(TO_WORKER.stops, { epochs });
}

/**
 * A new model from the seed, as the controls say: a new run (the first
 * after the page opened from a link follows the link, and where the link
 * says "train to batch N", trains there at once).
 */
export function restart() {
  send(TO_WORKER.pause);
  sendStops();
  setPlaying(false);
  const handChosen = inputById('hand-chosen').checked;
  const run = newRun(state, handChosen);
  drawPostFigure();
  clearSecondLayer();
  closeEditor();
  // In decimal: a seed may be larger than a JavaScript number holds exactly.
  const typed = inputById('seed').value.trim();
  const seed = /^\d{1,19}$/.test(typed) ? typed : String(Math.max(0, Math.floor(Number(typed) || 0)));
  const trainImages = Number(selectById('images-per-epoch').value);
  const link = takeLink();
  send(TO_WORKER.reset, { run, seed, trainImages, handChosen, link: link?.query ?? null });
  if (link?.until) {
    setPlaying(true);
    send(TO_WORKER.play);
  }
}

/** @param {import('./state.js').Update} m */
export function onUpdate(m) {
  const slider = inputById('snapshot');
  const following = Number(slider.value) >= Number(slider.max) - 1 || state.snapshots.length === 0;
  const changed = applyUpdate(state, m, Array.from(page.C.post_epochs));
  if (!changed) return;
  onLink(m);
  if (m.reachedUntil) {
    setPlaying(false);
    announce(`batch ${m.step}: stopped where the link asks; press train to go on`);
  }
  if (m.opened) {
    drawPostFigure();
    clearSecondLayer();
  }
  if (changed.epochEnded) {
    const accuracy = m.testAccuracy === undefined ? '' : `: test accuracy ${(100 * m.testAccuracy).toFixed(1)}%`;
    // Paused at one of the post's epochs: the worker stopped playing.
    if (m.stoppedAt) setPlaying(false);
    const paused = m.stoppedAt ? '; paused, as asked, at one of the post\'s epochs: press train to go on' : '';
    announce(`epoch ${m.epochsDone} done${accuracy}${paused}`);
  }
  if (changed.postEpoch) drawPostFigure();
  slider.max = String(state.snapshots.length - 1);
  if (following || m.opened) {
    slider.value = slider.max;
    drawFilters(changed.snapshot);
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

/**
 * The filters of a snapshot, each labelled with its nearest classic kernel;
 * the frozen ones (now) marked. A click on one opens its editor.
 * @param {import('./state.js').Snapshot} snapshot
 */
export function drawFilters(snapshot) {
  const { names } = page;
  const frozen = (/** @type {number} */ i) => state.frozen.includes(i);
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

/** The filters at the post's epochs, as training reaches them, on one scale. */
function drawPostFigure() {
  const epochs = Object.keys(state.postEpochs).map(Number).sort((a, b) => a - b);
  const scale = largestAbs(epochs.flatMap((e) => Array.from(state.postEpochs[e])));
  $('post-figure').replaceChildren(...epochs.map((e) => {
    const caption = `after ${e} epoch${e > 1 ? 's' : ''}`;
    return filterFigure(state.postEpochs[e], scale, caption, `the 32 filters ${caption}`);
  }));
}

/**
 * One batch's step, as the notebooks show it: the filters before, the
 * gradient, Adadelta's update and the filters after (before and after on
 * one scale, the gradient and the update each on its own).
 * @param {{ run: number, loss: number, before: Float32Array, gradient: Float32Array, update: Float32Array,
 *   after: Float32Array }} s
 */
export function drawStep(s) {
  if (s.run !== state.run) return;
  state.stepShown = s;
  const scale = largestAbs([...s.before, ...s.after]);
  /** @type {[string, Float32Array, number][]} */
  const panels = [
    ['before', s.before, scale], ['gradient', s.gradient, largestAbs(s.gradient)],
    ['update', s.update, largestAbs(s.update)], ['after', s.after, scale],
  ];
  $('step-figure').replaceChildren(...panels.map(([name, values, k]) => filterFigure(values, k,
    `${name} (largest ${k.toPrecision(2)})`, `the 32 filters' ${name}, largest ${k.toPrecision(2)}`)));
  $('step-note').textContent = `The last batch's step: loss ${s.loss.toFixed(4)}. Each weight moved ` +
    'against its gradient, by Adadelta\'s step for that weight.';
}

/** The losses (each batch's, and their running mean) and the test accuracy. */
export function drawCurves() {
  const canvas = canvasById('curves');
  const { ctx, W, H } = sharp(canvas);
  const learned = page.C.learned_colour;
  const hand = page.C.hand_colour;
  const pad = 34;
  ctx.strokeStyle = '#999';
  ctx.strokeRect(pad, 8, W - pad - 8, H - pad - 8);
  const n = state.losses.length;
  const batches = state.step;
  ctx.fillStyle = '#333';
  ctx.font = '11px sans-serif';
  ctx.fillText(`batches: ${batches}`, pad, H - 8);
  const accuracy = state.accuracy.at(-1);
  canvas.setAttribute('aria-label', n
    ? `the curves after ${batches} batches: the last batch's loss ${state.losses.at(-1).toFixed(3)}` +
      (accuracy ? `, test accuracy ${(100 * accuracy[1]).toFixed(1)}%` : '')
    : 'the loss and accuracy curves: nothing trained yet');
  if (!n) return;
  const maxLoss = Math.max(2.5, ...state.losses.slice(0, 5));
  const x = (/** @type {number} */ batch) => pad + ((W - pad - 8) * batch) / Math.max(1, batches - 1);
  const yLoss = (/** @type {number} */ v) => 8 + (H - pad - 8) * (1 - Math.min(v, maxLoss) / maxLoss);
  const line = (/** @type {[number, number][]} */ points, /** @type {string} */ colour) => {
    ctx.strokeStyle = colour;
    ctx.beginPath();
    points.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
    ctx.stroke();
  };
  // Each kept loss stands for `lossEvery` batches (their mean); the
  // running mean over about 20 batches is drawn over them.
  const smooth = (/** @type {import('./state.js').Curves} */ series, /** @type {string} */ colour) => {
    const at = (/** @type {number} */ i) => x(i * series.lossEvery + (series.lossEvery - 1) / 2);
    let mean = series.losses[0];
    const k = Math.min(1, 0.05 * series.lossEvery);
    line(series.losses.map((v, i) => { mean = (1 - k) * mean + k * v; return [at(i), yLoss(mean)]; }), colour);
  };
  const at = (/** @type {number} */ i) => x(i * state.lossEvery + (state.lossEvery - 1) / 2);
  line(state.losses.map((v, i) => [at(i), yLoss(v)]), '#bbb');
  if (state.hand?.losses.length) smooth(state.hand, hand);
  smooth(state, '#000');
  ctx.fillText(`loss 0–${maxLoss.toFixed(1)}`, 2, 16);
  const yAcc = (/** @type {number} */ a) => 8 + (H - pad - 8) * (1 - a);
  /** @type {[[number, number][], string, string, number][]} */
  const accuracies = [[state.accuracy, learned, 'learned', 22]];
  if (state.hand) accuracies.push([state.hand.accuracy, hand, 'hand-chosen, frozen', 38]);
  for (const [points, colour, label, y] of accuracies) {
    if (!points.length) continue;
    line(points.map(([s, a]) => [x(s - 1), yAcc(a)]), colour);
    ctx.fillStyle = colour;
    const name = state.hand ? `${label}: ` : '';
    ctx.fillText(`${name}test accuracy ${(100 * points.at(-1)[1]).toFixed(1)}%`, W - 230, y);
  }
}

/**
 * The model as a file the visitor keeps (`filters-are-weights analyze`
 * reads it): the answer to the last request only.
 * @param {{ id: number, bytes: Uint8Array<ArrayBuffer> }} m
 */
export function saveModel(m) {
  if (m.id !== downloads) return;
  state.modelFile = { bytes: m.bytes.length, filters: state.filters };
  const url = URL.createObjectURL(new Blob([m.bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'model.safetensors';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** @param {() => void} startAgain what "start again" does (app.js: a fresh worker after a crash) */
export function setupTraining(startAgain) {
  $('play').addEventListener('click', () => {
    setPlaying(!playing);
    send(playing ? TO_WORKER.play : TO_WORKER.pause);
  });
  $('one-batch').addEventListener('click', () => send(TO_WORKER.step, { n: 1, show: true }));
  $('restart').addEventListener('click', startAgain);
  $('hand-chosen').addEventListener('change', restart);
  $('post-stops').addEventListener('change', sendStops);
  $('seed').addEventListener('change', restart);
  $('images-per-epoch').addEventListener('change', restart);
  $('snapshot').addEventListener('input', () => drawFilters(state.snapshots[Number(inputById('snapshot').value)]));
  $('download-model').addEventListener('click', () => {
    downloads += 1;
    send(TO_WORKER.model, { id: downloads });
  });
  const chooser = inputById('open-model');
  chooser.addEventListener('change', async () => {
    const file = chooser.files[0];
    if (!file) return;
    setPlaying(false);
    const bytes = new Uint8Array(await file.arrayBuffer());
    // The next run, once the worker has opened it.
    send(TO_WORKER.openModel, { run: state.run + 1, name: file.name, bytes }, [bytes.buffer]);
    chooser.value = '';
  });
}
