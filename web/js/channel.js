// The page's side of the training worker (worker.js): one worker at a
// time, started again from scratch after the crate has stopped in it. The
// messages both ways are defined in messages.js.

/** @type {Worker} */
let worker = null;
/** @type {(m: any) => void} */
let onMessage = () => {};
/** @type {(why: string) => void} */
let onFailure = () => {};
// Whether the worker has said anything yet; what was sent to it before.
let heard = false;
/** @type {object[]} */
let unheard = [];

/**
 * Starts the worker; its messages go to `message`, and `failure` hears
 * that it could not start (its script or its imports). Returns false, with
 * `failure` told why, where the browser has no module workers.
 * @param {(m: any) => void} message
 * @param {(why: string) => void} failure
 */
export function startWorker(message, failure) {
  return start(message, failure, 'worker.js');
}

/**
 * @param {(m: any) => void} message
 * @param {(why: string) => void} failure
 * @param {string} url the worker's script
 */
function start(message, failure, url) {
  onMessage = message;
  onFailure = failure;
  heard = false;
  try {
    worker = new Worker(url, { type: 'module' });
  } catch (e) {
    failure(e.message);
    return false;
  }
  worker.onmessage = ({ data }) => {
    heard = true;
    unheard = [];
    onMessage(data);
  };
  // A worker that cannot start says only this. WebKit cannot start a
  // module worker whose script the server answered "not modified" (a
  // reload of the page, every other time): once, it is asked for afresh.
  worker.onerror = (e) => {
    e.preventDefault();
    if (!heard && url === 'worker.js') {
      worker.terminate();
      const again = unheard;
      start(message, failure, `worker.js?fresh=${Date.now()}`);
      for (const m of again) worker.postMessage(m);
      unheard = again;
      return;
    }
    onFailure(e.message || 'its script failed to load');
  };
  return true;
}

/** Ends the worker and starts a fresh one, with the same listeners. */
export function replaceWorker() {
  worker.terminate();
  unheard = [];
  return startWorker(onMessage, onFailure);
}

/**
 * Sends the worker message `type` (one of messages.js' TO_WORKER).
 * @param {string} type
 * @param {object} data
 * @param {Transferable[]} transfer
 */
export function send(type, data = {}, transfer = []) {
  const m = { type, ...data };
  // Kept until the worker is heard from, to be sent again if it has to
  // be started again (nothing transferred is sent that early).
  if (!heard && !transfer.length) unheard.push(m);
  worker.postMessage(m, transfer);
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
