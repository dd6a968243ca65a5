import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { createDelivery } from '../src/delivery.js';
import { createMetrics } from '../src/metrics.js';
import { createSender } from '../src/sender.js';
import { openSpool } from '../src/spool.js';
import { startBackend } from './support/backend.js';
import { recordingLogger } from './support/logs.js';

const message = (i) => ({ chat_id: '1@g.us', chat_title: 'Phones', text: `Galaxy S24 ${i} - 700 EUR`, message_id: `S${i}` });

async function folder(t) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'collector-spool-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a spooled batch survives a restart, oldest first, and is gone once removed', async (t) => {
  const dir = await folder(t);
  const first = await openSpool({ dir, maxBytes: 1024 * 1024 });
  assert.equal(await first.add([message(1)], { reason: 'delivery failed' }), true);
  assert.equal(await first.add([message(2), message(3)], { reason: 'delivery failed' }), true);
  assert.equal(first.depth, 2);

  const again = await openSpool({ dir, maxBytes: 1024 * 1024 });
  assert.equal(again.depth, 2);
  assert.equal(again.bytes, first.bytes);
  const entry = again.next();
  assert.deepEqual((await again.read(entry)).map((m) => m.message_id), ['S1']);
  await again.remove(entry);
  assert.deepEqual((await again.read(again.next())).map((m) => m.message_id), ['S2', 'S3']);
  assert.equal((await fs.readdir(path.join(dir, 'pending'))).length, 1);
  const stat = await fs.stat(path.join(dir, 'pending'));
  assert.equal(stat.mode & 0o777, 0o700, 'the spool holds message texts: owner only');
});

test('a write cut short by a crash (.tmp) is cleared at start; a corrupt file is set aside, not lost', async (t) => {
  const dir = await folder(t);
  await fs.mkdir(path.join(dir, 'pending'), { recursive: true });
  await fs.writeFile(path.join(dir, 'pending', '000000000000001-x.json.tmp'), '{"version":1,"mess');
  await fs.writeFile(path.join(dir, 'pending', '000000000000002-x.json'), 'not json');
  const log = recordingLogger();
  const spool = await openSpool({ dir, maxBytes: 1024 * 1024, log });
  assert.deepEqual(await fs.readdir(path.join(dir, 'pending')), ['000000000000002-x.json']);
  assert.equal(await spool.read(spool.next()), null);
  assert.equal(spool.depth, 0);
  assert.equal(spool.rejectedDepth, 1);
  assert.deepEqual(await fs.readdir(path.join(dir, 'rejected')), ['000000000000002-x.json']);
  assert.match(log.entries.find((entry) => entry.level === 'error').msg, /cannot be read/);
});

test('bounded: past SPOOL_MAX_BYTES a batch is refused and nothing is written', async (t) => {
  const dir = await folder(t);
  const spool = await openSpool({ dir, maxBytes: 400 });
  assert.equal(await spool.add([message(1)]), true);
  assert.equal(await spool.add([message(2)]), true);
  assert.equal(await spool.add([message(3)]), false);
  assert.equal(spool.depth, 2);
  assert.ok(spool.bytes <= 400);
});

test('deferred entries wait for their time', async (t) => {
  const dir = await folder(t);
  let clock = 1000;
  const spool = await openSpool({ dir, maxBytes: 1024 * 1024, now: () => clock });
  await spool.add([message(1)], { notBefore: 5000 });
  assert.equal(spool.next(), null);
  clock = 5000;
  assert.ok(spool.next());
});

async function deliverySetup(t, { script = [], maxBytes = 1024 * 1024 } = {}) {
  const dir = await folder(t);
  const backend = await startBackend({ script });
  t.after(() => backend.close());
  const log = recordingLogger();
  const metrics = createMetrics({ clientId: 'sim-1' });
  const spool = await openSpool({ dir, maxBytes, log });
  const sender = createSender({ url: backend.url, token: 'test-token', secret: 'test-secret', log });
  const delivery = createDelivery({ sender, spool, metrics, clientId: 'sim-1', retryIntervalMs: 60_000, log });
  return { dir, backend, log, metrics, spool, delivery };
}

test('a batch that fails every attempt is spooled, then replayed once the backend answers', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { backend, metrics, spool, delivery } = await deliverySetup(t, { script: [{ status: 429, headers: { 'Retry-After': '600' } }] });
  await delivery.dispatch([message(1), message(2)]);
  assert.equal(metrics.value('batches_failed'), 1);
  assert.equal(metrics.value('batches_spooled'), 1);
  assert.equal(spool.depth, 1);
  assert.equal(spool.next(), null, 'Retry-After: not before ten minutes');
  spool.defer(spool.next(Infinity), 0);
  await delivery.drain();
  assert.equal(spool.depth, 0);
  assert.equal(metrics.value('batches_replayed'), 1);
  assert.equal(metrics.value('messages_sent'), 2);
  assert.deepEqual(backend.requests.at(-1).body.messages.map((m) => m.message_id), ['S1', 'S2']);
  assert.ok(backend.requests.at(-1).signatureOk);
});

test('a 400 is kept in rejected/ with the refusal, never resent', async (t) => {
  const { dir, metrics, spool, delivery, backend } = await deliverySetup(t, { script: [{ status: 400, body: { detail: 'bad', request_id: 'rid400' } }] });
  await delivery.dispatch([message(1)]);
  assert.equal(metrics.value('batches_rejected'), 1);
  assert.equal(spool.depth, 0);
  const [name] = await fs.readdir(path.join(dir, 'rejected'));
  const kept = JSON.parse(await fs.readFile(path.join(dir, 'rejected', name), 'utf8'));
  assert.equal(kept.refusal.request_id, 'rid400');
  assert.equal(kept.refusal.status, 400);
  assert.deepEqual(kept.messages, [message(1)]);
  await delivery.drain();
  assert.equal(backend.requests.length, 1);
  assert.deepEqual(metrics.snapshot().last_failure.request_id, 'rid400');
});

test('401/403 (credentials): spooled, to go once the collector has the right ones', async (t) => {
  const { spool, delivery, metrics } = await deliverySetup(t, { script: [401] });
  await delivery.dispatch([message(1)]);
  assert.equal(spool.depth, 1);
  assert.equal(metrics.value('batches_failed'), 1);
});

test('a full spool: the batch is lost, counted and logged as an error', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { spool, delivery, metrics, log } = await deliverySetup(t, { script: [401, 401], maxBytes: 250 });
  await delivery.dispatch([message(1)]);
  await delivery.dispatch([message(2), message(3)]);
  assert.equal(spool.depth, 1);
  assert.equal(metrics.value('messages_dropped'), 2);
  const error = log.entries.find((entry) => entry.level === 'error' && /LOST/.test(entry.msg));
  assert.deepEqual(error.message_ids, ['S2', 'S3']);
});

test('a drain stops at the first failure and waits longer each time', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { spool, delivery, backend } = await deliverySetup(t, { script: [401, 401, 401, 401] });
  await delivery.dispatch([message(1)]);
  await delivery.dispatch([message(2)]);
  assert.equal(spool.depth, 2);
  const oldest = spool.next();
  await delivery.drain();
  assert.equal(backend.requests.length, 3, 'one more try, then the drain stops');
  assert.ok(oldest.notBefore >= Date.now() + 59_000, 'the failed one waits SPOOL_RETRY_INTERVAL_MS');
  assert.notEqual(spool.next(), oldest);
  spool.defer(oldest, 0);
  await delivery.drain();
  assert.ok(oldest.notBefore >= Date.now() + 119_000, 'then twice as long');
});

test('a spool that cannot be written (a read-only disk): the batch is counted lost and logged, nothing throws', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { dir, spool, delivery, metrics, log } = await deliverySetup(t, { script: [401] });
  // The folder replaced by a file: no user, root included, can write into it.
  await fs.rm(path.join(dir, 'pending'), { recursive: true });
  await fs.writeFile(path.join(dir, 'pending'), '');
  await delivery.dispatch([message(1)]);
  assert.equal(spool.depth, 0);
  assert.equal(metrics.value('messages_dropped'), 1);
  assert.match(log.entries.find((entry) => entry.level === 'error' && /LOST/.test(entry.msg)).msg, /could not be written \(E/);
});
