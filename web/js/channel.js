// The page's side of the training worker (worker.js): one worker at a
// time, started again from scratch after the crate has stopped in it. The
// messages both ways are defined in messages.js.

/** @type {Worker} */
let worker = null;
/** @type {(m: any) => void} */
let onMessage = () => {};
/** @type {(why: string) => void} */
let onFailure = () => {};

/**
 * Starts the worker; its messages go to `message`, and `failure` hears
 * that it could not start (its script or its imports). Returns false, with
 * `failure` told why, where the browser has no module workers.
 * @param {(m: any) => void} message
 * @param {(why: string) => void} failure
 */
export function startWorker(message, failure) {
  onMessage = message;
  onFailure = failure;
  try {
    worker = new Worker('worker.js', { type: 'module' });
  } catch (e) {
    failure(e.message);
    return false;
  }
  worker.onmessage = ({ data }) => onMessage(data);
  // A worker that cannot start says only this.
  worker.onerror = (e) => {
    e.preventDefault();
    onFailure(e.message || 'its script failed to load');
  };
  return true;
}

/** Ends the worker and starts a fresh one, with the same listeners. */
export function replaceWorker() {
  worker.terminate();
  return startWorker(onMessage, onFailure);
}

/**
 * Sends the worker message `type` (one of messages.js' TO_WORKER).
 * @param {string} type
 * @param {object} data
 * @param {Transferable[]} transfer
 */
export function send(type, data = {}, transfer = []) {
  worker.postMessage({ type, ...data }, transfer);
}

/**
 * Calls `fn` with every message until it returns true.
 * @param {(m: any) => boolean} fn
 */
export function listenUntil(fn) {
  const listener = (/** @type {MessageEvent} */ { data }) => {
    if (fn(data)) worker.removeEventListener('message', listener);
  };
  worker.addEventListener('message', listener);
}
