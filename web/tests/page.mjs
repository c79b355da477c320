// Drives the built page in Debian's headless Chromium (playwright-core) and
// prints what it saw as one JSON object; tests/web.rs checks it against the
// native crate. Usage:
//
//   node web/tests/page.mjs --page URL --idx DATA [--batches 30] [--screenshot FILE]
//        [--download FILE] [--native-model FILE --digits JSON] [--soak EPOCHS]
//        [--parquet-page URL --parquet DATA] [--missing DATA] [--truncated DATA]
//        [--huge DATA] [--cross-origin DATA] [--plain-page URL --unreachable DATA]
//   node web/tests/page.mjs --page URL --idx DATA --bench SECONDS
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
import { chromium } from 'playwright-core';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
const batches = Number(args.batches || 30);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--enable-precise-memory-info', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const result = { console: [], pageErrors: [] };

// Opens `url` with ?data=`data`. Console errors are the page's failures,
// but for a page made to fail to fetch: the browser logs those fetches.
async function open(url, data, format, { failing = false, deviceScaleFactor = 1 } = {}) {
  const page = await browser.newPage({ viewport: { width: 1240, height: 1600 }, deviceScaleFactor });
  const log = failing ? [] : result.console;
  page.on('console', (m) => { if (m.type() === 'error') log.push(`${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  const query = `?data=${encodeURIComponent(data)}${format ? `&format=${format}` : ''}`;
  await page.goto(url + query);
  return page;
}

// What a page made to fail says, once it has said it.
async function failure(url, data, format) {
  const page = await open(url, data, format, { failing: true });
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
  return seen;
}

const ready = (page) => page.waitForFunction(() => window.faw?.state.ready || window.faw?.state.dataError,
  null, { timeout: 120000 });

try {
  if (args.bench) {
    // Seconds from opening the page (MNIST already in the browser's cache)
    // to the first redraw of trained filters, and images per second.
    const page = await open(args.page, args.idx, 'idx');
    await ready(page);
    await page.close();
    const start = Date.now();
    const again = await open(args.page, args.idx, 'idx');
    await ready(again);
    await again.click('#play');
    await again.waitForFunction(() => window.faw.state.firstTrainedDrawAt !== null, null, { timeout: 120000 });
    result.secondsToFirstTrainedFilters = (Date.now() - start) / 1000;
    const now = () => again.evaluate(() => {
      const { state } = window.faw;
      return [performance.now(), state.losses.length, state.trainMs];
    });
    const t0 = await now();
    await again.waitForTimeout(Number(args.bench) * 1000);
    const t1 = await now();
    // Wall time (scoring the test digits and redrawing included), and the
    // worker's training time alone (as the native benchmark measures).
    result.imagesPerSecond = ((t1[1] - t0[1]) * 128 * 1000) / (t1[0] - t0[0]);
    result.trainingImagesPerSecond = ((t1[1] - t0[1]) * 128 * 1000) / (t1[2] - t0[2]);
  } else {
    // 1. The kernels: every classic kernel's output on the demo picture, as drawn.
    const page = await open(args.page, args.idx, 'idx');
    result.isolated = await page.evaluate(() => window.crossOriginIsolated);
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
    const pad = await page.$('#pad');
    await pad.scrollIntoViewIfNeeded();
    const box = await pad.boundingBox();
    await page.mouse.move(box.x + 140, box.y + 50);
    await page.mouse.down();
    for (let y = 50; y <= 230; y += 10) await page.mouse.move(box.x + 140, box.y + y);
    await page.mouse.up();
    await page.waitForFunction(() => window.faw.state.prediction !== null);
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
    await pad.scrollIntoViewIfNeeded();
    const again = await pad.boundingBox();
    await page.mouse.move(again.x + 100, again.y + 60);
    await page.mouse.down();
    for (let y = 60; y <= 220; y += 20) await page.mouse.move(again.x + 100, again.y + y);
    await page.mouse.up();
    await page.waitForFunction(() => window.faw.state.prediction !== null);
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
      await soak.click('#play');
      result.soak = [];
      for (let epoch = 1; epoch <= Number(args.soak); epoch++) {
        await soak.waitForFunction((e) => window.faw.state.epochsDone >= e, epoch, { timeout: 300000 });
        result.soak.push(await soak.evaluate(() => ({
          epoch: window.faw.state.epochsDone,
          workerMemory: window.faw.state.workerMemory,
          jsHeap: performance.memory.usedJSHeapSize,
        })));
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

    // 9. The same page on the Hub's parquet layout; and data it cannot have.
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
      unreachable: [args['plain-page'], args.unreachable],
    };
    for (const [name, [url, data, format]] of Object.entries(failing)) {
      if (url && data) result.failures[name] = await failure(url, data, format);
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
