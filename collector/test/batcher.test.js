import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createBatcher } from '../src/batcher.js';

const turns = async (n = 20) => { for (let i = 0; i < n; i += 1) await new Promise((resolve) => setImmediate(resolve)); };
const message = (i, text = `Pixel 8 Pro - $${700 + i}`) => ({ chat_id: '1@g.us', chat_title: 'Phones', text, message_id: `M${i}` });

function harness(t, options = {}) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sent = [];
  const overflowed = [];
  let release = null;
  const hold = options.hold ?? false;
  const batcher = createBatcher({
    maxMessages: 3, maxBytes: 1024 * 1024, flushIntervalMs: 5000, maxQueued: options.maxQueued,
    ...options.batcher,
    dispatch: (messages) => {
      sent.push(messages.map((m) => m.message_id));
      return hold ? new Promise((resolve) => { release = resolve; }) : Promise.resolve();
    },
    overflow: async (messages) => { overflowed.push(messages.map((m) => m.message_id)); },
  });
  return { batcher, sent, overflowed, release: () => release?.() };
}

test('BATCH_MAX_MESSAGES waiting: flushed at once, without waiting for the interval', async (t) => {
  const { batcher, sent } = harness(t);
  [1, 2, 3].forEach((i) => batcher.add(message(i)));
  await turns();
  assert.deepEqual(sent, [['M1', 'M2', 'M3']]);
  assert.equal(batcher.depth, 0);
});

test('fewer: flushed BATCH_FLUSH_INTERVAL_MS after the first one arrived', async (t) => {
  const { batcher, sent } = harness(t);
  batcher.add(message(1));
  t.mock.timers.tick(3000);
  batcher.add(message(2));
  t.mock.timers.tick(1999);
  await turns();
  assert.deepEqual(sent, []);
  t.mock.timers.tick(1);
  await turns();
  assert.deepEqual(sent, [['M1', 'M2']]);
  t.mock.timers.tick(60_000);
  await turns();
  assert.equal(sent.length, 1, 'no empty batches');
});

test('one batch in flight: the next waits for it, then goes', async (t) => {
  const { batcher, sent, release } = harness(t, { hold: true });
  [1, 2, 3, 4, 5, 6, 7].forEach((i) => batcher.add(message(i)));
  await turns();
  assert.deepEqual(sent, [['M1', 'M2', 'M3']]);
  release();
  await turns();
  assert.deepEqual(sent, [['M1', 'M2', 'M3'], ['M4', 'M5', 'M6']]);
  release();
  await turns();
  assert.equal(sent.length, 2, 'M7 alone waits for the interval');
  t.mock.timers.tick(5000);
  await turns();
  assert.deepEqual(sent[2], ['M7']);
});

test('BATCH_MAX_BYTES: a batch never passes the byte limit (the backend\'s body limit)', async (t) => {
  const { batcher, sent } = harness(t, { batcher: { maxMessages: 100, maxBytes: 400 } });
  for (let i = 1; i <= 5; i += 1) batcher.add(message(i, 'x'.repeat(120)));
  await turns();
  t.mock.timers.tick(5000);
  await turns();
  for (let round = 0; round < 3; round += 1) { t.mock.timers.tick(5000); await turns(); }
  assert.deepEqual(sent.flat(), ['M1', 'M2', 'M3', 'M4', 'M5']);
  for (const batch of sent) assert.ok(batch.length <= 2, `a batch of ${batch.length} messages of ~190 bytes passes 400`);
});

test('a long outage: past maxQueued, batches go to the spool, not memory', async (t) => {
  const { batcher, sent, overflowed } = harness(t, { hold: true, maxQueued: 6 });
  for (let i = 1; i <= 12; i += 1) batcher.add(message(i));
  await turns();
  assert.deepEqual(sent, [['M1', 'M2', 'M3']]);
  assert.deepEqual(overflowed, [['M4', 'M5', 'M6']]);
  assert.equal(batcher.depth, 6);
});

test('close: the waiting messages and an unfinished batch are handed back', async (t) => {
  const { batcher, sent } = harness(t, { hold: true });
  [1, 2, 3, 4].forEach((i) => batcher.add(message(i)));
  await turns();
  const closing = batcher.close(2000);
  await turns();
  t.mock.timers.tick(2000);
  const { waiting, unfinished } = await closing;
  assert.deepEqual(sent, [['M1', 'M2', 'M3']]);
  assert.deepEqual(unfinished.map((m) => m.message_id), ['M1', 'M2', 'M3']);
  assert.deepEqual(waiting.map((m) => m.message_id), ['M4']);
  assert.throws(() => batcher.add(message(5)), /closed/);
});

test('a message that pushes a batch to the spool is taken once the spool has it (back-pressure)', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const spooled = [];
  let written = null;
  const batcher = createBatcher({
    maxMessages: 2, maxBytes: 1024 * 1024, flushIntervalMs: 5000, maxQueued: 2,
    dispatch: () => new Promise(() => {}),  // the backend never answers
    overflow: (messages) => { spooled.push(messages.map((m) => m.message_id)); return new Promise((resolve) => { written = resolve; }); },
  });
  for (const i of [1, 2, 3, 4]) await batcher.add(message(i));
  let settled = false;
  const adding = batcher.add(message(5)).then(() => { settled = true; });
  await turns();
  assert.deepEqual(spooled, [['M3', 'M4']]);
  assert.equal(settled, false, 'waits for the spool write');
  written();
  await adding;
  assert.equal(settled, true);
  assert.equal(batcher.depth, 1);
});
