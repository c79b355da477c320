// What the page's browser scripts share (page.mjs, engines.mjs,
// keyboard.mjs, replay.mjs): their `--name value` arguments, and Debian's
// Chromium started headless the way this machine needs it.
import { chromium } from 'playwright-core';

/** `--name value` pairs of the command line, as an object. */
export const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);

/**
 * Headless Chromium (CHROMIUM names the binary, else Debian's), without
 * the background connections a closed network refuses, many at a time.
 * @param {string[]} more further command-line switches
 */
export const launchChromium = (more = []) => chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', ...more],
});
