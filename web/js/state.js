// What the page shows, as data, and how each update from the worker
// changes it. No DOM here: `node --test web/tests/unit/` runs it as it is.
// `window.faw.state` is this object, for the browser tests.

/**
 * A model's curves: the losses kept (each the mean of `lossEvery` batches'),
 * the batches' losses not yet merged, and [step, accuracy] pairs.
 * @typedef {{ losses: number[], lossEvery: number, pending: number[], accuracy: [number, number][] }} Curves
 */
/**
 * The filters at one step, for the slider: 288 weights, and each filter's
 * nearest classic kernel as pairs [index, similarity, ...].
 * @typedef {{ step: number, stepsPerEpoch: number, filters: Float32Array | number[],
 *   nearest: Float32Array | number[] }} Snapshot
 */
/** @typedef {import('../messages.js').Update} Update */

// History kept for the slider and the curves: past these counts, older
// entries are thinned out (every other one goes, or two losses become their
// mean), so that a long run stays in bounded memory.
export const limits = { snapshots: 400, losses: 4000, accuracies: 1000 };

/** @returns {Curves} */
export const newCurves = () => ({ losses: [], lossEvery: 1, pending: [], accuracy: [] });

// `run` counts the models trained since the page opened (each start again
// and each model opened is a new one): an update from an earlier run,
// still on its way, is not taken. `losses`, `lossEvery`, `pending` and
// `accuracy` are the learned model's curves; `hand` holds the same for the
// hand-chosen model, when it trains beside it. `frozen`: the frozen
// filters' indices; `opened`: the model file the run started from.
export const state = {
  ready: false, run: 0, step: 0, epochsDone: 0, ...newCurves(),
  /** @type {Uint8Array} the kernel's output, a byte a pixel */ kernelOutput: null,
  /** @type {Snapshot[]} */ snapshots: [],
  /** @type {Record<number, Float32Array>} */ postEpochs: {},
  /** @type {Float32Array} */ filters: null,
  /** @type {number[]} */ prediction: null,
  /** @type {number[]} */ logits: null,
  /** @type {Float32Array} */ maps: null,
  /** @type {string} the class the model reads */ reads: null,
  /** @type {import('../messages.js').StepShown} */ stepShown: null,
  imagesPerSecond: 0, trainMs: 0, workerMemory: 0,
  /** @type {string} */ dataError: null,
  /** @type {string} */ startError: null,
  /** @type {number} performance.now() at the first trained filters drawn */ firstTrainedDrawAt: null,
  /** @type {number} */ threads: null,
  /** @type {{ bytes: number, filters: Float32Array }} the last model file saved */ modelFile: null,
  /** @type {number[]} */ frozen: [],
  /** @type {Curves} */ hand: null,
  /** @type {string} */ dataset: null,
  /** @type {number} the filter being edited */ editing: null,
  /** @type {string} */ opened: null,
  /** @type {import('../messages.js').SecondLayerSeen} what the second layer saw last */ secondLayer: null,
  /** @type {{ query: string, here: string, error: string }} this run as a link's query (js/link.js) */ link: null,
  /** @type {string} why the page's link could not be replayed */ linkError: null,
  /** @type {{ kept: string[], page: boolean, version?: string, usage?: number }} what this browser keeps offline */ offline: null,
  /** @type {{ kind: string, name: string, bytes: number, inputs: string }} the last picture saved */ figure: null,
  stopped: false,
};

/**
 * Keeps every other entry of `list` but the first and the last.
 * @template T
 * @param {T[]} list
 * @returns {T[]}
 */
export function thin(list) {
  return list.filter((_, i) => i === 0 || i === list.length - 1 || i % 2 === 0);
}

/**
 * Adds batches' losses to `series`; past `limit`, pairs of old ones become
 * their mean and each kept loss stands for twice as many batches (none is
 * lost: an odd one out waits in `pending` for its pair).
 * @param {Curves} series
 * @param {Iterable<number>} losses
 * @param {number} limit
 */
export function addLosses(series, losses, limit = limits.losses) {
  for (const v of losses) {
    series.pending.push(v);
    if (series.pending.length < series.lossEvery) continue;
    series.losses.push(series.pending.reduce((a, b) => a + b, 0) / series.pending.length);
    series.pending = [];
    if (series.losses.length > limit) {
      const merged = [];
      for (let i = 0; i + 1 < series.losses.length; i += 2) merged.push((series.losses[i] + series.losses[i + 1]) / 2);
      // An odd one out waits for its pair: it stands for `lossEvery` batches
      // of the next mean.
      if (series.losses.length % 2) series.pending = Array(series.lossEvery).fill(series.losses.at(-1));
      series.losses = merged;
      series.lossEvery *= 2;
    }
  }
}

/**
 * A test accuracy after batch `step`, kept within `limit` entries.
 * @param {Curves} series
 * @param {number} step
 * @param {number} accuracy
 * @param {number} limit
 */
export function addAccuracy(series, step, accuracy, limit = limits.accuracies) {
  series.accuracy.push([step, accuracy]);
  if (series.accuracy.length > limit) series.accuracy = thin(series.accuracy);
}

/**
 * A new run: its number, empty curves and history (`handChosen`: with the
 * hand-chosen model's curves beside).
 * @param {typeof state} s
 * @param {boolean} handChosen
 * @returns {number} the run's number, for the worker
 */
export function newRun(s, handChosen) {
  Object.assign(s, {
    run: s.run + 1, step: 0, epochsDone: 0, ...newCurves(), snapshots: [], postEpochs: {}, trainMs: 0, frozen: [],
    hand: handChosen ? newCurves() : null, opened: null, secondLayer: null,
  });
  return s.run;
}

/**
 * Takes an update from the worker into `s`. Returns the snapshot it adds
 * (for the slider), and whether it completed one of `postEpochs` (the
 * post's figure) or an epoch; null for an update of another run (one
 * started before the last start again, still on its way), which changes
 * nothing.
 * @param {typeof state} s
 * @param {Update} m
 * @param {number[]} postEpochs
 * @param {typeof limits} lim
 * @returns {{ snapshot: Snapshot, postEpoch: boolean, epochEnded: boolean } | null}
 */
export function applyUpdate(s, m, postEpochs, lim = limits) {
  // A model opened from a file starts the run the page asked it to (the
  // next one) only once the worker has opened it: until then, and if it
  // cannot, the run goes on.
  const opened = m.opened && m.run > s.run;
  if (m.run !== s.run && !opened) return null;
  if (opened) {
    // A new history (the hand-chosen model beside, if on, starts again with it).
    Object.assign(s, {
      run: m.run, ...newCurves(), snapshots: [], postEpochs: {}, hand: s.hand && newCurves(), opened: m.opened,
    });
  }
  s.step = m.step;
  s.epochsDone = m.epochsDone;
  s.filters = m.filters;
  s.frozen = Array.from(m.frozen);
  s.workerMemory = m.memoryBytes;
  s.imagesPerSecond = m.imagesPerSecond;
  s.trainMs += m.trainMs;
  addLosses(s, m.losses, lim.losses);
  if (m.testAccuracy !== undefined && m.step > 0) addAccuracy(s, m.step, m.testAccuracy, lim.accuracies);
  if (m.hand && s.hand) {
    addLosses(s.hand, m.hand.losses, lim.losses);
    if (m.hand.testAccuracy !== undefined && m.step > 0) addAccuracy(s.hand, m.step, m.hand.testAccuracy, lim.accuracies);
  }
  const snapshot = { step: m.step, stepsPerEpoch: m.stepsPerEpoch, filters: m.filters, nearest: m.nearest };
  s.snapshots.push(snapshot);
  if (s.snapshots.length > lim.snapshots) s.snapshots = thin(s.snapshots);
  const postEpoch = m.epochEnded && postEpochs.includes(m.epochsDone);
  if (postEpoch) s.postEpochs[m.epochsDone] = m.filters;
  return { snapshot, postEpoch, epochEnded: m.epochEnded };
}
