// What the page tells a visitor, without a browser: why it trains on one
// thread, and what to do when training cannot start. `node --test
// web/tests/unit/` (tests/web.rs runs it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explain, isDataFailure, memoryUnshareable, oneThread, PKG } from '../../messages.js';

test('each reason for one thread is told apart, and none is given where threads run', () => {
  const error = oneThread({ secure: true, isolated: true, error: 'it has no SharedArrayBuffer' });
  assert.match(error, /would not start WebAssembly threads \(it has no SharedArrayBuffer\)/);
  const lan = oneThread({ secure: false, isolated: false, error: null });
  assert.match(lan, /not a secure context/);
  assert.match(lan, /localhost/);
  assert.doesNotMatch(lan, /headers/);
  const headers = oneThread({ secure: true, isolated: false, error: null });
  assert.match(headers, /not cross-origin isolated/);
  assert.match(headers, /web\/serve\.py sends them/);
  assert.equal(oneThread({ secure: true, isolated: true, error: null }), '');
});

test('a browser that can share memory gets the threaded build, one that cannot the other', () => {
  // Node hands a SharedArrayBuffer to another thread, as an isolated page may.
  assert.equal(memoryUnshareable(), null);
  assert.equal(PKG(true, 2), './pkg-threads/filters_are_weights_web.js');
  assert.equal(PKG(true, 1), './pkg/filters_are_weights_web.js');
  assert.equal(PKG(false, 8), './pkg/filters_are_weights_web.js');
});

test('when training cannot start, no browser is named to switch to', () => {
  const c = { idx_files: [], datasets: [] };
  const d = { name: 'MNIST', parquet_files: [] };
  for (const kind of ['startup', 'worker']) {
    const text = explain({ kind, message: 'x' }, /** @type {any} */ (c), /** @type {any} */ (d));
    assert.match(text, /What to do: reload the page/);
    assert.doesNotMatch(text, /use a current|Chrome, Edge, Firefox or Safari/);
    assert.ok(isDataFailure({ kind, message: 'x' }));
  }
  const panic = explain({ kind: 'panic', message: 'panicked at x' }, /** @type {any} */ (c), /** @type {any} */ (d));
  assert.match(panic, /panicked at x/);
  assert.match(panic, /start again/);
  assert.ok(!isDataFailure({ kind: 'panic', message: '' }));
  // Running out of memory is not a bug: it says what to free, and to start again.
  const memory = explain({ kind: 'memory', message: 'the browser would not give it 64 MiB more' },
    /** @type {any} */ (c), /** @type {any} */ (d));
  assert.match(memory, /ran out of memory: the browser would not give it 64 MiB more/);
  assert.match(memory, /close other tabs.*start again/s);
  assert.doesNotMatch(memory, /bug/);
  assert.ok(!isDataFailure({ kind: 'memory', message: '' }));
});
