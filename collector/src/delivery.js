/**
 * What happens to a batch: it is delivered now (sender.js, three attempts), or kept in the spool
 * (spool.js) and sent again later, or, when the backend refuses it for good, kept aside for an
 * operator. Counts `batches_success`, `batches_failed`, `batches_rejected`, `batches_spooled`,
 * `batches_replayed`, `messages_sent` and `messages_dropped` (metrics.js).
 *
 * The spool is drained one batch at a time, oldest first: every SPOOL_RETRY_INTERVAL_MS, and at once
 * after a live batch gets through (the backend is back). A spooled batch that fails again waits
 * longer each time (the interval doubled per failure, at most ten minutes, at least its
 * `Retry-After`), and the drain stops at the first failure so an outage is not hammered.
 */

import { settledWithin } from './wait.js';

const DEFER_MAX_MS = 10 * 60_000;

/**
 * @param {{sender: {deliver: Function}, spool: object, metrics: object, clientId: string,
 *          retryIntervalMs: number, log?: object, now?: () => number}} options
 */
export function createDelivery({ sender, spool, metrics, clientId, retryIntervalMs, log, now = Date.now }) {
  let draining = null;
  let timer = null;
  const handedOver = new WeakSet();

  async function keep(messages, reason, notBefore = 0) {
    let why = 'the spool is full (SPOOL_MAX_BYTES): this batch is LOST; deliver or clear the spool and raise the limit';
    try {
      if (await spool.add(messages, { reason, notBefore })) {
        metrics.add('batches_spooled');
        return true;
      }
    } catch (error) {
      why = `the spool could not be written (${error.code ?? error.message}): this batch is LOST; check SPOOL_DIR's disk`;
    }
    metrics.add('messages_dropped', messages.length);
    log?.error({
      messages: messages.length, spool_bytes: spool.bytes, spool_max_bytes: spool.maxBytes,
      message_ids: messages.map((message) => message.message_id).slice(0, 50),
    }, why);
    return false;
  }

  function record(result, count) {
    if (result.outcome === 'delivered') {
      metrics.add('batches_success');
      metrics.add('messages_sent', count);
      metrics.succeeded();
      log?.info({ messages: count, request_id: result.requestId, created: result.answer?.created ?? null,
        deduped: result.answer?.deduped ?? null, skipped: result.answer?.skipped ?? null }, 'batch delivered');
      if (result.answer?.errors?.length) {
        log?.warn({ request_id: result.requestId, errors: result.answer.errors.slice(0, 20) }, 'the backend skipped some messages of the batch');
      }
      return;
    }
    metrics.failed({ status: result.status, requestId: result.requestId, detail: result.detail });
    if (result.outcome === 'rejected') metrics.add('batches_rejected');
    else metrics.add('batches_failed');
  }

  /** Deliver a new batch of contract messages; spool it when that fails. Never throws. */
  async function dispatch(messages) {
    if (!messages.length) return;
    const result = await sender.deliver({ client_id: clientId, messages });
    record(result, messages.length);
    if (result.outcome === 'delivered') {
      if (spool.depth) drain();
    } else if (result.outcome === 'rejected') {
      const kept = await spool.reject(messages, refusalOf(result)).catch(() => false);
      if (!kept) await keep(messages, 'refused by the backend; the rejected folder is full');
    } else if (!handedOver.has(messages)) {
      const notBefore = result.retryAfterMs ? now() + result.retryAfterMs : 0;
      await keep(messages, result.outcome === 'unauthorized' ? 'credentials refused' : 'delivery failed', notBefore);
    }
  }

  async function drainOnce() {
    for (let entry = spool.next(); entry; entry = spool.next()) {
      const messages = await spool.read(entry);
      if (!messages) continue;
      const result = await sender.deliver({ client_id: clientId, messages });
      record(result, messages.length);
      if (result.outcome === 'delivered') {
        metrics.add('batches_replayed');
        await spool.remove(entry);
      } else if (result.outcome === 'rejected') {
        await spool.moveToRejected(entry, messages, refusalOf(result));
      } else {
        const wait = Math.max(Math.min(retryIntervalMs * 2 ** entry.failures, DEFER_MAX_MS), result.retryAfterMs ?? 0);
        spool.defer(entry, now() + wait);
        log?.warn({ spool_depth: spool.depth, retry_in_ms: wait }, 'the spool could not be delivered yet');
        return;
      }
    }
  }

  /** Send the spool's due batches now (one drain at a time). @returns {Promise<void>} */
  function drain() {
    if (!draining) {
      draining = drainOnce().catch((error) => log?.error({ error: error.message }, 'draining the spool failed'))
        .finally(() => { draining = null; });
    }
    return draining;
  }

  return {
    dispatch,
    drain,
    /** Keep messages in the spool without trying them (the batcher's overflow, shutdown). */
    keep: (messages, reason) => keep(messages, reason),
    /**
     * Spool a batch whose delivery is still running at shutdown; should that delivery fail later,
     * it is not spooled a second time.
     */
    handOver(messages, reason) {
      handedOver.add(messages);
      return keep(messages, reason);
    },
    /** Drain now and every `retryIntervalMs`. */
    start() {
      drain();
      timer = setInterval(drain, retryIntervalMs);
      timer.unref?.();
    },
    /**
     * Stop the periodic drain and give a running one up to `waitMs` to finish (a batch it delivered
     * is then off the disk too); one still running after that goes on, its batches staying on disk
     * until delivered (the backend dedupes a batch sent twice).
     */
    async stop(waitMs = 0) {
      clearInterval(timer);
      timer = null;
      if (draining && waitMs > 0) await settledWithin(draining, waitMs);
    },
  };
}

function refusalOf(result) {
  return { status: result.status, request_id: result.requestId, detail: result.detail, at: new Date().toISOString() };
}
