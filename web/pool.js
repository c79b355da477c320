// Starts the threaded build's pool of threads (rayon's, through
// wasm-bindgen-rayon) for the training worker, on a thread of its own.
//
// Why a worker of its own: building the pool blocks the thread that builds
// it until every thread of the pool runs, and Firefox, under load, now and
// then never runs one. A training worker blocked that way could not give
// up; this worker blocks instead, and the training worker waits for its
// answer with a time limit, past which it trains with the one-thread build
// (worker.js' start). The pool's threads are this worker's own workers, so
// it stays alive as long as they are needed.
//
// In: messages.js' PoolStart (the training worker's compiled module and its
// shared memory). Out: messages.js' PoolStarted.
import { PKG } from './messages.js';

/** @typedef {import('./messages.js').PoolStart} PoolStart */

self.addEventListener('message', async (/** @type {MessageEvent<PoolStart>} */ { data }) => {
  try {
    /** @type {typeof import('./dist/pkg-threads/filters_are_weights_web.js')} */
    const crate = await import(PKG(true, data.threads));
    // A thread of the training worker's module: its memory, not a new one.
    await crate.default({ module_or_path: data.module, memory: data.memory });
    await crate.initThreadPool(data.threads);
    postMessage(/** @type {import('./messages.js').PoolStarted} */ ({ started: true }));
  } catch (e) {
    postMessage(/** @type {import('./messages.js').PoolStarted} */ ({ started: false, error: e.message || String(e) }));
  }
}, { once: true });
