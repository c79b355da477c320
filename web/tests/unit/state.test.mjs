// The page's state without a browser: the history's thinning, the curves'
// merging, and how an update from the worker is taken (or not).
// `node --test web/tests/unit/` (tests/web.rs runs it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addAccuracy, addLosses, applyUpdate, newCurves, newRun, state, thin } from '../../js/state.js';

const limits = { snapshots: 4, losses: 4, accuracies: 3 };

/** An update of run `run` at `step`, as the worker sends it. */
const update = (run, step, more = {}) => ({
  run, step, epochsDone: 0, stepsPerEpoch: 30, losses: [], filters: new Float32Array(288).fill(step),
  nearest: new Float32Array(64), frozen: [], imagesPerSecond: 0, trainMs: 1, epochEnded: false, memoryBytes: 0,
  ...more,
});

/** A fresh copy of the page's state, at run 1. */
function fresh() {
  const s = structuredClone({ ...state, hand: null });
  newRun(s, false);
  return s;
}

test('thin keeps the first, the last and every other one', () => {
  assert.deepEqual(thin([0, 1, 2, 3, 4, 5]), [0, 2, 4, 5]);
  assert.deepEqual(thin([0, 1, 2, 3, 4]), [0, 2, 4]);
  assert.deepEqual(thin([7]), [7]);
});

test('past the limit, pairs of losses become their mean, and each stands for twice the batches', () => {
  const c = newCurves();
  addLosses(c, [1, 2, 3, 4, 5], 4);
  assert.deepEqual(c.losses, [1.5, 3.5]);
  assert.equal(c.lossEvery, 2);
  // Now two batches make one loss: 5 waits for 7.
  addLosses(c, [7], 4);
  assert.deepEqual(c.losses, [1.5, 3.5, 6]);
  assert.deepEqual(c.pending, []);
  addLosses(c, [1], 4);
  assert.deepEqual(c.pending, [1]);
});

test('accuracies are thinned past their limit', () => {
  const c = newCurves();
  for (let step = 1; step <= 4; step++) addAccuracy(c, step, step / 10, 3);
  assert.deepEqual(c.accuracy, [[1, 0.1], [3, 0.3], [4, 0.4]]);
});

test('an update is taken into the state: step, curves, a snapshot', () => {
  const s = fresh();
  const seen = applyUpdate(s, update(s.run, 1, { losses: [2.3], testAccuracy: 0.5 }), [1, 7, 15], limits);
  assert.equal(s.step, 1);
  assert.deepEqual(s.losses, [2.3]);
  assert.deepEqual(s.accuracy, [[1, 0.5]]);
  assert.equal(s.snapshots.length, 1);
  assert.equal(seen.snapshot.step, 1);
  assert.equal(seen.postEpoch, false);
});

test('an update of an earlier run changes nothing', () => {
  const s = fresh();
  applyUpdate(s, update(s.run, 5, { losses: [1] }), [1], limits);
  const run = newRun(s, false);
  assert.equal(applyUpdate(s, update(run - 1, 6, { losses: [0.5] }), [1], limits), null);
  assert.equal(s.step, 0);
  assert.deepEqual(s.losses, []);
  assert.deepEqual(s.snapshots, []);
});

test('a model opened starts the next run only once the worker has opened it', () => {
  const s = fresh();
  applyUpdate(s, update(s.run, 3, { losses: [1, 1, 1] }), [1], limits);
  const opened = applyUpdate(s, update(s.run + 1, 0, { opened: 'model.safetensors' }), [1], limits);
  assert.ok(opened);
  assert.equal(s.run, 2);
  assert.equal(s.opened, 'model.safetensors');
  assert.deepEqual(s.losses, []);
  assert.equal(s.snapshots.length, 1);
  // The run before it is over.
  assert.equal(applyUpdate(s, update(1, 4, { losses: [1] }), [1], limits), null);
});

test("the post's epochs are kept as they end; snapshots are thinned", () => {
  const s = fresh();
  for (let step = 1; step <= 5; step++) applyUpdate(s, update(s.run, step), [1], limits);
  assert.ok(s.snapshots.length <= limits.snapshots);
  assert.equal(s.snapshots.at(-1).step, 5);
  assert.equal(s.snapshots[0].step, 1);
  const seen = applyUpdate(s, update(s.run, 30, { epochEnded: true, epochsDone: 1 }), [1, 7, 15], limits);
  assert.equal(seen.postEpoch, true);
  assert.deepEqual(Object.keys(s.postEpochs), ['1']);
});
