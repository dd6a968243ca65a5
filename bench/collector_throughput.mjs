#!/usr/bin/env node
/**
 * Benchmark: the WhatsApp collector's own cost, WhatsApp and the backend taken out.
 *
 *   node bench/collector_throughput.mjs [--messages 20000] [--batch 50] [--media-kb 0]
 *
 * Runs the real collector (config, normalizer, batcher, signer, sender with p-retry, spool, status
 * server; collector/src/app.js) with the fake WhatsApp socket of collector/test/support emitting
 * --messages group messages in upserts of 100, against the signature-checking stand-in backend on
 * 127.0.0.1 (answers 200 at once). With --media-kb N each message carries an N KiB attachment
 * (downloaded from the fake, sent as base64). Prints messages/s from the first upsert to the last
 * delivered batch, batches, the p50/p95 time of one delivery, and the process' peak RSS.
 * Needs `npm ci` in collector/ first.
 */

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { runCollector } from '../collector/src/app.js';
import { startBackend } from '../collector/test/support/backend.js';
import { fakeWhatsApp, groupText } from '../collector/test/support/fake-whatsapp.js';

const { values } = parseArgs({ options: {
  messages: { type: 'string', default: '20000' }, batch: { type: 'string', default: '50' }, 'media-kb': { type: 'string', default: '0' },
} });
const total = Number(values.messages);
const mediaBytes = Number(values['media-kb']) * 1024;
const group = '120363000000000001@g.us';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'collector-bench-'));
const backend = await startBackend({ keepBodies: false });
const fake = fakeWhatsApp({ groups: { [group]: 'Bench Phones' } });
const attachment = Buffer.alloc(mediaBytes, 7);
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return silent; }, level: 'silent' };
const collector = await runCollector({
  env: {
    WHATSAPP_INGEST_URL: backend.url, WHATSAPP_INGEST_TOKEN: 'test-token', WHATSAPP_INGEST_HMAC_SECRET: 'test-secret',
    CLIENT_ID: 'bench', BATCH_MAX_MESSAGES: values.batch, BATCH_FLUSH_INTERVAL_MS: '100', PORT: '0', STATUS_HOST: '127.0.0.1',
  },
  cwd: dir, log: silent, makeSocket: fake.makeSocket, loadAuthState: fake.loadAuthState, download: async () => attachment,
});
fake.last.open();

let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, 50);
const durations = [];
const started = performance.now();
for (let sent = 0; sent < total; sent += 100) {
  const upsert = [];
  for (let i = sent; i < Math.min(sent + 100, total); i += 1) {
    const message = groupText(`iPhone 15 ${128 + (i % 3) * 128}GB - ${600 + (i % 200)}$ lot ${i}`, { id: `B${i}`, jid: group });
    if (mediaBytes) message.message = { documentMessage: { fileName: `list-${i}.pdf`, mimetype: 'application/pdf', fileLength: mediaBytes, caption: message.message.conversation } };
    upsert.push(message);
  }
  fake.last.upsert(upsert, 'notify');
  await new Promise((resolve) => setImmediate(resolve));
}
let last = backend.requests.length;
let lastAt = performance.now();
while (collector.metrics.value('messages_sent') < total) {
  await new Promise((resolve) => setTimeout(resolve, 5));
  if (backend.requests.length !== last) {
    const now = performance.now();
    durations.push((now - lastAt) / (backend.requests.length - last));
    last = backend.requests.length;
    lastAt = now;
  }
}
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
durations.sort((a, b) => a - b);
const snapshot = collector.metrics.snapshot();
await collector.stop();
await backend.close();
await fs.rm(dir, { recursive: true, force: true });
const quantile = (q) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))]?.toFixed(1);
console.log(`messages ${total}, batch ${values.batch}, attachment ${values['media-kb']} KiB`);
console.log(`delivered ${snapshot.messages_sent} in ${snapshot.batches_success} batches (${snapshot.batches_replayed} of them through the spool), failed ${snapshot.batches_failed}, dropped ${snapshot.messages_dropped}, every request signed: ${backend.requests.every((r) => r.signatureOk)}`);
console.log(`${Math.round(total / seconds)} messages/s (${seconds.toFixed(2)} s); one batch every ${quantile(0.5)} ms (p50), ${quantile(0.95)} ms (p95)`);
console.log(`peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MiB (the stand-in backend runs in the same process)`);
