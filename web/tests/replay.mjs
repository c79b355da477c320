// Opens a replay the crate wrote (src/viz/replay.rs) in headless Chromium
// and prints what it saw as one JSON object; tests/web.rs checks it. Usage:
//
//   node web/tests/replay.mjs --file REPLAY.html [--screenshot FILE] [--no-scripts FILE]
//
// With --no-scripts, the same file is also opened with JavaScript off (as
// GitHub's notebook view shows it) and a screenshot of that taken.
import { pathToFileURL } from 'node:url';
import { args, launchChromium } from './browser.mjs';

const browser = await launchChromium();
const result = { console: [], pageErrors: [], requests: [] };
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  page.on('console', (m) => m.type() === 'error' && result.console.push(m.text()));
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  page.on('request', (r) => !r.url().startsWith('file:') && !r.url().startsWith('data:') && result.requests.push(r.url()));
  await page.goto(pathToFileURL(args.file).href);
  const state = () => page.evaluate(() => ({
    canvas: document.querySelectorAll('.faw-replay canvas').length,
    images: document.querySelectorAll('.faw-replay img').length,
    label: document.querySelector('.faw-replay span')?.textContent,
    button: document.querySelector('.faw-replay button')?.textContent,
    max: document.querySelector('.faw-replay input[type=range]')?.max,
    pixels: (() => {
      const c = document.querySelector('.faw-replay canvas');
      return c ? Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 97 === 0)).join(',') : '';
    })(),
  }));
  result.start = await state();
  // The slider to the last frame.
  await page.evaluate(() => {
    const s = document.querySelector('.faw-replay input[type=range]');
    s.value = s.max;
    s.dispatchEvent(new Event('input'));
  });
  result.last = await state();
  // Play from the last frame starts again from the first and moves on.
  await page.click('.faw-replay button');
  result.playing = await state();
  await page.waitForTimeout(1000);
  result.played = await state();
  await page.click('.faw-replay button');
  result.paused = await state();
  // Paused, it stays where it is (a frame may have come between reading
  // `played` and the click).
  await page.waitForTimeout(1000);
  result.stillPaused = await state();
  if (args.screenshot) await page.locator('.faw-replay').screenshot({ path: args.screenshot });

  if (args['no-scripts']) {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 900, height: 700 } });
    const still = await context.newPage();
    await still.goto(pathToFileURL(args.file).href);
    result.noScripts = await still.evaluate(() => {
      const img = document.querySelector('.faw-replay img');
      return { canvas: document.querySelectorAll('.faw-replay canvas').length, image: img ? img.naturalWidth : 0 };
    });
    await still.locator('.faw-replay').screenshot({ path: args['no-scripts'] });
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
