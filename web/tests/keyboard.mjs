// The page from the keyboard alone, in Debian's headless Chromium
// (playwright-core): Tab reaches each control, Enter and Space work them.
// Prints what it saw as one JSON object for tests/web.rs. Usage:
//
//   node web/tests/keyboard.mjs --page URL --idx DATA --picture PNG
//
// It opens a picture (the file picker, reached by Tab), reads the nine
// products at a pixel with the arrow keys, opens filter 0's editor with
// Enter, sets it to a classic kernel and freezes it, trains a batch, takes
// a test digit, and checks that focus is drawn where it is. Then, with the
// mouse, the races a visitor can run into: the pad cleared while its
// prediction is on its way, a stroke drawn while another's prediction is,
// nine numbers typed while the model trains, and "start again" while it
// trains; a panic in the crate, then "start again"; the memory running
// out, then "start again"; and a phone's touch
// screen.
import { args, launchChromium } from './browser.mjs';

const browser = await launchChromium();
const result = { console: [], pageErrors: [], reached: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') result.console.push(m.text()); });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  // File choosers intercepted from the start: interception turned on only
  // when the wait for one begins races the key press that opens it (the
  // browser is told without waiting for its answer), and a chooser that
  // opens before goes unseen.
  page.on('filechooser', () => {});
  await page.goto(`${args.page}?data=${encodeURIComponent(args.idx)}&format=idx`);
  await page.waitForFunction(() => window.faw?.state.ready && window.faw.state.snapshots.length > 0,
    null, { timeout: 120000 });
  const state = (expr, arg) => page.evaluate(expr, arg);

  // Presses Tab until the focused element is `selector`'s (at most 300
  // times, round the page), unless it is already; records what it passed
  // through.
  async function tabTo(selector) {
    const here = () => page.evaluate((s) => document.activeElement === document.querySelector(s), selector);
    if (await here()) return true;
    for (let i = 0; i < 300; i++) {
      await page.keyboard.press('Tab');
      const [here, label] = await page.evaluate((s) => [
        document.activeElement === document.querySelector(s),
        document.activeElement.id || document.activeElement.getAttribute('aria-label') || document.activeElement.tagName,
      ], selector);
      if (!result.reached.includes(label)) result.reached.push(label);
      if (here) return true;
    }
    throw new Error(`Tab never reached ${selector}`);
  }
  // Whether focus is drawn: the focused element's outline.
  const outlined = () => page.evaluate(() => {
    const style = getComputedStyle(document.activeElement);
    return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  });

  // 1. A picture of one's own, through the file picker.
  await tabTo('#picture-file');
  result.pickerOutlined = await page.evaluate(() => {
    const style = getComputedStyle(document.activeElement.closest('label'));
    return style.outlineStyle !== 'none';
  });
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
  await chooser.setFiles(args.picture);
  await page.waitForFunction(() => document.getElementById('kernel-caption').textContent.includes('40×30'));
  result.picture = await state(() => document.getElementById('kernel-caption').textContent);

  // 2. The nine products at a pixel, with the arrow keys.
  await tabTo('#kernel-output');
  for (const key of ['ArrowRight', 'ArrowRight', 'ArrowDown']) await page.keyboard.press(key);
  result.products = await state(() => document.getElementById('products').textContent);
  await page.waitForFunction(() => document.getElementById('announce').textContent.includes('sum to'));
  result.productsSaid = await state(() => document.getElementById('announce').textContent);

  // 3. Filter 0: its editor with Enter, a classic kernel, frozen.
  await tabTo('#filters .filter:first-child');
  result.filterOutlined = await outlined();
  result.filterName = await state(() => document.activeElement.getAttribute('aria-label'));
  result.filterRole = await state(() => document.activeElement.getAttribute('role'));
  await page.keyboard.press('Enter');
  result.editorShown = await page.isVisible('#filter-editor');
  const before = await state(() => Array.from(window.faw.state.filters.slice(0, 9)));
  await tabTo('#editor-kernel');
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction((b) => window.faw.state.filters.slice(0, 9).some((v, i) => v !== b[i]), before);
  await tabTo('#editor-frozen');
  await page.keyboard.press('Space');
  await page.waitForFunction(() => window.faw.state.frozen.includes(0));
  result.frozenName = await state(() => document.querySelector('#filters .filter').getAttribute('aria-label'));
  const set = await state(() => Array.from(window.faw.state.filters.slice(0, 9)));

  // 4. One batch, by Enter on its button: filter 0 stays as it was set.
  await tabTo('#one-batch');
  result.buttonOutlined = await outlined();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.faw.state.step >= 1);
  result.step = await state(() => window.faw.state.step);
  result.frozenKept = await state((s) => window.faw.state.filters.slice(0, 9).every((v, i) => v === s[i]), set);

  // 5. A test digit instead of drawing one: the model's answer, said once.
  await tabTo('#test-digit');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.faw.state.prediction !== null);
  await page.waitForFunction(() => document.getElementById('announce').textContent.startsWith('it reads'));
  Object.assign(result, await state(() => ({
    reads: window.faw.state.reads,
    said: document.getElementById('announce').textContent,
    predictionName: document.getElementById('prediction').getAttribute('aria-label'),
    padName: document.getElementById('pad').getAttribute('aria-label'),
  })));

  // 6. Cleared while its prediction is on its way (behind a slice of
  // training in the worker): the bars and maps stay blank.
  await page.click('#play');
  const pad = await page.$('#pad');
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  await page.mouse.move(box.x + 140, box.y + 40);
  await page.mouse.down();
  await page.mouse.move(box.x + 140, box.y + 200);
  await page.mouse.up();
  await page.click('#clear-pad');
  await page.waitForTimeout(1500);
  await page.click('#play');
  result.afterClear = await state(() => ({
    prediction: window.faw.state.prediction !== null, maps: window.faw.state.maps !== null,
  }));

  // 6b. A stroke drawn while the last one's prediction is on its way (behind
  // three batches in the worker) is read too: the page asks again, when an
  // answer comes, for what changed while it was on its way, so once the
  // batches are done the answer shown comes to be the one for the whole
  // pad. Compared until it is, for up to 30 s: a loaded machine answers
  // late (a fixed 2 s was once too short).
  await page.click('#clear-pad');
  const stepBefore = await state(() => window.faw.state.step);
  await page.evaluate(() => { for (let i = 0; i < 3; i++) document.getElementById('one-batch').click(); });
  for (const x of [100, 180]) {
    await page.mouse.move(box.x + x, box.y + 40);
    await page.mouse.down();
    await page.mouse.move(box.x + x, box.y + 240);
    await page.mouse.up();
  }
  await page.waitForFunction((s) => window.faw.state.step >= s + 3, stepBefore, { timeout: 60000 });
  result.lastStroke = await page.evaluate(async () => {
    const t0 = performance.now();
    for (;;) {
      const whole = Array.from((await window.faw.predict(window.faw.pad())).probabilities);
      const shown = window.faw.state.prediction;
      const ms = Math.round(performance.now() - t0);
      if (JSON.stringify(shown) === JSON.stringify(whole) || ms > 30000) return { shown, whole, ms };
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  // 7. Nine numbers typed while it trains: they stay until they are used.
  await page.click('#filters .filter:nth-child(2)');
  await page.click('#play');
  const boxes = await page.$$('#editor-grid input');
  for (const [k, box] of boxes.entries()) {
    await box.fill(String((k + 1) / 10));
    await page.waitForTimeout(150);
  }
  const stepTyped = await state(() => window.faw.state.step);
  await page.waitForFunction((s) => window.faw.state.step > s + 2, stepTyped, { timeout: 60000 });
  result.typedKept = await page.$$eval('#editor-grid input', (inputs) => inputs.map((i) => i.value));
  await page.click('#play');

  // 8. Start again while it trains: no update of the old run, still on its
  // way, is taken into the new one.
  await page.click('#play');
  await page.waitForFunction(() => window.faw.state.step >= 30, null, { timeout: 60000 });
  await page.click('#restart');
  // The new run is there once its first snapshot (at initialisation) is
  // shown, which a loaded machine takes a while to send; an update of the
  // old run still on its way would have come by a second after that.
  await page.waitForFunction(() => window.faw.state.snapshots.length >= 1, null, { timeout: 60000 });
  await page.waitForTimeout(1000);
  result.afterRestart = await state(() => {
    const s = window.faw.state;
    return { step: s.step, losses: s.losses.length, snapshots: s.snapshots.length };
  });

  // The crate stopped by `stop` (a test hook): what the page said, with
  // every control but "start again" off; then "start again", which starts a
  // fresh worker, and one batch trained there: its step.
  async function stoppedThenStartedAgain(stop) {
    await page.evaluate(stop);
    await page.waitForFunction(() => document.getElementById('train-status').classList.contains('error'),
      null, { timeout: 60000 });
    const told = await state(() => ({
      status: document.getElementById('train-status').textContent,
      playDisabled: /** @type {HTMLButtonElement} */ (document.getElementById('play')).disabled,
      restartDisabled: /** @type {HTMLButtonElement} */ (document.getElementById('restart')).disabled,
    }));
    await page.click('#restart');
    await page.waitForFunction(() => window.faw.state.ready && !window.faw.state.stopped &&
      window.faw.state.snapshots.length > 0, null, { timeout: 60000 });
    await page.click('#one-batch');
    await page.waitForFunction(() => window.faw.state.step >= 1);
    return [told, await state(() => window.faw.state.step)];
  }

  // 9. A panic in the crate, as a bug would; then the memory running out
  // (the crate takes it until the browser refuses more), told so and not as
  // a bug. Both times "start again" trains afresh.
  [result.panic, result.afterPanic] = await stoppedThenStartedAgain(() => window.faw.panic());
  [result.memory, result.afterMemory] = await stoppedThenStartedAgain(() => window.faw.exhaustMemory());
  await page.close();

  // 10. A phone's touch screen, 360 CSS pixels wide: a tap on the kernel's
  // output shows the products, a tap on a filter opens its editor, a tap
  // on the pad draws and gets an answer.
  const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, hasTouch: true, isMobile: true });
  const touch = await phone.newPage();
  touch.on('pageerror', (e) => result.pageErrors.push(String(e)));
  await touch.goto(`${args.page}?data=${encodeURIComponent(args.idx)}&format=idx`);
  await touch.waitForFunction(() => window.faw?.state.ready && window.faw.state.snapshots.length > 0,
    null, { timeout: 120000 });
  await touch.tap('#kernel-output', { position: { x: 60, y: 60 } });
  const products = await touch.textContent('#products');
  await touch.tap('#filters .filter:nth-child(5)');
  const editor = await touch.isVisible('#filter-editor');
  await touch.tap('#pad', { position: { x: 120, y: 120 } });
  await touch.waitForFunction(() => window.faw.state.prediction !== null);
  result.touch = {
    products, editor, probabilities: await touch.evaluate(() => window.faw.state.prediction.length),
    wide: await touch.evaluate(() => document.documentElement.scrollWidth > window.innerWidth),
  };
  await phone.close();
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
