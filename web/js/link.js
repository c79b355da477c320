// 2. A link to this run: its settings in the page's address (the crate's
// `link` module says what a link holds and reads it), so that whoever opens
// it trains the same run again, bit for bit: the same seed, images an
// epoch, model beside, filters set by hand and frozen at the same batches,
// and, if the link says so, training to one batch and stopping there.
import { announce, $, inputById, page, params, selectById } from './page.js';
import { state } from './state.js';

/** @typedef {import('../dist/pkg/filters_are_weights_web.js').LinkSettings} LinkSettings */

/** The link's query, until the run it starts takes it. */
let pending = /** @type {string | null} */ (null);

/**
 * The note above the training controls: what the link replays, or why it
 * cannot (`error`).
 * @param {string} text
 * @param {boolean} error
 */
function note(text, error) {
  const p = $('link-note');
  p.hidden = false;
  p.textContent = text;
  p.classList.toggle('error', error);
}

/**
 * Reads the run a link holds (the page's address) and sets the controls
 * to it; a link that is malformed or from a newer page is explained, and
 * the page starts plain. Call once the crate runs, before the data loads.
 */
export function readLink() {
  /** @type {LinkSettings | undefined} */
  let s;
  try {
    s = page.faw.read_link(location.search);
  } catch (e) {
    const text = `This link cannot be replayed: ${e.message}. The page starts as it always does ` +
      '(seed 42, every image), without the link\'s settings.';
    note(text, true);
    announce(text);
    state.linkError = text;
    return;
  }
  if (!s) return;
  pending = location.search;
  inputById('seed').value = s.seed;
  const images = selectById('images-per-epoch');
  const n = String(s.train_images || 60000);
  if (![...images.options].some((o) => o.value === n)) images.add(new Option(`${Number(n).toLocaleString('en')} (the link's)`, n));
  images.value = n;
  inputById('hand-chosen').checked = s.hand_chosen;
  inputById('post-stops').checked = s.post_stops;
  const edits = s.edits ? `, ${s.edits} change${s.edits > 1 ? 's' : ''} made to filters by hand` : '';
  const until = s.until ? `; it trains to batch ${s.until} and stops there` : '';
  note(`This page replays a run from its link: seed ${s.seed}, ${s.train_images ? `${s.train_images} images` :
    'every image'} an epoch${s.hand_chosen ? ', the hand-chosen model beside' : ''}${edits}${until}. ` +
    'Start again or change a setting for a run of your own.', false);
}

/**
 * The link's query for the run about to start: the first run after the
 * page opened from a link; null after (a run of the visitor's own).
 * @returns {{ query: string, until: boolean } | null}
 */
export function takeLink() {
  if (pending === null) {
    // A run of the visitor's own: the note of what the link replayed goes
    // (that it could not be replayed stays).
    if (!state.linkError) $('link-note').hidden = true;
    return null;
  }
  const query = pending;
  pending = null;
  return { query, until: /(^|[?&])until=/.test(query) };
}

/**
 * The page's address with `query` (a run's settings), keeping where its
 * data comes from.
 * @param {string} query
 */
export function addressOf(query) {
  const keep = ['data', 'format'].filter((k) => params.has(k))
    .map((k) => `${k}=${encodeURIComponent(params.get(k))}`);
  return `${location.origin}${location.pathname}?${[...keep, query].join('&')}`;
}

/** The link shown, as the update and the "to this batch" box say. */
function showLink() {
  const field = inputById('link');
  const { link } = state;
  if (!link) return;
  const copy = /** @type {HTMLButtonElement} */ ($('copy-link'));
  if (link.error) {
    field.value = '';
    field.placeholder = 'no link for this run';
    $('link-status').textContent = `No link: ${link.error}`;
    copy.disabled = true;
    return;
  }
  copy.disabled = !state.ready || state.stopped;
  field.value = addressOf(inputById('link-until').checked ? link.here : link.query);
  $('link-until-step').textContent = String(state.step);
}

/**
 * An update's link (messages.js' Update: `link`, `linkHere`, `linkError`).
 * @param {import('./state.js').Update} m
 */
export function onLink(m) {
  state.link = { query: m.link, here: m.linkHere, error: m.linkError };
  showLink();
}

/** Copies the link, or selects it for the visitor to copy where the browser will not. */
async function copyLink() {
  const field = inputById('link');
  const status = $('link-status');
  try {
    await navigator.clipboard.writeText(field.value);
    status.textContent = 'Copied: whoever opens it trains this run again, with the same numbers.';
  } catch (e) {
    field.focus();
    field.select();
    status.textContent = 'Selected: copy it yourself (this browser would not let the page copy it: ' +
      `${e instanceof Error ? e.message : String(e)}).`;
  }
  announce(status.textContent);
}

export function setupLink() {
  $('copy-link').addEventListener('click', copyLink);
  $('link-until').addEventListener('change', showLink);
}
