#!/usr/bin/env node
/**
 * Run the real collector (settings from the environment, as `npm start`) with the WhatsApp socket
 * replaced by the fake of fake-whatsapp.js, for end-to-end tests driven from outside (the Django
 * suite's gunicorn test). Usage:
 *
 *   node test/support/run-fake-whatsapp.js <script.json>
 *
 * script.json: {"groups": {"<jid>": "<subject>"}, "upserts": [{"type": "notify" | "append",
 * "messages": [WAMessage, ...]}], "media": {"<message id>": "<base64 of the attachment>"},
 * "expect_sent": <n>, "timeout_ms": <ms>}. The fake connects, emits each upsert, waits until
 * `messages_sent` reaches `expect_sent` (or the timeout), stops the collector (SIGTERM-style
 * shutdown) and prints the final GET /metrics JSON on stdout. Exit 0 when expect_sent was reached,
 * 3 otherwise.
 */

import fs from 'node:fs';

import { runCollector } from '../../src/app.js';
import { fakeWhatsApp } from './fake-whatsapp.js';

const script = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const fake = fakeWhatsApp({ groups: script.groups ?? {} });
const media = script.media ?? {};
const collector = await runCollector({
  makeSocket: fake.makeSocket,
  loadAuthState: fake.loadAuthState,
  download: async (message) => Buffer.from(media[message.key.id] ?? '', 'base64'),
  qrOut: process.stderr,
});
fake.last.open();
for (const upsert of script.upserts ?? []) fake.last.upsert(upsert.messages, upsert.type ?? 'notify');
await collector.source.settled();
await collector.batcher.flush();

const deadline = Date.now() + (script.timeout_ms ?? 30_000);
while (collector.metrics.value('messages_sent') < (script.expect_sent ?? 0) && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const reached = collector.metrics.value('messages_sent') >= (script.expect_sent ?? 0);
await collector.stop();
const snapshot = collector.metrics.snapshot();
process.stdout.write(`${JSON.stringify(snapshot)}\n`);
process.exit(reached ? 0 : 3);
