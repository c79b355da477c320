// The page offline after one visit, in headless Chromium: web/serve.py
// serves a copy of the built page and a data set; the page loads it and
// keeps both; the server stops; the page, reloaded, trains 10 batches.
// Then a new version of the page (its index.html changed in the copy),
// served again on the same address, replaces the kept one on the next
// online visit, and is the one that opens offline after. Prints what it
// saw as one JSON object; tests/web.rs checks it. Usage:
//
//   node web/tests/offline.mjs --site DIR --data DIR [--prefix /faw/]
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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
    '--data', args.data], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  page.on('console', (m) => { if (m.type() === 'error') result.console.push(m.text()); });
  const ready = () => page.waitForFunction(() => window.faw?.state.ready || window.faw?.state.dataError,
    null, { timeout: 120000 });
  const seen = () => page.evaluate(() => ({
    ready: window.faw.state.ready, step: window.faw.state.step, losses: window.faw.state.losses,
    status: document.getElementById('load-status').textContent,
    offline: document.getElementById('offline-status').textContent, kept: window.faw.state.offline,
    title: document.title, controlled: Boolean(navigator.serviceWorker.controller),
  }));

  // 1. Online: the page and the data set, kept.
  const first = await server();
  let { child } = first;
  result.address = first.page;
  await page.goto(first.page);
  await ready();
  await page.waitForFunction(() => window.faw.state.offline?.page && window.faw.state.offline.kept.length > 0,
    null, { timeout: 120000 });
  result.online = await seen();
  // The page's files kept, each relative to the page ("./" the page itself).
  result.pageCache = await page.evaluate(async () => {
    const base = new URL('./', location.href).href;
    const keys = await (await caches.open('faw-page')).keys();
    return keys.map((k) => k.url.slice(base.length) || './').sort();
  });

  // 2. The server stopped: reloaded, the page opens and trains 10 batches.
  await stop(child);
  await page.reload();
  await ready();
  await page.waitForFunction(() => window.faw.state.snapshots.length > 0);
  for (let i = 0; i < 10; i++) await page.click('#one-batch');
  await page.waitForFunction(() => window.faw.state.step >= 10, null, { timeout: 120000 });
  result.offline = await seen();

  // 3. A new version, online: it replaces the kept one; offline again, it is the one that opens.
  const index = join(args.site, 'index.html');
  writeFileSync(index, readFileSync(index, 'utf8').replace(/<title>([^<]*)<\/title>/, '<title>$1 (new version)</title>'));
  ({ child } = await server());
  await page.reload();
  await ready();
  result.updated = await seen();
  await stop(child);
  await page.reload();
  await ready();
  result.updatedOffline = await seen();
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
