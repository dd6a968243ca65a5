/**
 * Batching (playbook 7.3): messages wait in memory and go out as one batch when
 * BATCH_MAX_MESSAGES are waiting (or BATCH_MAX_BYTES of JSON, under the backend's body limit), or
 * BATCH_FLUSH_INTERVAL_MS after the first of them arrived, whichever comes first. One batch is in
 * flight at a time; messages that arrive meanwhile wait for the next. The queue is bounded: past
 * `maxQueued` messages (a long backend outage), full batches go straight to the spool instead of
 * memory.
 */

import { settledWithin } from './wait.js';

/**
 * @param {{maxMessages: number, maxBytes: number, flushIntervalMs: number,
 *          dispatch: (messages: object[]) => Promise<void>,
 *          overflow: (messages: object[]) => Promise<unknown>, maxQueued?: number}} options
 *   `dispatch` delivers (or spools) a batch and never throws; `overflow` writes one to the spool.
 */
export function createBatcher({ maxMessages, maxBytes, flushIntervalMs, dispatch, overflow, maxQueued = maxMessages * 20 }) {
  /** @type {{message: object, bytes: number}[]} */
  let queue = [];
  let queuedBytes = 0;
  let timer = null;
  let inflight = null;
  let inflightBatch = null;
  let closed = false;

  function take() {
    const batch = [];
    let bytes = 2;
    while (queue.length && batch.length < maxMessages) {
      const next = queue[0];
      if (batch.length && bytes + next.bytes + 1 > maxBytes) break;
      batch.push(next.message);
      bytes += next.bytes + 1;
      queuedBytes -= next.bytes;
      queue.shift();
    }
    return batch;
  }

  function full() {
    return queue.length >= maxMessages || queuedBytes >= maxBytes;
  }

  function arm() {
    if (!timer && queue.length && !closed) {
      timer = setTimeout(() => { timer = null; flush(); }, flushIntervalMs);
    }
  }

  /** Send the waiting messages now (one batch; more follow as each completes while full). */
  function flush() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (inflight || !queue.length) return inflight ?? Promise.resolve();
    const batch = take();
    inflightBatch = batch;
    inflight = dispatch(batch).finally(() => {
      inflight = null;
      inflightBatch = null;
      if (closed) return;
      if (full()) flush();
      else arm();
    });
    return inflight;
  }

  return {
    /**
     * Queue one contract message. Returns a promise that settles once any batch it pushed out of
     * memory is in the spool: the caller awaits it, so a flood waits on the disk instead of
     * filling memory.
     */
    add(message) {
      if (closed) throw new Error('the batcher is closed');
      const bytes = Buffer.byteLength(JSON.stringify(message), 'utf8');
      queue.push({ message, bytes });
      queuedBytes += bytes;
      const written = [];
      while (queue.length > maxQueued) {
        written.push(overflow(take()));
      }
      if (full()) flush();
      else arm();
      return Promise.all(written);
    },
    flush,
    get depth() { return queue.length; },
    get inflight() { return inflight; },
    /**
     * Stop batching: no new timer, wait up to `waitMs` for the batch in flight, and return what is
     * left: `{waiting: messages never sent, unfinished: the messages of a batch still in flight, or
     * null}` (the caller spools both; the backend dedupes a batch that did land meanwhile).
     */
    async close(waitMs = 5000) {
      closed = true;
      if (timer) { clearTimeout(timer); timer = null; }
      let unfinished = null;
      if (inflight) {
        const batch = inflightBatch;
        if (!(await settledWithin(inflight, waitMs))) unfinished = batch;
      }
      const waiting = queue.map((item) => item.message);
      queue = [];
      queuedBytes = 0;
      return { waiting, unfinished };
    },
  };
}
