// 2b. A filter set by hand: a classic kernel (scaled to the filter's
// length by the crate), nine numbers typed in, a new random draw, and
// frozen or not. The editor shows the model's filter now (not a snapshot's).
import { TO_WORKER } from '../messages.js';
import { send } from './channel.js';
import { drawFilters } from './training.js';
import { $, filterSize, inputById, page, selectById } from './page.js';
import { state } from './state.js';

/** @type {HTMLInputElement[]} */
const editorInputs = [];
let randomDraws = 0;
// Numbers being typed stay until they are used, or the editor closes.
let typing = false;

/** Opens filter `i`'s editor (once the data is there) and moves focus into it. @param {number} i */
export function openEditor(i) {
  if (!state.ready || !state.filters) return;
  typing = false;
  state.editing = i;
  $('filter-editor').hidden = false;
  fillEditor();
  selectById('editor-kernel').focus();
  const slider = inputById('snapshot');
  slider.value = slider.max;
  drawFilters(state.snapshots.at(-1));
}

/** Closes the editor; focus goes back to the filter it edited. */
export function closeEditor() {
  const cell = state.editing === null ? null : /** @type {HTMLElement} */ ($('filters').children[state.editing]);
  state.editing = null;
  if (cell && $('filter-editor').contains(document.activeElement)) cell.focus();
  $('filter-editor').hidden = true;
  if (state.snapshots.length) {
    drawFilters(state.snapshots.at(Number(inputById('snapshot').value)) || state.snapshots.at(-1));
  }
}

/** The filter being edited, as the model has it now. */
export function fillEditor() {
  const i = state.editing;
  const values = state.filters.slice(filterSize() * i, filterSize() * (i + 1));
  $('editor-title').textContent = `filter #${i}`;
  // A box being typed in (focused, or typed in since the editor opened)
  // keeps what the visitor put there.
  editorInputs.forEach((input, j) => {
    if (!typing && input !== document.activeElement) input.value = String(+values[j].toFixed(4));
  });
  inputById('editor-frozen').checked = state.frozen.includes(i);
  selectById('editor-kernel').value = '';
}

export function setupEditor() {
  const select = selectById('editor-kernel');
  select.add(new Option('a classic kernel…', ''));
  page.names.forEach((n, k) => select.add(new Option(n, String(k))));
  for (let j = 0; j < 9; j++) {
    const input = document.createElement('input');
    input.type = 'number';
    input.step = 'any';
    input.setAttribute('aria-label', `filter weight row ${Math.floor(j / 3) + 1}, column ${(j % 3) + 1}`);
    for (const started of ['beforeinput', 'input']) input.addEventListener(started, () => { typing = true; });
    editorInputs.push(input);
    $('editor-grid').append(input);
  }
  const index = () => state.editing;
  select.addEventListener('change', () => {
    typing = false;
    if (select.value !== '') send(TO_WORKER.classicFilter, { index: index(), kernel: Number(select.value) });
  });
  $('editor-set').addEventListener('click', () => {
    const values = editorInputs.map((input) => parseFloat(input.value));
    if (values.some((v) => !Number.isFinite(v))) {
      $('editor-note').textContent = 'Each of the nine boxes needs a number.';
      return;
    }
    $('editor-note').textContent = '';
    typing = false;
    send(TO_WORKER.setFilter, { index: index(), values });
  });
  $('editor-random').addEventListener('click', () => {
    // Another draw each time, repeatable from the seed.
    randomDraws += 1;
    typing = false;
    const seed = Math.max(0, Math.floor(Number(inputById('seed').value) || 0)) * 1000 + randomDraws;
    send(TO_WORKER.randomFilter, { index: index(), seed });
  });
  const frozen = inputById('editor-frozen');
  frozen.addEventListener('change', () => send(TO_WORKER.freeze, { index: index(), frozen: frozen.checked }));
  $('editor-close').addEventListener('click', closeEditor);
}
