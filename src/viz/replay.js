// The filters replayed: every snapshot of a training run as a frame, with a
// slider, play/pause and each filter's nearest classic kernel. The crate
// puts this file inside one self-contained HTML output (replay.rs beside it:
// a notebook cell's text/html, or `reproduce`'s filters-replay.html), after
// the frames' data in a <script type="application/json"> and the GIF of the
// same frames in an <img>; where scripts do not run, the GIF stays.
/* exported fawReplay */

// Draws the replay into `root`, which holds the data script and the GIF.
function fawReplay(root) {
  const data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
  const frames = data.frames;
  const cols = 8;
  const px = 16;
  const block = 3 * px;
  const cell = { w: 104, h: block + 34 };
  const rows = Math.ceil(data.filters / cols);

  // White at 0, red positive, blue negative: the crate's diverging scale.
  const colour = (v) => {
    const t = Math.max(-1, Math.min(1, data.scale > 0 ? v / data.scale : 0));
    const end = t >= 0 ? [178, 24, 43] : [33, 102, 172];
    const mix = (e) => Math.round(255 + (e - 255) * Math.abs(t));
    return `rgb(${mix(end[0])}, ${mix(end[1])}, ${mix(end[2])})`;
  };

  const canvas = document.createElement('canvas');
  canvas.width = cols * cell.w;
  canvas.height = rows * cell.h;
  canvas.setAttribute('role', 'img');
  const controls = document.createElement('div');
  controls.style.cssText = 'display:flex;gap:12px;align-items:center;font:14px sans-serif;margin:6px 0';
  const play = document.createElement('button');
  play.type = 'button';
  const slider = document.createElement('input');
  slider.type = 'range';
  slider.min = '0';
  slider.max = String(frames.length - 1);
  slider.style.width = '360px';
  const label = document.createElement('span');
  controls.append(play, slider, label);

  const context = canvas.getContext('2d');
  let shown = 0;
  const draw = (index) => {
    shown = index;
    const frame = frames[index];
    slider.value = String(index);
    label.textContent = `${frame.label} (${index + 1} of ${frames.length})`;
    canvas.setAttribute('aria-label', `the ${data.filters} first-layer filters, ${frame.label}`);
    context.fillStyle = 'white';
    context.fillRect(0, 0, canvas.width, canvas.height);
    for (let f = 0; f < data.filters; f += 1) {
      const x = (f % cols) * cell.w + (cell.w - block) / 2;
      const y = Math.floor(f / cols) * cell.h + 4;
      for (let i = 0; i < 9; i += 1) {
        context.fillStyle = colour(frame.values[f * 9 + i]);
        context.fillRect(x + (i % 3) * px, y + Math.floor(i / 3) * px, px, px);
      }
      context.strokeStyle = 'rgb(120, 120, 120)';
      context.strokeRect(x + 0.5, y + 0.5, block - 1, block - 1);
      const [kernel, score] = frame.nearest[f];
      // Filters at least `close` like a classic kernel are named in black.
      context.fillStyle = score >= data.close ? 'black' : 'rgb(150, 150, 150)';
      context.font = '11px sans-serif';
      context.textAlign = 'center';
      const cx = (f % cols) * cell.w + cell.w / 2;
      context.fillText(data.kernels[kernel], cx, y + block + 13);
      context.fillText(score.toFixed(2), cx, y + block + 26);
    }
  };

  let timer = null;
  const stop = () => {
    clearInterval(timer);
    timer = null;
    play.textContent = '▶ play';
  };
  play.addEventListener('click', () => {
    if (timer !== null) {
      stop();
      return;
    }
    if (shown === frames.length - 1) draw(0);
    play.textContent = '❚❚ pause';
    timer = setInterval(() => (shown + 1 < frames.length ? draw(shown + 1) : stop()), data.delay_ms);
  });
  slider.addEventListener('input', () => {
    stop();
    draw(Number(slider.value));
  });

  const note = document.createElement('div');
  note.style.cssText = 'font:12px sans-serif;color:#555';
  note.textContent = `Under each filter: its nearest classic kernel and their centred cosine (black at ${data.close} or more). `
    + `One colour scale for every frame: white 0, red up to +${data.scale.toFixed(2)}, blue down to -${data.scale.toFixed(2)}.`;
  root.querySelector('img').replaceWith(canvas);
  root.insertBefore(controls, canvas);
  root.append(note);
  stop();
  draw(0);
}
