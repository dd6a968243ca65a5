import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { createMetrics } from '../src/metrics.js';
import { createGroupCache, createSource } from '../src/source.js';
import { until } from './support/backend.js';
import { fakeWhatsApp, groupText } from './support/fake-whatsapp.js';
import { recordingLogger } from './support/logs.js';

const GROUP = '120363000000000001@g.us';
const OTHER = '120363000000000002@g.us';
const turns = async (n = 200) => { for (let i = 0; i < n; i += 1) await new Promise((resolve) => setImmediate(resolve)); };

async function setup(t, { groups = { [GROUP]: 'Dubai Phones Wholesale', [OTHER]: 'HK Parts' }, mediaMaxBytes = 1024, download, failGroupMetadata } = {}) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'collector-source-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const fake = fakeWhatsApp({ groups, failGroupMetadata });
  const metrics = createMetrics({ clientId: 'sim-1' });
  const log = recordingLogger();
  const received = [];
  const qr = [];
  const source = createSource({
    authStateDir: path.join(dir, 'auth-state'), mediaMaxBytes, onMessage: (message) => received.push(message), metrics, log,
    qrOut: { write: (text) => qr.push(text) }, makeSocket: fake.makeSocket, loadAuthState: fake.loadAuthState,
    download: download ?? (async () => Buffer.from('%PDF-1.4 price list')), reconnect: { minMs: 1000, maxMs: 8000 },
  });
  t.after(() => source.stop());
  await source.start();
  return { dir, fake, metrics, log, received, qr, source };
}

test('pairing: the QR is printed and /healthz is not ok until the scan; 515 after it reconnects at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { fake, metrics, qr, dir } = await setup(t);
  assert.equal(metrics.state, 'connecting');
  fake.last.qr('2@AbCdEf,ghij,klmn');
  assert.equal(metrics.state, 'pairing');
  assert.equal(metrics.connectionStatus, 'connecting');
  assert.ok(qr.join('').includes('▄') || qr.join('').includes('█'), 'a QR code drawn in the console');
  fake.last.close(515, 'restart required');
  t.mock.timers.tick(0);
  await until(() => fake.sockets.length === 2);
  fake.last.open();
  assert.equal(metrics.connectionStatus, 'open');
  assert.equal(fake.configs[1].auth.creds.folder, path.join(dir, 'auth-state'), 'the multi-file auth state of AUTH_STATE_DIR');
  assert.equal(fake.configs[1].markOnlineOnConnect, false);
  assert.equal(typeof fake.configs[1].cachedGroupMetadata, 'function');
});

test('a lost connection is made again with backoff: 1 s, 2 s, 4 s…, reset once open', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { fake, metrics } = await setup(t);
  for (const [attempt, delay] of [[1, 1000], [2, 2000], [3, 4000], [4, 8000], [5, 8000]]) {
    fake.last.close(428, 'connection closed');
    assert.equal(metrics.state, 'reconnecting');
    t.mock.timers.tick(delay - 1);
    await turns();
    assert.equal(fake.sockets.length, attempt, `not before ${delay} ms`);
    t.mock.timers.tick(1);
    await until(() => fake.sockets.length === attempt + 1);
  }
  fake.last.open();
  fake.last.close(408, 'timed out');
  t.mock.timers.tick(1000);
  await until(() => fake.sockets.length === 7);
  assert.equal(metrics.value('reconnects'), 6);
});

for (const [code, state, words] of [
  [401, 'logged_out', /logged this collector out.*delete the contents of .*auth-state.*scan the QR/],
  [403, 'forbidden', /refused this account/],
  [440, 'connection_replaced', /another client opened the same session/],
]) {
  test(`closed with ${code}: no reconnect, the state says ${state} and what to do`, async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { fake, metrics, log } = await setup(t);
    fake.last.open();
    fake.last.close(code);
    t.mock.timers.tick(600_000);
    await turns();
    assert.equal(fake.sockets.length, 1);
    assert.equal(metrics.state, state);
    assert.equal(metrics.connectionStatus, 'closed');
    assert.match(metrics.stateDetail, words);
    assert.ok(log.entries.some((entry) => entry.level === 'error'));
  });
}

test('live and offline-delivered group messages are forwarded, in order, each once; others are not', async (t) => {
  const { fake, received, metrics } = await setup(t);
  fake.last.open();
  await turns();
  fake.last.upsert([
    groupText('iPhone 15 128GB - 650$', { id: 'A1' }),
    groupText('not for us', { id: 'A2', jid: '447911123456@s.whatsapp.net' }),
    { ...groupText('our own message', { id: 'A3' }), key: { remoteJid: GROUP, id: 'A3', fromMe: true } },
    { key: { remoteJid: GROUP, id: 'A4', participant: '1@s.whatsapp.net' }, messageStubType: 20 },
  ], 'notify');
  fake.last.upsert([
    groupText('S24 Ultra 256 - 1020 AED', { id: 'B1', jid: OTHER, wrap: 'ephemeral', seconds: 1796030000 }),
    groupText('iPhone 15 128GB - 650$', { id: 'A1' }),
  ], 'append');
  fake.last.ev.emit('messaging-history.set', { messages: [groupText('old history', { id: 'H1' })], chats: [], contacts: [], syncType: 2 });
  await turns();
  assert.deepEqual(received.map((m) => [m.message_id, m.chat_title, m.text]), [
    ['A1', 'Dubai Phones Wholesale', 'iPhone 15 128GB - 650$'],
    ['B1', 'HK Parts', 'S24 Ultra 256 - 1020 AED'],
  ]);
  assert.equal(received[1].sent_at, '2026-11-30T09:13:20.000Z');
  assert.equal(metrics.value('messages_received'), 2);
});

test('group titles: loaded once when the connection opens, renames followed, no fetch per message', async (t) => {
  const { fake, received } = await setup(t);
  fake.last.open();
  await turns();
  for (let i = 0; i < 20; i += 1) fake.last.upsert([groupText(`line ${i} - 10$`, { id: `G${i}` })]);
  await turns();
  assert.equal(fake.metadataCalls.length, 0);
  fake.last.ev.emit('groups.update', [{ id: GROUP, subject: 'Dubai Phones (new)' }]);
  fake.last.upsert([groupText('after rename - 5$', { id: 'G99' })]);
  await turns();
  assert.equal(received.at(-1).chat_title, 'Dubai Phones (new)');
});

test('a group not yet known is fetched once for concurrent messages; a failure is not retried for a minute', async (t) => {
  let clock = 0;
  let calls = 0;
  const cache = createGroupCache({ fetch: async (jid) => { calls += 1; if (jid === 'bad') throw new Error('rate-overlimit'); return { id: jid, subject: 'T' }; }, now: () => clock });
  assert.deepEqual(await Promise.all([cache.title('g'), cache.title('g'), cache.title('g')]), ['T', 'T', 'T']);
  assert.equal(calls, 1);
  assert.equal(await cache.title('bad'), '');
  assert.equal(await cache.title('bad'), '');
  assert.equal(calls, 2);
  clock = 61_000;
  await cache.title('bad');
  assert.equal(calls, 3);
});

test('when metadata cannot be had, the chat id stands in for the title and the message still goes', async (t) => {
  const { fake, received } = await setup(t, { groups: {}, failGroupMetadata: true });
  fake.last.upsert([groupText('Pixel 8 - 500$', { id: 'N1' })]);
  await turns();
  assert.equal(received[0].chat_title, GROUP);
  assert.equal(received[0].chat_id, GROUP);
});

test('attachments: within MEDIA_MAX_BYTES sent as base64; larger ones skipped, the caption kept', async (t) => {
  const { fake, received, metrics } = await setup(t, { mediaMaxBytes: 1024 });
  fake.last.open();
  const doc = (id, fileLength, caption) => ({
    key: { remoteJid: GROUP, id, participant: '447911123456@s.whatsapp.net' }, messageTimestamp: 1796040000,
    message: { documentMessage: { fileName: 'prices.pdf', mimetype: 'application/pdf', fileLength, caption } },
  });
  fake.last.upsert([doc('D1', 19), doc('D2', 50_000_000, 'see list'), doc('D3', 50_000_000)]);
  await turns();
  assert.deepEqual(received[0].media, { filename: 'prices.pdf', mime_type: 'application/pdf', data_base64: Buffer.from('%PDF-1.4 price list').toString('base64') });
  assert.equal(received[1].text, 'see list');
  assert.equal(received[1].media, undefined);
  assert.equal(received.length, 2, 'an attachment-only message whose attachment cannot go is not sent empty');
  assert.equal(metrics.value('media_skipped'), 2);
});

test('a download that fails: counted, logged, the caption still goes', async (t) => {
  const { fake, received, metrics, log } = await setup(t, { download: async () => { throw new Error('media expired'); } });
  fake.last.upsert([{ key: { remoteJid: GROUP, id: 'I1', participant: '4479@s.whatsapp.net' }, message: { imageMessage: { caption: 'Redmi 13 - 120$', mimetype: 'image/jpeg' } } }]);
  await turns();
  assert.equal(received[0].text, 'Redmi 13 - 120$');
  assert.equal(metrics.value('media_skipped'), 1);
  assert.ok(log.entries.some((entry) => entry.error === 'media expired'));
});

test('AUTH_STATE_DIR that is a file: start-up fails saying so', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'collector-source-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(path.join(dir, 'auth-state'), 'x');
  const fake = fakeWhatsApp();
  const source = createSource({ authStateDir: path.join(dir, 'auth-state'), mediaMaxBytes: 1, onMessage() {}, metrics: createMetrics({ clientId: 'c' }), makeSocket: fake.makeSocket, loadAuthState: fake.loadAuthState });
  await assert.rejects(source.start(), /AUTH_STATE_DIR .* is not a folder/);
});

test('a download that never ends is given up after two minutes; the messages after it still go', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { fake, received, metrics } = await setup(t, { download: () => new Promise(() => {}) });
  fake.last.upsert([
    { key: { remoteJid: GROUP, id: 'I1', participant: '4479@s.whatsapp.net' }, message: { imageMessage: { caption: 'Redmi 13 - 120$', mimetype: 'image/jpeg' } } },
    groupText('Poco F6 - 300$', { id: 'T2' }),
  ]);
  await turns();
  assert.equal(received.length, 0, 'in order: the second waits for the first');
  t.mock.timers.tick(119_999);
  await turns();
  assert.equal(received.length, 0);
  t.mock.timers.tick(1);
  await until(() => received.length === 2);
  assert.deepEqual(received.map((m) => m.message_id), ['I1', 'T2']);
  assert.equal(metrics.value('media_skipped'), 1);
});

test('an edit that keeps the length of the text is forwarded too (the text, not its length, is remembered)', async (t) => {
  const { fake, received } = await setup(t);
  fake.last.upsert([groupText('Pixel 8 Pro - $750', { id: 'E1' })]);
  fake.last.upsert([{ key: { remoteJid: GROUP, id: 'E2', participant: '447911123456@s.whatsapp.net' },
    message: { protocolMessage: { type: 14, key: { id: 'E1' }, editedMessage: { conversation: 'Pixel 8 Pro - $760' } } } }]);
  fake.last.upsert([groupText('Pixel 8 Pro - $760', { id: 'E1' })]);
  await turns();
  assert.deepEqual(received.map((m) => [m.message_id, m.text]), [['E1', 'Pixel 8 Pro - $750'], ['E1', 'Pixel 8 Pro - $760']]);
});

test('PAIRING_PHONE_NUMBER: an 8-character code is requested once per connection and printed instead of the QR', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'collector-source-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const fake = fakeWhatsApp();
  const metrics = createMetrics({ clientId: 'c' });
  const out = [];
  const source = createSource({ authStateDir: path.join(dir, 'auth'), mediaMaxBytes: 1, onMessage() {}, metrics, pairingPhoneNumber: '447911123456',
    qrOut: { write: (text) => out.push(text) }, makeSocket: fake.makeSocket, loadAuthState: fake.loadAuthState, reconnect: { minMs: 1000, maxMs: 60_000 } });
  t.after(() => source.stop());
  await source.start();
  fake.last.qr('ref-1');
  fake.last.qr('ref-2');
  await turns();
  assert.deepEqual(fake.last.pairingRequests, ['447911123456']);
  assert.match(out.join(''), /Pairing code for \+447911123456: ABCD-1234/);
  assert.doesNotMatch(out.join(''), /█/);
  assert.equal(metrics.state, 'pairing');
  // The codes expire unused (408): a new connection, and a new code, after 1 s, not a growing wait.
  for (const socketCount of [2, 3, 4]) {
    fake.last.close(408, 'QR refs attempts ended');
    t.mock.timers.tick(1000);
    await until(() => fake.sockets.length === socketCount);
    fake.last.qr('ref');
    await turns();
    assert.deepEqual(fake.last.pairingRequests, ['447911123456']);
  }
});

test('the status says "connected", not the account\'s number', async (t) => {
  const { fake, metrics } = await setup(t);
  fake.last.open();
  assert.equal(metrics.stateDetail, 'connected to WhatsApp');
  assert.doesNotMatch(JSON.stringify(metrics.snapshot()), /447700900000/);
});
