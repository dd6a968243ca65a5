/**
 * The collector assembled: settings (config.js) → status server (status.js) → spool (spool.js) →
 * sender (sender.js) → delivery (delivery.js) → batcher (batcher.js) ← source (source.js, WhatsApp).
 *
 * `runCollector` starts everything and returns a handle whose `stop()` shuts down without losing a
 * message: the socket is closed, messages still being read are queued, the batch in flight gets a
 * few seconds to land, and whatever is left (the queue, an unfinished batch) goes to the spool,
 * to be sent on the next start.
 */

import pino from 'pino';

import { createBatcher } from './batcher.js';
import { loadConfig } from './config.js';
import { createDelivery } from './delivery.js';
import { createMetrics } from './metrics.js';
import { createSender } from './sender.js';
import { createSource } from './source.js';
import { openSpool } from './spool.js';
import { startStatusServer } from './status.js';

const SHUTDOWN_WAIT_MS = 5000;

/**
 * Start the collector.
 * @param {{env?: object, cwd?: string, log?: object, qrOut?: {write: Function},
 *          makeSocket?: Function, loadAuthState?: Function, download?: Function,
 *          reconnect?: {minMs: number, maxMs: number}}} options the last four replace Baileys (tests)
 * @returns {Promise<{config, metrics, spool, batcher, source, port: number, stop: () => Promise<void>}>}
 * @throws {ConfigError} when a setting is missing or bad (nothing is started)
 */
export async function runCollector({ env = process.env, cwd = process.cwd(), log, qrOut, makeSocket, loadAuthState, download, reconnect } = {}) {
  const config = loadConfig(env, cwd);
  const logger = log ?? pino({ level: config.logLevel, base: { service: 'whatsapp-collector', client_id: config.clientId } });
  const baileysLogger = logger.child({ module: 'baileys' }, { level: config.baileysLogLevel });
  if (!config.hmacSecret) {
    logger.warn('WHATSAPP_INGEST_HMAC_SECRET is not set: batches are sent without a signature (the backend refuses them if it has a secret)');
  }

  const metrics = createMetrics({ clientId: config.clientId });
  const spool = await openSpool({ dir: config.spoolDir, maxBytes: config.spoolMaxBytes, log: logger });
  const sender = createSender({
    url: config.ingestUrl, token: config.token, secret: config.hmacSecret, timeoutMs: config.requestTimeoutMs, log: logger,
  });
  const delivery = createDelivery({
    sender, spool, metrics, clientId: config.clientId, retryIntervalMs: config.spoolRetryIntervalMs, log: logger,
  });
  const batcher = createBatcher({
    maxMessages: config.batchMaxMessages,
    maxBytes: config.batchMaxBytes,
    flushIntervalMs: config.batchFlushIntervalMs,
    dispatch: delivery.dispatch,
    overflow: (messages) => delivery.keep(messages, 'the in-memory queue was full'),
  });
  metrics.setGauges(() => ({
    queue_depth: batcher.depth, spool_depth: spool.depth, spool_bytes: spool.bytes,
    spool_max_bytes: spool.maxBytes, rejected_depth: spool.rejectedDepth,
  }));
  const status = await startStatusServer({ metrics, host: config.statusHost, port: config.port, token: config.statusToken, log: logger });
  const source = createSource({
    authStateDir: config.authStateDir, mediaMaxBytes: config.mediaMaxBytes, onMessage: (message) => batcher.add(message),
    metrics, log: logger, baileysLogger, qrOut, pairingPhoneNumber: config.pairingPhoneNumber,
    makeSocket, loadAuthState, download, reconnect,
  });
  delivery.start();
  logger.info({
    ingest_url: config.ingestUrl, auth_state_dir: config.authStateDir, spool_dir: config.spoolDir,
    batch_max_messages: config.batchMaxMessages, batch_flush_interval_ms: config.batchFlushIntervalMs,
  }, 'collector starting');
  try {
    await source.start();
  } catch (error) {
    await status.close();
    delivery.stop();
    throw error;
  }

  let stopping = null;
  async function stop() {
    stopping ??= (async () => {
      await source.stop();
      const { waiting, unfinished } = await batcher.close(SHUTDOWN_WAIT_MS);
      if (unfinished?.length) await delivery.handOver(unfinished, 'still being delivered at shutdown');
      if (waiting.length) await delivery.keep(waiting, 'waiting for a batch at shutdown');
      await delivery.stop(SHUTDOWN_WAIT_MS);
      metrics.setState('stopped', 'the collector stopped');
      await status.close();
      logger.info({ spooled: (unfinished?.length ?? 0) + waiting.length, spool_depth: spool.depth }, 'collector stopped');
    })();
    return stopping;
  }

  return { config, metrics, spool, batcher, source, delivery, port: status.port, stop, log: logger };
}
