// Drives the built page in Debian's headless Chromium (playwright-core) and
// prints what it saw as one JSON object; tests/web.rs checks it against the
// native crate. Usage:
//
//   node web/tests/page.mjs --page URL --idx DATA [--batches 30] [--screenshot FILE]
//        [--download FILE] [--native-model FILE --digits JSON] [--soak EPOCHS]
//        [--threads-batches N] [--pages-like URL]
//        [--parquet-page URL --parquet DATA] [--missing DATA] [--truncated DATA]
//        [--hand-batches N [--hand-screenshot FILE]] [--second-layer-screenshot FILE]
//        [--fashion-page URL --fashion DATA [--fashion-screenshot FILE] [--fashion-wrong DATA]]
//        [--huge DATA] [--cross-origin DATA] [--plain-page URL --unreachable DATA]
//
// Each URL is a page's address (without a query), each DATA what it is
// given as ?data=: the data for the main run (--idx), the Hub's layout
// (--parquet, on --parquet-page), a folder with nothing in it (--missing),
// a truncated parquet file (--truncated, on --parquet-page), IDX files
// announcing far more images than they hold (--huge), a server on another
// origin that sends no Access-Control-Allow-Origin (--cross-origin), and a
// port where nothing answers (--unreachable, on --plain-page: a page that
// is not cross-origin isolated).
import { readFileSync } from 'node:fs';
import { args, launchChromium } from './browser.mjs';

const batches = Number(args.batches || 30);

const browser = await launchChromium(['--enable-precise-memory-info']);
const result = { console: [], pageErrors: [] };

// Opens `url` with ?data=`data`. Console errors are the page's failures,
// but for a page made to fail to fetch: the browser logs those fetches.
async function open(url, data, format, { failing = false, deviceScaleFactor = 1, query = '', context = null } = {}) {
  const options = { viewport: { width: 1240, height: 1600 }, deviceScaleFactor };
  const page = await (context ? context.newPage() : browser.newPage(options));
  const log = failing ? [] : result.console;
  page.on('console', (m) => { if (m.type() === 'error') log.push(`${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  const search = `?${data ? `data=${encodeURIComponent(data)}` : ''}${format ? `&format=${format}` : ''}` +
    `${query ? `&${query}` : ''}`;
  await page.goto(url + search);
  return page;
}

// Waits for `fn` to hold on a page that may reload itself first (coi.js
// does, once, to be served through its service worker).
async function settle(page, fn) {
  for (let tries = 0; ; tries++) {
    try {
      return await page.waitForFunction(fn, null, { timeout: 120000 });
    } catch (e) {
      if (tries > 5 || !/context was destroyed|navigat/i.test(e.message)) throw e;
      await page.waitForLoadState('load');
    }
  }
}

// Draws a vertical stroke on the pad at `x`, from `y0` to `y1` (pad pixels),
// and waits for the model's answer.
async function drawStroke(page, x, y0, y1) {
  const pad = await page.$('#pad');
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  await page.mouse.move(box.x + x, box.y + y0);
  await page.mouse.down();
  for (let y = y0; y <= y1; y += 10) await page.mouse.move(box.x + x, box.y + y);
  await page.mouse.up();
  await page.waitForFunction(() => window.faw.state.prediction !== null);
}

// Trains `n` batches with one click each on a page opened with `query`.
async function trainClicks(query, n) {
  const page = await open(args.page, args.idx, 'idx', { query });
  await ready(page);
  await page.waitForFunction(() => window.faw.state.snapshots.length > 0);
  for (let i = 0; i < n; i++) await page.click('#one-batch');
  await page.waitForFunction((k) => window.faw.state.step >= k, n, { timeout: 300000 });
  const seen = await page.evaluate(() => ({
    threads: window.faw.state.threads, losses: window.faw.state.losses, filters: Array.from(window.faw.state.filters),
  }));
  await page.close();
  return seen;
}

// What a page made to fail says, once it has said it.
async function failure(url, data, format, query, hub) {
  // `hub`: how the Hugging Face Hub answers (routed: it is never reached).
  // Without the service worker (coi.js): its own fetches would pass the route by.
  const context = hub ? await browser.newContext({ serviceWorkers: 'block' }) : null;
  if (hub) await context.route(/huggingface\.co/, hub);
  const page = await open(url, data, format, { failing: true, query, context });
  await ready(page);
  const seen = await page.evaluate(() => ({
    status: document.getElementById('load-status').textContent,
    shownAsError: document.getElementById('load-status').classList.contains('error'),
    ready: window.faw.state.ready,
  }));
  // The kernels still work: another kernel, another output.
  const before = await page.evaluate(() => Array.from(window.faw.state.kernelOutput));
  await page.selectOption('#kernel-select', { label: 'identity' });
  seen.kernelsStillWork = await page.evaluate(
    (b) => window.faw.state.kernelOutput.some((v, i) => v !== b[i]), before);
  await page.close();
  if (context) await context.close();
  return seen;
}

const ready = (page) => page.waitForFunction(() => window.faw?.state.ready || window.faw?.state.dataError,
  null, { timeout: 120000 });

try {
  // 1. The kernels: every classic kernel's output on the demo picture, as drawn.
  const page = await open(args.page, args.idx, 'idx');
  result.isolated = await page.evaluate(() => window.crossOriginIsolated);
  result.threads = {};
  await page.waitForFunction(() => window.faw?.state.kernelOutput !== null);
  const names = await page.$$eval('#kernel-select option', (os) => os.map((o) => o.textContent));
  result.kernels = {};
  for (const [i, name] of names.entries()) {
    if (name === 'your own') continue;
    await page.selectOption('#kernel-select', String(i));
    result.kernels[name] = await page.evaluate(() => {
      const c = document.getElementById('kernel-output');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      return Array.from({ length: d.length / 4 }, (_, k) => d[4 * k]);
    });
  }
  // Your own kernel, typed in: the identity gives the picture back.
  const own = [0, 0, 0, 0, 1, 0, 0, 0, 0];
  const cells = await page.$$('#kernel-grid input');
  for (const [k, cell] of cells.entries()) await cell.fill(String(own[k]));
  result.ownKernelIsIdentity = await page.evaluate(() => {
    const { state } = window.faw;
    const c = document.getElementById('picture');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const w = c.width;
    const h = c.height;
    for (let y = 1; y < h - 1; y++) {
      for (let x = 1; x < w - 1; x++) if (state.kernelOutput[y * w + x] !== d[4 * (y * w + x)]) return false;
    }
    return document.getElementById('kernel-select').value === 'own';
  });
  await page.hover('#kernel-output', { position: { x: 100, y: 120 } });
  result.products = await page.textContent('#products');

  // 2. Training: `batches` batches, one click each.
  await ready(page);
  result.dataStatus = await page.textContent('#data-status');
  result.threads.main = await page.evaluate(() => window.faw.state.threads);
  result.threads.status = await page.textContent('#load-status');
  await page.waitForFunction(() => window.faw.state.snapshots.length > 0);
  for (let i = 0; i < batches; i++) await page.click('#one-batch');
  await page.waitForFunction((n) => window.faw.state.step >= n, batches, { timeout: 300000 });
  Object.assign(result, await page.evaluate(() => {
    const { state } = window.faw;
    return {
      step: state.step,
      losses: state.losses,
      initialFilters: Array.from(state.snapshots[0].filters),
      filters: Array.from(state.filters),
      accuracy: state.accuracy,
      labels: Array.from(document.querySelectorAll('#filters .filter div'), (d) => d.textContent),
    };
  }));

  // 3. A drawn digit: a "1", a stroke down the middle.
  await drawStroke(page, 140, 50, 230);
  Object.assign(result, await page.evaluate(() => ({
    prediction: window.faw.state.prediction,
    maps: window.faw.state.maps.length,
  })));

  // Mid-training, for the README.
  if (args.screenshot) {
    await page.click('#play');
    await page.waitForFunction((n) => window.faw.state.step >= n + 20, batches, { timeout: 300000 });
    await page.screenshot({ path: args.screenshot, fullPage: true });
    await page.click('#play');
  }

  // 4. The last "one batch" click's step, as the notebooks show it.
  result.stepShown = await page.evaluate(() => {
    const s = window.faw.state.stepShown;
    return s && {
      loss: s.loss, before: Array.from(s.before), gradient: Array.from(s.gradient),
      update: Array.from(s.update), after: Array.from(s.after),
      drawn: document.querySelectorAll('#step-figure canvas').length,
    };
  });

  // 5. The model, downloaded.
  if (args.download) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-model')]);
    await download.saveAs(args.download);
    result.downloadName = download.suggestedFilename();
    result.downloadedFilters = await page.evaluate(() => Array.from(window.faw.state.modelFile.filters));
  }

  // 6. Failures in the worker leave the page usable: a file that is not a
  // model, then a digit of the wrong size.
  const stepBefore = await page.evaluate(() => window.faw.state.step);
  await page.setInputFiles('#open-model', {
    name: 'not-a-model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a model'),
  });
  await page.waitForFunction(() => document.getElementById('train-status').classList.contains('error'));
  result.badModel = await page.evaluate(() => ({
    status: document.getElementById('train-status').textContent,
    playDisabled: document.getElementById('play').disabled,
    play: document.getElementById('play').textContent,
  }));
  await page.click('#one-batch');
  await page.waitForFunction((n) => window.faw.state.step > n, stepBefore);
  result.badModel.trainsAfter = true;
  result.badDigit = await page.evaluate(() => window.faw.predict([1, 2, 3]).then((m) => m.type));
  await page.click('#clear-pad');
  await drawStroke(page, 100, 60, 220);
  result.predictsAfterBadDigit = true;

  // 7. A model trained natively, opened: its answers for the test digits.
  if (args['native-model']) {
    await page.setInputFiles('#open-model', args['native-model']);
    await page.waitForFunction(() => window.faw.state.step === 0 && window.faw.state.snapshots.length === 1);
    result.openedFilters = await page.evaluate(() => Array.from(window.faw.state.filters));
    const digits = JSON.parse(readFileSync(args.digits, 'utf8'));
    result.openedLogits = [];
    for (const d of digits) {
      const m = await page.evaluate((pixels) => window.faw.predict(pixels), d);
      result.openedLogits.push(Array.from(m.logits));
    }
  }
  await page.close();

  // 8. A soak: 3 epochs on a high-density screen, with the history's
  // limits made small; memory read at each epoch's end.
  if (args.soak) {
    const soak = await open(args.page, args.idx, 'idx', { deviceScaleFactor: 2 });
    await ready(soak);
    await soak.waitForFunction(() => window.faw.state.snapshots.length > 0);
    await soak.evaluate(() => Object.assign(window.faw.limits, { snapshots: 16, losses: 32, accuracies: 4 }));
    // Paused at the post's epochs: the first of them, 1, falls in the soak.
    await soak.check('#post-stops');
    await soak.click('#play');
    result.soak = [];
    for (let epoch = 1; epoch <= Number(args.soak); epoch++) {
      // Read once the epoch's end is all done: the second layer drawn too.
      await soak.waitForFunction((e) => window.faw.state.secondLayer?.epochsDone >= e, epoch, { timeout: 300000 });
      result.soak.push(await soak.evaluate(() => ({
        epoch: window.faw.state.epochsDone,
        workerMemory: window.faw.state.workerMemory,
        jsHeap: performance.memory.usedJSHeapSize,
      })));
      if (epoch === 1) {
        // Paused at the end of epoch 1 (a moment later, nothing has moved),
        // then played on.
        await soak.waitForTimeout(1000);
        result.postStop = await soak.evaluate(() => ({
          step: window.faw.state.step, epochsDone: window.faw.state.epochsDone,
          stepsPerEpoch: window.faw.state.snapshots.at(-1).stepsPerEpoch,
          play: document.getElementById('play').textContent,
          announced: document.getElementById('announce').textContent,
        }));
        await soak.click('#play');
        // What the second layer sees, drawn at the epoch's end; a channel
        // chosen shows its top patches and its 32 filters.
        await soak.click('#second-layer-grid button:nth-child(6)');
        result.secondLayer = await soak.evaluate(() => {
          const s = window.faw.state.secondLayer;
          const shown = (/** @type {string} */ id) => Array.from(document.querySelectorAll(`#${id} canvas`))
            .filter((c) => c.getBoundingClientRect().width > 0).length;
          return {
            epochsDone: s.epochsDone, images: s.images, channels: s.channels, k: s.k, ms: s.ms,
            buttons: document.querySelectorAll('#second-layer-grid button').length,
            grid: shown('second-layer-grid'), top: shown('second-layer-top'), weights: shown('second-layer-weights'),
            title: document.getElementById('second-layer-title').textContent,
            pressed: document.querySelectorAll('#second-layer-grid [aria-pressed=true]').length,
            status: document.getElementById('second-layer-status').textContent,
            activations: Array.from(s.activations.slice(5 * s.k, 6 * s.k)),
            sources: Array.from(s.sources.slice(5 * s.k, 6 * s.k)),
            mean: Array.from(s.mean.slice(5 * 25, 6 * 25)),
          };
        });
        if (args['second-layer-screenshot']) {
          await soak.locator('#second-layer').screenshot({ path: args['second-layer-screenshot'] });
        }
      }
    }
    await soak.click('#play');
    result.soakState = await soak.evaluate(() => {
      const { state } = window.faw;
      const curves = document.getElementById('curves');
      return {
        step: state.step, snapshots: state.snapshots.length, losses: state.losses.length,
        lossEvery: state.lossEvery, accuracies: state.accuracy.length,
        postEpochs: Object.keys(state.postEpochs).map(Number),
        curvesPixels: [curves.width, curves.height], curvesCss: [curves.clientWidth, curves.clientHeight],
      };
    });
    await soak.close();
  }

  // 9. Threads: the same weights on 1 and 2; a host without isolation
  // headers, isolated by coi.js; and one not isolated at all.
  if (args['threads-batches']) {
    const n = Number(args['threads-batches']);
    result.threads.one = await trainClicks('threads=1', n);
    result.threads.two = await trainClicks('threads=2', n);
  }
  if (args['pages-like']) {
    const pages = await open(args['pages-like'], '/data/idx', 'idx');
    await settle(pages, () => window.faw?.state.ready || window.faw?.state.dataError);
    result.pagesLike = await pages.evaluate(() => ({
      isolated: window.crossOriginIsolated, threads: window.faw.state.threads,
      status: document.getElementById('load-status').textContent,
    }));
    await pages.close();
    const plain = await open(args['pages-like'], '/data/idx', 'idx', { query: 'isolate=no' });
    await ready(plain);
    result.notIsolated = await plain.evaluate(() => ({
      isolated: window.crossOriginIsolated, threads: window.faw.state.threads,
      status: document.getElementById('load-status').textContent,
    }));
    await plain.close();
  }

  // 12. Filters set by hand: filter 0 set to top sobel and frozen, 10
  // batches, it is still top sobel and the others moved; filter 1 typed in
  // and randomised. Then the hand-chosen model beside the learned one.
  if (args['hand-batches']) {
    const n = Number(args['hand-batches']);
    const hand = await open(args.page, args.idx, 'idx');
    await ready(hand);
    await hand.waitForFunction(() => window.faw.state.snapshots.length > 0);
    const filters = () => hand.evaluate(() => Array.from(window.faw.state.filters));
    const at = async (step) => hand.waitForFunction((k) => window.faw.state.step >= k, step, { timeout: 300000 });
    const changed = (before) => hand.waitForFunction(
      (b) => window.faw.state.filters.some((v, i) => v !== b[i]), before);
    const start = await filters();
    await hand.click('#filters .filter:nth-child(1)');
    const editorShown = await hand.isVisible('#filter-editor');
    await hand.selectOption('#editor-kernel', { label: 'top sobel' });
    await changed(start);
    const set = await filters();
    await hand.check('#editor-frozen');
    await hand.waitForFunction(() => window.faw.state.frozen.includes(0));
    const frozenLook = await hand.evaluate(() => {
      const cell = document.querySelector('#filters .filter');
      return { marked: cell.classList.contains('frozen'), label: cell.querySelector('div').textContent };
    });
    for (let i = 0; i < n; i++) await hand.click('#one-batch');
    await at(n);
    const trained = await filters();
    const label = await hand.$eval('#filters .filter div', (d) => d.textContent);
    // Filter 1: nine numbers typed in, then a random draw.
    await hand.click('#filters .filter:nth-child(2)');
    const typed = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const boxes = await hand.$$('#editor-grid input');
    for (const [k, box] of boxes.entries()) await box.fill(String(typed[k] / 10));
    let before = await filters();
    await hand.click('#editor-set');
    await changed(before);
    const afterTyped = await filters();
    before = afterTyped;
    await hand.click('#editor-random');
    await changed(before);
    const afterRandom = await filters();
    await hand.click('#editor-close');
    result.hand = {
      editorShown, start, set, frozenLook, trained, label, afterTyped, afterRandom,
      editorHidden: !(await hand.isVisible('#filter-editor')),
      frozenAfter: await hand.evaluate(() => window.faw.state.frozen),
    };
    // The hand-chosen model beside: two sets of curves, trained together.
    await hand.check('#hand-chosen');
    await hand.waitForFunction(() => window.faw.state.step === 0 && window.faw.state.hand);
    for (let i = 0; i < n; i++) await hand.click('#one-batch');
    await at(n);
    result.beside = await hand.evaluate(() => {
      const { state } = window.faw;
      return {
        step: state.step, losses: state.losses, handLosses: state.hand.losses,
        accuracy: state.accuracy, handAccuracy: state.hand.accuracy, frozen: state.frozen,
        filters: Array.from(state.filters),
      };
    });
    // A model opened now: both start again from step 0, side by side.
    if (args['native-model']) {
      await hand.setInputFiles('#open-model', args['native-model']);
      await hand.waitForFunction(() => window.faw.state.step === 0 && window.faw.state.snapshots.length === 1);
      await hand.click('#one-batch');
      await at(1);
      result.besideOpened = await hand.evaluate(() => {
        const { state } = window.faw;
        return {
          step: state.step, losses: state.losses.length, handLosses: state.hand && state.hand.losses.length,
          checked: document.getElementById('hand-chosen').checked,
        };
      });
    }
    if (args['hand-screenshot']) {
      await hand.click('#filters .filter:nth-child(4)');
      await hand.screenshot({ path: args['hand-screenshot'], fullPage: true });
    }
    await hand.close();
  }

  // 13. Fashion-MNIST: the picker, its class names on the bars.
  if (args.fashion) {
    const fashion = await open(args['fashion-page'] || args.page, args.fashion, 'idx', { query: 'dataset=fashion-mnist' });
    await ready(fashion);
    await drawStroke(fashion, 140, 50, 230);
    result.fashion = await fashion.evaluate(() => ({
      dataset: window.faw.state.dataset,
      picker: document.getElementById('dataset').value,
      options: Array.from(document.querySelectorAll('#dataset option'), (o) => o.value),
      status: document.getElementById('data-status').textContent,
      heading: document.querySelector('#digit h2').textContent,
      reads: window.faw.state.reads,
      // ?dataset= alone is the data-set switch's page, not a link to replay.
      linkNote: document.getElementById('link-note').hidden ? '' : document.getElementById('link-note').textContent,
    }));
    if (args['fashion-screenshot']) await fashion.screenshot({ path: args['fashion-screenshot'], fullPage: true });
    await fashion.close();
    const unknown = await open(args['fashion-page'] || args.page, args.fashion, 'idx', { failing: true, query: 'dataset=kmnist' });
    await unknown.waitForFunction(() => window.faw?.state.startError, null, { timeout: 30000 });
    result.unknownDataset = await unknown.textContent('#load-status');
    await unknown.close();
    // Another data set's files under Fashion-MNIST's name: refused, saying which.
    if (args['fashion-wrong']) {
      result.wrongDataset = await failure(args['fashion-page'] || args.page, args['fashion-wrong'], 'idx',
        'dataset=fashion-mnist');
    }
  }

  // 10. Browsers that cannot run it: no WebAssembly, no SIMD128, its
  // WebAssembly files missing. Each says what is lacking, not "Loading…".
  result.cannotStart = {};
  const cannot = {
    noWebAssembly: (page) => page.addInitScript(() => { delete window.WebAssembly; }),
    noSimd: (page) => page.addInitScript(() => { WebAssembly.validate = () => false; }),
    noPkg: (page) => page.route(/\/pkg(-threads)?\//, (route) => route.fulfill({ status: 404, body: '' })),
  };
  for (const [name, breakIt] of Object.entries(cannot)) {
    // Without the service worker (coi.js), which would fetch the page's
    // files itself, past the routes that break them.
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    page.on('pageerror', (e) => result.pageErrors.push(String(e)));
    await breakIt(page);
    await page.goto(`${args.page}?data=${encodeURIComponent(args.idx)}&format=idx`);
    await page.waitForFunction(() => window.faw?.state.startError, null, { timeout: 30000 });
    result.cannotStart[name] = await page.textContent('#load-status');
    await context.close();
  }

  // 11. The same page on the Hub's parquet layout; and data it cannot have.
  if (args.parquet) {
    const parquet = await open(args['parquet-page'] || args.page, args.parquet);
    await ready(parquet);
    result.parquetStatus = await parquet.textContent('#data-status');
    await parquet.close();
  }
  result.failures = {};
  const failing = {
    missing: [args.page, args.missing],
    truncated: [args['parquet-page'] || args.page, args.truncated, 'parquet'],
    huge: [args.page, args.huge, 'idx'],
    crossOrigin: [args.page, args['cross-origin']],
    // Not isolated: an isolated page cannot tell "nothing answered" apart.
    unreachable: [args['plain-page'], args.unreachable, null, 'isolate=no'],
    // No ?data=: the Hub, out of reach, then refusing.
    hubUnreachable: [args.page, '', null, '', (r) => r.abort('internetdisconnected')],
    hubRefused: [args.page, '', null, '', (r) => r.fulfill({ status: 503, body: '' })],
  };
  for (const [name, [url, data, format, query, hub]] of Object.entries(failing)) {
    if (url && (data || hub)) result.failures[name] = await failure(url, data, format, query, hub);
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
