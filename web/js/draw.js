// Drawing: numbers as the crate's colours, pictures as gray levels, lines
// and text sharp at any pixel density and width, grids of filters.
import { filterCount, filterSize, page } from './page.js';

/** @param {Iterable<number>} values */
export function largestAbs(values) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

/**
 * `values` (w × h) as cells on the notebooks' diverging colours (the crate's).
 * @param {HTMLCanvasElement} canvas
 * @param {ArrayLike<number>} values
 * @param {number} w
 * @param {number} h
 * @param {number} scale
 */
export function drawCells(canvas, values, w, h, scale) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  img.data.set(page.faw.diverging_rgba(Float32Array.from(values), scale));
  ctx.putImageData(img, 0, 0);
}

/**
 * A gray picture, w × h bytes; small ones shown bigger, with square pixels.
 * @param {HTMLCanvasElement} canvas
 * @param {number} w
 * @param {number} h
 * @param {ArrayLike<number>} pixels
 */
export function drawGray(canvas, w, h, pixels) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) img.data.set([pixels[i], pixels[i], pixels[i], 255], 4 * i);
  ctx.putImageData(img, 0, 0);
  const k = Math.max(1, Math.floor(192 / Math.max(w, h)));
  canvas.style.width = `${w * k}px`;
}

/**
 * A canvas for lines and text, as sharp on a high-density screen as on any:
 * its pixels are the screen's. It is drawn in the units of its width and
 * height in index.html, and shown as wide as its figure allows (up to a
 * quarter more than that width, on a projector): on a phone, smaller.
 * Returns the context and the size in drawing units.
 * @param {HTMLCanvasElement} canvas
 */
export function sharp(canvas) {
  const w = Number(canvas.dataset.width || (canvas.dataset.width = String(canvas.width)));
  const h = Number(canvas.dataset.height || (canvas.dataset.height = String(canvas.height)));
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

/**
 * A grid of the filters in `values`, drawn into `grid` (its cells made
 * once): each cell labelled by `labels(i)` where given; where `onClick` is
 * given, each cell is a button that calls `onClick(i)` (click, Enter, Space).
 * @param {HTMLElement} grid
 * @param {ArrayLike<number>} values
 * @param {number} scale
 * @param {string} cellClass
 * @param {(i: number) => string} [labels]
 * @param {(i: number) => void} [onClick]
 */
export function drawFilterGrid(grid, values, scale, cellClass, labels, onClick) {
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
  const side = page.C.filter_side;
  for (let i = 0; i < n; i++) {
    const [canvas, label] = grid.children[i].children;
    drawCells(/** @type {HTMLCanvasElement} */ (canvas), Array.prototype.slice.call(values, size * i, size * (i + 1)),
      side, side, scale);
    if (labels) label.textContent = labels(i);
  }
}

/**
 * A figure of the 32 filters in `values` (a grid and its caption), named
 * for screen readers by `name`.
 * @param {ArrayLike<number>} values
 * @param {number} scale
 * @param {string} caption
 * @param {string} name
 */
export function filterFigure(values, scale, caption, name) {
  const figure = document.createElement('figure');
  const grid = document.createElement('div');
  grid.className = 'post-grid';
  drawFilterGrid(grid, values, scale, 'cell');
  grid.setAttribute('role', 'img');
  grid.setAttribute('aria-label', name);
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  figure.append(grid, cap);
  return figure;
}
