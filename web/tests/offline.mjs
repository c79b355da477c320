// The page offline after one visit, in headless Chromium: web/serve.py
// serves a copy of the built page with MNIST and Fashion-MNIST. Online,
// the page loads MNIST and keeps itself and it; a chapter of the guide is
// opened; the data-set switch goes to Fashion-MNIST, which trains and is
// kept too. The server stopped, the page's address opens the page (not the
// guide) and trains 10 batches, on each data set, and the guide's chapter
// says it is not kept. Then a new version of the page (its index.html
// changed in the copy, stamped again by web/stamp.py) served on the same
// address replaces the kept one on the next online visit, whole, and is
// the one that opens offline after. Prints what it saw, with every cache's
// files and their SHA-256, as one JSON object; tests/web.rs checks it.
// Usage:
//
//   node web/tests/offline.mjs --site DIR --mnist DIR --fashion DIR [--prefix /faw/]
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { args, launchChromium } from './browser.mjs';

const prefix = args.prefix || '/faw/';
const serve = join(import.meta.dirname, '..', 'serve.py');

// A free port on 127.0.0.1, the same one for each server: one origin.
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port: p } = s.address();
    s.close(() => resolve(p));
  });
});

/** web/serve.py on `port`; resolves to the process and the address it printed. */
function server() {
  const child = spawn('python3', [serve, '--port', String(port), '--prefix', prefix, '--site', args.site,
    '--no-search', '--mnist', args.mnist, '--fashion-mnist', args.fashion], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    createInterface({ input: child.stdout }).once('line', (line) => resolve({ child, page: line.replace(/^page: /, '') }));
  });
}

const stop = (/** @type {import('node:child_process').ChildProcess} */ child) => new Promise((resolve) => {
  child.once('exit', resolve);
  child.kill();
});

const browser = await launchChromium();
const result = { console: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1240, height: 1200 } });
  const page = await context.newPage();
  // The console's errors, but on the guide's chapter offline (whose 503 the browser logs).
  let onGuide = false;
  page.on('console', (m) => { if (m.type() === 'error' && !onGuide) result.console.push(m.text()); });
  const ready = () => page.waitForFunction(() => window.faw?.state.ready || window.faw?.state.dataError,
    null, { timeout: 120000 });
  const seen = () => page.evaluate(() => ({
    ready: window.faw.state.ready, step: window.faw.state.step, losses: window.faw.state.losses,
    dataset: window.faw.state.dataset, threads: window.faw.state.threads,
    status: document.getElementById('load-status').textContent,
    data: document.getElementById('data-status').textContent,
    offline: document.getElementById('offline-status').textContent, kept: window.faw.state.offline,
    title: document.title, controlled: Boolean(navigator.serviceWorker.controller),
  }));
  // What the page keeps: `version` kept whole, and the data sets `sets`.
  const kept = (/** @type {string | null} */ version, /** @type {string[]} */ sets) => page.waitForFunction(
    ([v, s]) => {
      const o = window.faw.state.offline;
      return o?.page && (!v || o.version === v) && s.every((d) => o.kept.includes(d));
    }, [version, sets], { timeout: 120000 });
  // Every cache: its entries (relative to the page), each with its SHA-256 and size.
  const caches = () => page.evaluate(async () => {
    const base = new URL('./', location.href).href;
    const hex = (/** @type {ArrayBuffer} */ b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
    /** @type {Record<string, [string, string, number][]>} */
    const out = {};
    for (const name of await window.caches.keys()) {
      const cache = await window.caches.open(name);
      const entries = [];
      for (const r of await cache.keys()) {
        const body = await (await cache.match(r)).arrayBuffer();
        const key = r.url.startsWith(base) ? r.url.slice(base.length) || './' : r.url;
        entries.push([key, hex(await crypto.subtle.digest('SHA-256', body)), body.byteLength]);
      }
      out[name] = entries.sort();
    }
    return out;
  });
  // Trains `n` batches with the button, from the model at initialisation.
  const train = async (/** @type {number} */ n) => {
    await page.waitForFunction(() => window.faw.state.snapshots.length > 0);
    for (let i = 0; i < n; i++) await page.click('#one-batch');
    await page.waitForFunction((k) => window.faw.state.step >= k, n, { timeout: 120000 });
  };
  // A test image on the pad: the label the pad names, and what the network reads.
  const testImage = async () => {
    await page.click('#test-digit');
    await page.waitForFunction(() => /labelled/.test(document.getElementById('pad').getAttribute('aria-label'))
      && window.faw.state.reads, null, { timeout: 60000 });
    return page.evaluate(() => ({
      label: document.getElementById('pad').getAttribute('aria-label').replace(/.*labelled /, ''),
      reads: window.faw.state.reads,
    }));
  };

  // 1. Online: the page and MNIST, kept.
  const first = await server();
  let { child } = first;
  result.address = first.page;
  await page.goto(first.page);
  await ready();
  await kept(null, ['mnist']);
  await train(3);
  result.online = await seen();
  result.online.image = await testImage();
  result.cachesOnline = await caches();

  // 2. A chapter of the guide, online (where web/build.sh built the guide).
  const guide = new URL('guide/index.html', first.page.split('?')[0]).href;
  if (existsSync(join(args.site, 'guide', 'index.html'))) {
    await page.goto(guide);
    result.guideOnline = await page.title();
  }

  // 3. The data-set switch: Fashion-MNIST from the same server, trained and kept.
  await page.goto(first.page);
  await ready();
  await Promise.all([page.waitForNavigation(), page.selectOption('#dataset', 'fashion-mnist')]);
  await ready();
  await kept(null, ['mnist', 'fashion-mnist']);
  await train(3);
  result.fashionOnline = await seen();
  result.fashionOnline.address = page.url();
  result.fashionOnline.image = await testImage();
  const fashionAddress = page.url();

  // 4. The server stopped: the page's address opens the page, which trains
  // 10 batches of each data set; the guide's chapter says it is not kept.
  await stop(child);
  await page.goto(first.page);
  await ready();
  await train(10);
  result.offline = await seen();
  await page.goto(fashionAddress);
  await ready();
  await train(10);
  result.fashionOffline = await seen();
  result.fashionOffline.image = await testImage();
  if (result.guideOnline) {
    onGuide = true;
    await page.goto(guide);
    result.guideOffline = { title: await page.title(), text: await page.textContent('body') };
    await page.goto('about:blank');
    onGuide = false;
  }

  // 5. A new version, online: it replaces the kept one, whole; offline
  // again, it is the one that opens.
  const index = join(args.site, 'index.html');
  writeFileSync(index, readFileSync(index, 'utf8').replace(/<title>([^<]*)<\/title>/, '<title>$1 (new version)</title>'));
  execFileSync('python3', [join(import.meta.dirname, '..', 'stamp.py'), args.site]);
  result.newVersion = /^const VERSION = '([^']*)';$/m.exec(readFileSync(join(args.site, 'coi.js'), 'utf8'))[1];
  ({ child } = await server());
  await page.goto(first.page);
  await ready();
  await kept(result.newVersion, ['mnist', 'fashion-mnist']);
  result.updated = await seen();
  result.cachesUpdated = await caches();
  await stop(child);
  await page.reload();
  await ready();
  await kept(result.newVersion, ['mnist', 'fashion-mnist']);
  result.updatedOffline = await seen();
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
