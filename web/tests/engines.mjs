// Drives the built page in one of three browser engines and prints what it
// saw as one JSON object; tests/web.rs compares the engines with each other
// and with the native crate. Usage:
//
//   node web/tests/engines.mjs --engine chromium|firefox|webkit --page URL --idx DATA
//        [--batches 20] [--widths 360,768,1280,1920 [--shots DIR]] [--axe 1] [--query Q]
//        [--reloads N]
//   node web/tests/engines.mjs --engine E --page URL --idx DATA --bench SECONDS [--query threads=N]
//   node web/tests/engines.mjs --engine E --page URL --idx DATA --soak EPOCHS [--images-per-epoch N]
//   node web/tests/engines.mjs --engine E --page URL --idx DATA --second-layer ROUNDS [--query threads=N]
//   node web/tests/engines.mjs --engine E --page URL --idx DATA --link QUERY
//
// chromium: Debian's headless Chromium through playwright-core (CHROMIUM
// names another binary); firefox: Debian's firefox-esr, headless, over
// WebDriver BiDi (puppeteer-core; FIREFOX names another binary); webkit:
// Safari's engine, WebKitGTK's MiniBrowser through WebKitWebDriver (classic
// WebDriver, spoken here over HTTP), which needs a display: run it under
// xvfb-run. Each engine trains `batches` batches ("one batch" clicked that
// many times) and reports the threads it trained on, the load status, every
// loss and the filters; with --widths, whether the page is wider than the
// window at each width (a screenshot each in --shots); with --axe,
// axe-core's violations at each width; with --reloads, whether the page is
// ready again after each of N more loads (the browser's cache revalidated).
// With --bench (benches/web_page.py):
// seconds from opening the page a second time (the data in the browser's
// cache) to the first redraw of trained filters, then images per second
// while it plays for SECONDS, over wall time and over the worker's
// training time alone. With --soak (benches/web_memory.py): the worker's
// WebAssembly memory once the data is decoded and at the end of each of
// EPOCHS epochs of play (of N images each, the whole set still held), with
// the page's JavaScript heap where the engine tells it (Chromium); a
// module's memory never shrinks, so the last is the peak. With
// --second-layer (benches/web_second_layer.py): after one batch, the
// worker's time to find what the second layer sees over every test image
// (each channel's top patches), ROUNDS times. With --link: the page opened
// with a run's link (QUERY, added to the address); once it has trained to
// the link's batch and stopped (or said why it cannot replay the link),
// its losses, filters and frozen filters, what it says of the link, the
// link it makes of the run, and whether it stayed stopped.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { args, launchChromium } from './browser.mjs';

const batches = Number(args.batches || 20);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What the script needs of a browser: open a page, evaluate an expression
 * in it (its value as JSON), size the window, take a screenshot.
 * @typedef {{ open(url: string): Promise<void>, eval(expr: string): Promise<any>,
 *   size(width: number, height: number): Promise<void>, screenshot(file: string): Promise<void>,
 *   close(): Promise<void>, said?: string[] }} Engine
 */

/**
 * An Engine over a playwright or puppeteer page (the two speak alike but
 * for sizing the window, `size`).
 * @param {{ close(): Promise<void> }} browser
 * @param {{ goto(url: string): Promise<any>, evaluate(expr: string): Promise<any>, on: Function,
 *   screenshot(o: { path: string, fullPage: boolean }): Promise<any> }} page
 * @param {(width: number, height: number) => Promise<void>} size
 * @returns {Engine}
 */
const pageEngine = (browser, page, size) => {
  // The page's warnings and errors, told when a test waits in vain.
  const said = [];
  page.on('console', (m) => { if (['error', 'warn', 'warning'].includes(m.type())) said.push(m.text()); });
  page.on('pageerror', (e) => said.push(String(e)));
  return {
    open: async (url) => { await page.goto(url); },
    eval: (expr) => page.evaluate(expr),
    size,
    screenshot: async (file) => { await page.screenshot({ path: file, fullPage: true }); },
    close: () => browser.close(),
    said,
  };
};

/** @returns {Promise<Engine>} */
async function chromium() {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  return pageEngine(browser, page, (width, height) => page.setViewportSize({ width, height }));
}

/** @returns {Promise<Engine>} */
async function firefox() {
  const puppeteer = (await import('puppeteer-core')).default;
  const browser = await puppeteer.launch({
    browser: 'firefox', executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr', headless: true,
    // No updates, no telemetry, no network of its own.
    extraPrefsFirefox: { 'app.update.enabled': false, 'network.captive-portal-service.enabled': false },
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  return pageEngine(browser, page, (width, height) => page.setViewport({ width, height }));
}

// A free port on 127.0.0.1.
const freePort = () => new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

/** @returns {Promise<Engine>} */
async function webkit() {
  const port = await freePort();
  const driver = spawn(process.env.WEBKIT_WEBDRIVER || 'WebKitWebDriver', [`--port=${port}`],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const response = await fetch(base + path, {
      method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(answer.value)}`);
    return answer.value;
  };
  let session = null;
  for (let tries = 0; !session; tries++) {
    try {
      session = await call('POST', '/session', {
        capabilities: {
          alwaysMatch: {
            browserName: 'MiniBrowser',
            'webkitgtk:browserOptions': {
              binary: process.env.MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
              args: ['--automation'],
            },
          },
        },
      });
    } catch (e) {
      // The driver takes a moment to listen.
      if (tries > 50) throw e;
      await sleep(200);
    }
  }
  const s = `/session/${session.sessionId}`;
  return {
    open: async (url) => { await call('POST', `${s}/url`, { url }); },
    eval: (expr) => call('POST', `${s}/execute/sync`, { script: `return (${expr});`, args: [] }),
    size: async (width, height) => {
      // The window's outer size, corrected until its inside is `width` wide
      // (the window takes a moment to change; it has a smallest width).
      let outer = width;
      for (let tries = 0; tries < 4; tries++) {
        await call('POST', `${s}/window/rect`, { width: outer, height });
        await sleep(300);
        const inner = await call('POST', `${s}/execute/sync`, { script: 'return window.innerWidth;', args: [] });
        if (inner === width) break;
        outer += width - inner;
      }
    },
    screenshot: async (file) => {
      writeFileSync(file, Buffer.from(await call('GET', `${s}/screenshot`), 'base64'));
    },
    close: async () => {
      await call('DELETE', s).catch(() => {});
      driver.kill();
    },
  };
}

const ENGINES = { chromium, firefox, webkit };

/** What the page shows and where it stands, for a test that waited in vain. */
async function seenNow(engine) {
  try {
    const said = engine.said?.length ? ` It said: ${engine.said.slice(-10).join(' | ')}` : '';
    return JSON.stringify(await engine.eval(`({ address: location.href, isolated: window.crossOriginIsolated,
      serviceWorker: Boolean(navigator.serviceWorker?.controller), reloaded: sessionStorage.getItem('coi-reloaded'),
      load: document.getElementById('load-status')?.textContent, train: document.getElementById('train-status')?.textContent,
      state: window.faw && { ready: window.faw.state.ready, step: window.faw.state.step, threads: window.faw.state.threads } })`)) + said;
  } catch (e) {
    return `(not readable: ${e.message})`;
  }
}

/** Waits up to `ms` for `expr` to be truthy; returns its value. */
async function waitFor(engine, expr, ms = 120000) {
  const until = Date.now() + ms;
  for (;;) {
    let value = null;
    try {
      value = await engine.eval(expr);
    } catch (e) {
      // A page that reloads itself (coi.js) loses its context once.
      if (Date.now() > until) throw e;
    }
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${expr}; the page: ${await seenNow(engine)}`);
    await sleep(100);
  }
}

const engine = await ENGINES[args.engine]();
const result = { engine: args.engine };
const ready = 'window.faw && (window.faw.state.ready || window.faw.state.dataError)';
try {
  const query = `?data=${encodeURIComponent(args.idx)}&format=idx${args.query ? `&${args.query}` : ''}` +
    `${args.link ? `&${args.link}` : ''}`;
  await engine.open(args.page + query);
  await waitFor(engine, ready);
  if (args.bench) {
    const start = Date.now();
    await engine.open(args.page + query);
    await waitFor(engine, ready);
    await waitFor(engine, 'window.faw.state.snapshots.length > 0');
    result.threads = await engine.eval('window.faw.state.threads');
    await engine.eval(`(() => { document.getElementById('play').click(); return true; })()`);
    await waitFor(engine, 'window.faw.state.firstTrainedDrawAt !== null');
    result.secondsToFirstTrainedFilters = (Date.now() - start) / 1000;
    const now = () => engine.eval('[performance.now(), window.faw.state.step, window.faw.state.trainMs]');
    const t0 = await now();
    await sleep(Number(args.bench) * 1000);
    const t1 = await now();
    const images = (t1[1] - t0[1]) * 128;
    result.imagesPerSecond = images / ((t1[0] - t0[0]) / 1000);
    result.trainingImagesPerSecond = images / ((t1[2] - t0[2]) / 1000);
    result.workerMemory = await engine.eval('window.faw.state.workerMemory');
  } else if (args['second-layer']) {
    await waitFor(engine, 'window.faw.state.snapshots.length > 0');
    await engine.eval(`(() => { document.getElementById('one-batch').click(); return true; })()`);
    await waitFor(engine, 'window.faw.state.step >= 1');
    result.threads = await engine.eval('window.faw.state.threads');
    result.secondLayer = [];
    for (let i = 0; i < Number(args['second-layer']); i++) {
      await engine.eval('(() => { window.faw.state.secondLayer = null; window.faw.secondLayer(); return true; })()');
      result.secondLayer.push(await waitFor(engine, `window.faw.state.secondLayer &&
        { images: window.faw.state.secondLayer.images, ms: window.faw.state.secondLayer.ms }`, 600000));
    }
  } else if (args.link) {
    await waitFor(engine, 'window.faw.state.snapshots.length > 0');
    const until = Number(new URLSearchParams(args.link).get('until') || 0);
    const linkError = await engine.eval('window.faw.state.linkError');
    if (until && !linkError) {
      await waitFor(engine, `window.faw.state.step >= ${until} &&
        document.getElementById('play').textContent.includes('train')`, 600000);
      // The live region is set a frame after it is cleared (js/page.js' announce).
      await waitFor(engine, `document.getElementById('announce').textContent !== ''`, 10000);
    }
    const seen = `({ step: window.faw.state.step, losses: window.faw.state.losses,
      filters: Array.from(window.faw.state.filters), frozen: window.faw.state.frozen,
      hand: window.faw.state.hand && window.faw.state.hand.losses, linkError: window.faw.state.linkError,
      note: document.getElementById('link-note').textContent, made: document.getElementById('link').value,
      seed: document.getElementById('seed').value, play: document.getElementById('play').textContent,
      announced: document.getElementById('announce').textContent,
      madeHere: (() => { const b = document.getElementById('link-until'); b.click();
        const v = document.getElementById('link').value; b.click(); return v; })() })`;
    Object.assign(result, await engine.eval(seen));
    await sleep(1500);
    result.stayed = await engine.eval('window.faw.state.step');
  } else if (args.soak) {
    await waitFor(engine, 'window.faw.state.snapshots.length > 0');
    if (args['images-per-epoch']) {
      // Fewer images an epoch (all of them still held): the run starts again.
      await engine.eval(`(() => { const s = document.getElementById('images-per-epoch');
        s.value = '${Number(args['images-per-epoch'])}'; s.dispatchEvent(new Event('change')); return true; })()`);
      await waitFor(engine, `window.faw.state.run > 1 && window.faw.state.snapshots.length > 0`);
    }
    const memory = `({ epochs: window.faw.state.epochsDone, step: window.faw.state.step,
      workerMemory: window.faw.state.workerMemory, threads: window.faw.state.threads,
      at: performance.now(), accuracy: (window.faw.state.accuracy.at(-1) || [0, null])[1],
      imagesPerEpoch: Number(document.getElementById('images-per-epoch').value),
      jsHeap: performance.memory ? performance.memory.usedJSHeapSize : null })`;
    result.loaded = await engine.eval(memory);
    await engine.eval(`(() => { document.getElementById('play').click(); return true; })()`);
    result.soak = [];
    for (let epoch = 1; epoch <= Number(args.soak); epoch++) {
      // Once the epoch's end is all done: the second layer drawn too.
      await waitFor(engine, `window.faw.state.secondLayer?.epochsDone >= ${epoch}`, 1800000);
      result.soak.push(await engine.eval(memory));
    }
  } else {
    await train();
    result.reloads = [];
    for (let i = 0; i < Number(args.reloads || 0); i++) {
      await engine.open(args.page + query);
      await waitFor(engine, ready);
      result.reloads.push(await engine.eval('window.faw.state.ready'));
    }
  }
} finally {
  await engine.close();
}
console.log(JSON.stringify(result));

// The main run: `batches` batches, then the widths.
async function train() {
  Object.assign(result, await engine.eval(`({
    isolated: window.crossOriginIsolated, ready: window.faw.state.ready, threads: window.faw.state.threads,
    status: document.getElementById('load-status').textContent, userAgent: navigator.userAgent })`));
  if (result.ready) {
    await waitFor(engine, 'window.faw.state.snapshots.length > 0');
    const t0 = Date.now();
    await engine.eval(`(() => { for (let i = 0; i < ${batches}; i++) document.getElementById('one-batch').click();
      return true; })()`);
    await waitFor(engine, `window.faw.state.step >= ${batches}`, 300000);
    result.trainSeconds = (Date.now() - t0) / 1000;
    Object.assign(result, await engine.eval(`({ step: window.faw.state.step, losses: window.faw.state.losses,
      filters: Array.from(window.faw.state.filters) })`));
  }
  if (args.widths) {
    const axe = args.axe && readFileSync(join(createRequire(import.meta.url).resolve('axe-core'), '..', 'axe.min.js'), 'utf8');
    result.widths = [];
    for (const width of args.widths.split(',').map(Number)) {
      await engine.size(width, Math.round(width * 0.6) + 200);
      await sleep(300);
      const seen = await engine.eval(`({ width: ${width}, window: window.innerWidth,
        document: document.documentElement.scrollWidth })`);
      if (args.shots) await engine.screenshot(join(args.shots, `page-${args.engine}-${width}.png`));
      if (axe) {
        await engine.eval(`(() => { if (!window.axe) { const s = document.createElement('script');
          s.textContent = ${JSON.stringify(axe)}; document.head.append(s); } return true; })()`);
        await engine.eval(`(() => { window.axeResult = null;
          window.axe.run(document, { resultTypes: ['violations'] }).then((r) => { window.axeResult =
            r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) })); });
          return true; })()`);
        seen.axe = await waitFor(engine, 'window.axeResult', 60000);
      }
      result.widths.push(seen);
    }
  }
}
