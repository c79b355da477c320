// 1. A kernel, chosen by hand: a picture, a 3×3 kernel (a classic one or
// nine numbers typed in), its output through the crate's convolution, and
// the nine products at a pixel (pointed at, touched, or reached with the
// arrow keys).
import { announce, $, canvasById, inputById, page, selectById } from './page.js';
import { drawGray } from './draw.js';
import { state } from './state.js';

/** @type {{ width: number, height: number, pixels: Uint8Array }} */
let picture = null;
/** @type {number[]} */
let kernel = [];
/** @type {HTMLInputElement[]} */
const inputs = [];
// The pixel the arrow keys move over the kernel's output.
const cursor = { x: 1, y: 1 };

/** @param {ArrayLike<number>} values */
function setKernel(values) {
  kernel = Array.from(values);
  inputs.forEach((input, i) => { input.value = String(+kernel[i].toFixed(4)); });
  redrawKernel();
}

function redrawKernel() {
  const out = page.faw.apply_kernel(picture.width, picture.height, picture.pixels, new Float32Array(kernel));
  state.kernelOutput = out;
  drawGray(canvasById('kernel-output'), picture.width, picture.height, out);
  $('kernel-caption').textContent = `the kernel's output, ${picture.width}×${picture.height} pixels`;
}

/** @param {{ width: number, height: number, pixels: Uint8Array }} p */
function showPicture(p) {
  picture = p;
  drawGray(canvasById('picture'), p.width, p.height, p.pixels);
  redrawKernel();
}

/** The classic kernel `k`'s nine weights. */
const classicKernel = (/** @type {number} */ k) => page.classic.slice(9 * k, 9 * k + 9);

export function setupKernels() {
  const select = selectById('kernel-select');
  page.names.forEach((n, i) => select.add(new Option(n, String(i))));
  select.add(new Option('your own', 'own'));
  select.value = String(page.names.indexOf('outline'));
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
    if (select.value !== 'own') setKernel(classicKernel(Number(select.value)));
  });
  kernel = Array.from(classicKernel(Number(select.value)));
  inputs.forEach((input, i) => { input.value = String(+kernel[i].toFixed(4)); });
  showPicture(page.faw.demo_picture());

  $('demo-picture').addEventListener('click', () => showPicture(page.faw.demo_picture()));
  const chooser = inputById('picture-file');
  chooser.addEventListener('change', async () => {
    const file = chooser.files[0];
    if (!file) return;
    const error = $('picture-error');
    try {
      showPicture(page.faw.decode_picture(file.name, new Uint8Array(await file.arrayBuffer())));
      error.hidden = true;
    } catch (err) {
      error.textContent = `${file.name}: ${err.message}`;
      error.hidden = false;
    }
  });
  // A mouse, a pen or a finger on the output; or the arrow keys.
  const output = canvasById('kernel-output');
  const at = (/** @type {PointerEvent} */ e) => {
    const r = output.getBoundingClientRect();
    showProducts(Math.floor(((e.clientX - r.left) / r.width) * picture.width),
      Math.floor(((e.clientY - r.top) / r.height) * picture.height));
  };
  output.addEventListener('pointermove', at);
  output.addEventListener('pointerdown', at);
  /** @type {Record<string, [number, number]>} */
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  output.addEventListener('keydown', (e) => {
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

/**
 * The nine products at output pixel (x, y), and their sum (setosa's
 * hover), shown in the products panel; returns one line to announce.
 * @param {number} x
 * @param {number} y
 */
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
