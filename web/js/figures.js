// 2. Pictures for slides: the crate's own figures (its `viz`, compiled into
// the page), drawn by the training worker from the run now, saved as files:
// the filters with their nearest classic kernels, the post's figure, the
// curves per epoch, one batch's step (PNG), and the filters' evolution over
// the snapshots so far (an animated GIF).
import { TO_WORKER } from '../messages.js';
import { send } from './channel.js';
import { announce, $, filterCount, filterSize } from './page.js';
import { state, thin } from './state.js';

// The most frames the animation has: the slider's snapshots, thinned to
// these (the first and the last kept), so that it stays a few MB.
export const GIF_FRAMES = 120;

// Each button's picture (Session.figure's kinds).
const BUTTONS = { 'save-filters': 'filters', 'save-post': 'post', 'save-curves': 'curves', 'save-step': 'step',
  'save-evolution': 'evolution' };
export const FIGURE_CONTROLS = Object.keys(BUTTONS);

// Pictures asked for: only the answer to the last one is saved.
let asked = 0;

/** @param {string} text */
function say(text) {
  const status = $('figures-status');
  status.textContent = text;
  announce(text);
}

/**
 * Asks the worker for the picture `kind`; the animation gets the slider's
 * snapshots (up to GIF_FRAMES of them).
 * @param {string} kind
 */
function ask(kind) {
  asked += 1;
  $('figures-status').classList.remove('error');
  say(`drawing ${kind === 'evolution' ? 'the animation' : 'the picture'}…`);
  if (kind !== 'evolution') {
    send(TO_WORKER.figure, { id: asked, kind });
    return;
  }
  let shots = state.snapshots;
  while (shots.length > GIF_FRAMES) shots = thin(shots);
  const steps = Uint32Array.from(shots, (s) => s.step);
  const per = filterCount() * filterSize();
  const filters = new Float32Array(shots.length * per);
  shots.forEach((s, i) => filters.set(s.filters, i * per));
  send(TO_WORKER.figure, { id: asked, kind, steps, filters }, [steps.buffer, filters.buffer]);
}

/**
 * The picture asked for last, saved as a file (messages.js' FigureFile).
 * @param {import('../messages.js').FigureFile} m
 */
export function onFigure(m) {
  if (m.id !== asked) return;
  state.figure = { kind: m.kind, name: m.name, bytes: m.bytes.length, inputs: m.inputs };
  const url = URL.createObjectURL(new Blob([m.bytes], { type: m.mime }));
  const a = document.createElement('a');
  a.href = url;
  a.download = m.name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  say(`saved ${m.name} (${Math.round(m.bytes.length / 1024)} KB)`);
}

/**
 * Why a picture could not be drawn, by its buttons.
 * @param {string} text
 */
export function onFigureError(text) {
  $('figures-status').classList.add('error');
  say(text);
}

export function setupFigures() {
  for (const [id, kind] of Object.entries(BUTTONS)) $(id).addEventListener('click', () => ask(kind));
}
