// The page's pictures for slides, in headless Chromium: after one batch
// shown and the rest of epoch 1 (the post's stops on), each "save" button's
// file, kept in --out, with what the page says it was drawn from; and what
// the page says when a picture cannot be drawn yet. Prints what it saw as
// one JSON object; tests/web.rs draws each again with the native crate and
// compares. Usage:
//
//   node web/tests/figures.mjs --page URL --idx DATA --out DIR
import { join } from 'node:path';
import { args, launchChromium } from './browser.mjs';

const browser = await launchChromium();
const result = { console: [], pageErrors: [], files: {} };
try {
  const context = await browser.newContext({ viewport: { width: 1240, height: 1200 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') result.console.push(m.text()); });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  await page.goto(`${args.page}?data=${encodeURIComponent(args.idx)}&format=idx`);
  await page.waitForFunction(() => window.faw?.state.ready && window.faw.state.snapshots.length > 0, null,
    { timeout: 120000 });
  const status = () => page.evaluate(() => document.getElementById('figures-status').textContent);

  // Before any epoch has ended: the post's figure cannot be drawn, and the page says why.
  await page.click('#one-batch');
  await page.waitForFunction(() => window.faw.state.stepShown !== null);
  await page.click('#save-post');
  await page.waitForFunction(() => /could not/i.test(document.getElementById('figures-status').textContent));
  result.tooSoon = await status();

  // The rest of epoch 1, pausing at its end.
  await page.check('#post-stops');
  await page.click('#play');
  await page.waitForFunction(() => window.faw.state.epochsDone >= 1 &&
    document.getElementById('play').textContent.includes('train'), null, { timeout: 300000 });
  result.snapshots = await page.evaluate(() => window.faw.state.snapshots.length);
  for (const [id, kind] of [['save-filters', 'filters'], ['save-post', 'post'], ['save-curves', 'curves'],
    ['save-step', 'step'], ['save-evolution', 'evolution']]) {
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 300000 }), page.click(`#${id}`)]);
    const path = join(args.out, download.suggestedFilename());
    await download.saveAs(path);
    const figure = await page.evaluate(() => window.faw.state.figure);
    result.files[kind] = { path, name: download.suggestedFilename(), inputs: JSON.parse(figure.inputs),
      status: await status() };
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
