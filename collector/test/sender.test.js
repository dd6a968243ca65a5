import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createSender, parseRetryAfter } from '../src/sender.js';
import { startBackend, until } from './support/backend.js';
import { recordingLogger } from './support/logs.js';

const BATCH = { client_id: 'sim-1', messages: [{ chat_id: '1@g.us', chat_title: 'Phones', text: 'Pixel 8 Pro - $750', message_id: 'A1' }] };

/**
 * With fake timers on: advance the clock in `step` ms, letting real I/O run between steps, until
 * `predicate()` holds; returns the fake milliseconds that took.
 */
async function advanceUntil(t, predicate, { step = 50, limit = 20_000 } = {}) {
  let elapsed = 0;
  for (;;) {
    for (let turn = 0; turn < 60; turn += 1) {
      if (predicate()) return elapsed;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (elapsed >= limit) throw new Error(`not met within ${limit} fake ms`);
    t.mock.timers.tick(step);
    elapsed += step;
  }
}

async function setup(t, script) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const backend = await startBackend({ script });
  t.after(() => backend.close());
  const log = recordingLogger();
  let clock = Date.now();
  const sender = createSender({ url: backend.url, token: 'test-token', secret: 'test-secret', log, now: () => clock });
  return { backend, log, sender, advance: (ms) => { clock += ms; } };
}

test('200: one signed attempt of the exact bytes', async (t) => {
  const { backend, sender } = await setup(t, [200]);
  const result = await sender.deliver(BATCH);
  assert.equal(result.outcome, 'delivered');
  assert.equal(result.attempts, 1);
  assert.match(result.requestId, /^req/);
  assert.equal(backend.requests.length, 1);
  const [request] = backend.requests;
  assert.ok(request.tokenOk && request.signatureOk && request.timestampOk && request.lengthOk);
  assert.equal(request.path, '/integrations/whatsapp/ingest');
  assert.equal(request.raw.toString(), JSON.stringify(BATCH));
  assert.equal(request.headers['content-type'], 'application/json');
});

test('500 then 500 then 200: three attempts, 1 s then 2 s apart, each signed afresh', async (t) => {
  const { backend, sender, advance } = await setup(t, [500, 500, 200]);
  const delivery = sender.deliver(BATCH);
  await until(() => backend.requests.length === 1);
  advance(1000);
  assert.equal(await advanceUntil(t, () => backend.requests.length === 2), 1000);
  advance(2000);
  assert.equal(await advanceUntil(t, () => backend.requests.length === 3), 2000);
  const result = await delivery;
  assert.equal(result.outcome, 'delivered');
  assert.equal(result.attempts, 3);
  const stamps = backend.requests.map((request) => request.headers['x-signature-timestamp']);
  assert.equal(new Set(stamps).size, 3, 'each attempt has its own timestamp');
  assert.ok(backend.requests.every((request) => request.signatureOk && request.timestampOk));
  assert.ok(backend.requests.every((request) => request.raw.equals(backend.requests[0].raw)), 'the same bytes every time');
});

test('429 with Retry-After in seconds: the next attempt waits that long, not the 1 s backoff', async (t) => {
  const { backend, sender, log } = await setup(t, [{ status: 429, headers: { 'Retry-After': '3' } }, 200]);
  const delivery = sender.deliver(BATCH);
  await until(() => backend.requests.length === 1);
  assert.equal(await advanceUntil(t, () => backend.requests.length === 2), 3000);
  assert.equal((await delivery).outcome, 'delivered');
  const warning = log.entries.find((entry) => entry.level === 'warn');
  assert.equal(warning.status, 429);
  assert.equal(warning.retry_in_ms, 3000);
  assert.match(warning.request_id, /^req/);
});

test('429 with Retry-After shorter than the backoff: the backoff stands', async (t) => {
  const { backend, sender } = await setup(t, [500, { status: 429, headers: { 'Retry-After': '1' } }, 200]);
  const delivery = sender.deliver(BATCH);
  await until(() => backend.requests.length === 1);
  assert.equal(await advanceUntil(t, () => backend.requests.length === 2), 1000);
  assert.equal(await advanceUntil(t, () => backend.requests.length === 3), 2000);
  assert.equal((await delivery).outcome, 'delivered');
});

test('a dropped connection is retried', async (t) => {
  const { backend, sender } = await setup(t, ['drop', 200]);
  const delivery = sender.deliver(BATCH);
  await until(() => backend.requests.length === 1);
  assert.equal(await advanceUntil(t, () => backend.requests.length === 2), 1000);
  const result = await delivery;
  assert.equal(result.outcome, 'delivered');
  assert.equal(result.attempts, 2);
});

test('three failures: the batch is given back as failed, with the last status and request_id', async (t) => {
  const { backend, sender, log } = await setup(t, [503, 'drop', 502]);
  const delivery = sender.deliver(BATCH);
  await advanceUntil(t, () => backend.requests.length === 3);
  const result = await delivery;
  assert.equal(result.outcome, 'failed');
  assert.equal(result.attempts, 3);
  assert.equal(result.status, 502);
  assert.match(result.requestId, /^req/);
  assert.equal(log.entries.filter((entry) => entry.level === 'warn').length, 3);
});

test('a Retry-After too long to wait in place ends the attempts and is handed back', async (t) => {
  const { backend, sender } = await setup(t, [{ status: 429, headers: { 'Retry-After': '120' } }]);
  const result = await sender.deliver(BATCH);
  assert.equal(backend.requests.length, 1);
  assert.equal(result.outcome, 'failed');
  assert.equal(result.retryAfterMs, 120_000);
});

test('400: not retried, logged with the backend\'s request_id', async (t) => {
  const { backend, sender, log } = await setup(t, [{ status: 400, body: { detail: 'messages must be a list', request_id: 'abc123' } }, 200]);
  const result = await sender.deliver(BATCH);
  for (let turn = 0; turn < 200; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  t.mock.timers.tick(10_000);
  assert.equal(backend.requests.length, 1);
  assert.equal(result.outcome, 'rejected');
  assert.equal(result.requestId, 'abc123');
  const error = log.entries.find((entry) => entry.level === 'error');
  assert.equal(error.request_id, 'abc123');
  assert.equal(error.detail, 'messages must be a list');
});

test('a wrong token or secret: 401/403, not retried, given back as unauthorized', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const backend = await startBackend({ secret: 'the-real-secret' });
  t.after(() => backend.close());
  const sender = createSender({ url: backend.url, token: 'test-token', secret: 'an-old-secret' });
  const result = await sender.deliver(BATCH);
  assert.equal(result.outcome, 'unauthorized');
  assert.equal(result.status, 403);
  assert.equal(result.detail, 'invalid signature');
  const wrongToken = await createSender({ url: backend.url, token: 'retired', secret: 'the-real-secret' }).deliver(BATCH);
  assert.equal(wrongToken.status, 401);
  assert.equal(backend.requests.length, 2);
});

test('Retry-After: delay-seconds or an HTTP date', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  assert.equal(parseRetryAfter('7', now), 7000);
  assert.equal(parseRetryAfter('Mon, 30 Nov 2026 12:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('Mon, 30 Nov 2026 11:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), null);
  assert.equal(parseRetryAfter(undefined, now), null);
});
