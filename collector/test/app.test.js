import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { runCollector } from '../src/app.js';
import { startBackend, until } from './support/backend.js';
import { fakeWhatsApp, groupText } from './support/fake-whatsapp.js';
import { recordingLogger } from './support/logs.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const GROUP = '120363000000000001@g.us';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function workdir(t) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'collector-app-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

function environment(dir, url, extra = {}) {
  return {
    WHATSAPP_INGEST_URL: url, WHATSAPP_INGEST_TOKEN: 'test-token', WHATSAPP_INGEST_HMAC_SECRET: 'test-secret',
    CLIENT_ID: 'sim-bank-1', BATCH_MAX_MESSAGES: '2', BATCH_FLUSH_INTERVAL_MS: '100', PORT: '0', STATUS_HOST: '127.0.0.1',
    SPOOL_RETRY_INTERVAL_MS: '200', ...extra,
  };
}

async function get(port, route, headers = {}) {
  const response = await fetch(`http://127.0.0.1:${port}${route}`, { headers });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), text, json: () => JSON.parse(text) };
}

async function start(t, dir, url, { fake = fakeWhatsApp({ groups: { [GROUP]: 'Dubai Phones' } }), extra, qr } = {}) {
  const collector = await runCollector({
    env: environment(dir, url, extra), cwd: dir, log: recordingLogger(), makeSocket: fake.makeSocket,
    qrOut: { write: (text) => qr?.push(text) }, download: async () => Buffer.from('x'),
  });
  t.after(() => collector.stop());
  return { collector, fake };
}

test('status server: /healthz 503 until connected, then {"status": "ok"}; /metrics as JSON and Prometheus', async (t) => {
  const dir = await workdir(t);
  const backend = await startBackend();
  t.after(() => backend.close());
  const qr = [];
  const { collector, fake } = await start(t, dir, backend.url, { qr });
  fake.last.qr();
  let health = await get(collector.port, '/healthz');
  assert.equal(health.status, 503);
  assert.equal(health.json().status, 'pairing');
  assert.ok(qr.length, 'the QR went to the console');
  fake.last.open();
  health = await get(collector.port, '/healthz');
  assert.equal(health.status, 200);
  assert.deepEqual(health.json(), { status: 'ok' });

  fake.last.upsert([groupText('iPhone 15 128GB - 650$', { id: 'P1' }), groupText('iPhone 15 256GB - 720$', { id: 'P2' }), groupText('Pixel 8 - 500$', { id: 'P3' })]);
  await until(() => collector.metrics.value('messages_sent') === 3);
  const metrics = (await get(collector.port, '/metrics')).json();
  assert.equal(metrics.connection_status, 'open');
  assert.equal(metrics.batches_success, 2, 'two batches of at most BATCH_MAX_MESSAGES=2');
  assert.equal(metrics.batches_failed, 0);
  assert.equal(metrics.messages_sent, 3);
  assert.equal(metrics.spool_depth, 0);
  assert.ok(backend.requests.every((request) => request.signatureOk && request.tokenOk));
  assert.deepEqual(backend.requests.map((request) => request.body.messages.length), [2, 1]);
  assert.equal(backend.requests[0].body.client_id, 'sim-bank-1');
  assert.equal(backend.requests[0].body.messages[0].chat_title, 'Dubai Phones');

  const prometheus = await get(collector.port, '/metrics', { Accept: 'text/plain' });
  assert.match(prometheus.type, /^text\/plain; version=0\.0\.4/);
  assert.match(prometheus.text, /^whatsapp_collector_batches_success_total\{client_id="sim-bank-1"\} 2$/m);
  assert.match(prometheus.text, /^whatsapp_collector_connection_status\{client_id="sim-bank-1",status="open"\} 1$/m);
  assert.match(prometheus.text, /^whatsapp_collector_spool_depth\{client_id="sim-bank-1"\} 0$/m);
  const asked = await get(collector.port, '/metrics?format=prometheus');
  assert.match(asked.type, /^text\/plain/);
  assert.match(asked.text, /^whatsapp_collector_messages_sent_total\{client_id="sim-bank-1"\} 3$/m);
  assert.equal((await get(collector.port, '/metrics', { Accept: 'application/json, text/plain, */*' })).json().messages_sent, 3);
  assert.equal((await get(collector.port, '/nothing')).status, 404);
  const post = await fetch(`http://127.0.0.1:${collector.port}/metrics`, { method: 'POST' });
  assert.equal(post.status, 405);
});

test('playbook 7.4: logged out → /healthz says so; stop, clear the auth folder, restart, scan → ok', async (t) => {
  const dir = await workdir(t);
  const backend = await startBackend();
  t.after(() => backend.close());
  const authDir = path.join(dir, 'auth-state');
  // The real multi-file auth state of Baileys (offline: it only reads and writes the folder).
  const first = await start(t, dir, backend.url);
  await until(() => first.fake.sockets.length === 1);
  const creds = JSON.parse(await fs.readFile(path.join(authDir, 'creds.json'), 'utf8').catch(() => 'null'));
  first.fake.configs[0].auth.creds.me = { id: '447700900000:12@s.whatsapp.net' };
  first.fake.last.ev.emit('creds.update', {});
  await until(() => false, 50).catch(() => {});
  await sleep(50);
  const saved = JSON.parse(await fs.readFile(path.join(authDir, 'creds.json'), 'utf8'));
  assert.equal(saved.me.id, '447700900000:12@s.whatsapp.net', 'creds.update is saved in AUTH_STATE_DIR');
  assert.equal(creds, null, 'no creds.json before the first save');
  first.fake.last.open();
  first.fake.last.close(401, 'logged out');
  const health = await get(first.collector.port, '/healthz');
  assert.equal(health.status, 503);
  assert.equal(health.json().status, 'logged_out');
  assert.equal(health.json().connection_status, 'closed');
  assert.match(health.json().detail, /delete the contents of/);
  assert.equal((await get(first.collector.port, '/metrics')).json().connection_status, 'closed');

  await first.collector.stop();  // 1. stop
  for (const name of await fs.readdir(authDir)) await fs.rm(path.join(authDir, name), { recursive: true });  // 2. rm -rf auth-state/*
  const qr = [];
  const second = await start(t, dir, backend.url, { qr });  // 3. restart
  assert.equal(second.fake.configs[0].auth.creds.me, undefined, 'a fresh session: pairing needed');
  second.fake.last.qr();
  assert.ok(qr.join('').length > 100, 'the QR is printed');
  second.fake.last.close(515, 'restart required');  // what WhatsApp does right after the scan
  await until(() => second.fake.sockets.length === 2);
  second.fake.last.open();
  assert.deepEqual((await get(second.collector.port, '/healthz')).json(), { status: 'ok' });
});

test('the backend down: batches wait in the spool, and after a restart they are delivered', async (t) => {
  const dir = await workdir(t);
  const backend = await startBackend({ script: [503, 503, 503] });
  t.after(() => backend.close());
  const first = await start(t, dir, backend.url, { extra: { SPOOL_RETRY_INTERVAL_MS: '3600000' } });
  first.fake.last.open();
  first.fake.last.upsert([groupText('Redmi Note 13 - 150$', { id: 'R1' }), groupText('Redmi Note 13 Pro - 210$', { id: 'R2' })]);
  await until(() => first.collector.metrics.value('batches_spooled') === 1, 10_000_000);
  assert.equal(first.collector.spool.depth, 1);
  first.fake.last.upsert([groupText('Poco X6 - 230$', { id: 'R3' })]);
  await first.collector.stop();
  assert.equal(first.collector.spool.depth, 2, 'the message still queued at shutdown went to the spool too');
  assert.equal(backend.requests.length, 3, 'three attempts of the first batch; the second was never tried');

  const second = await start(t, dir, backend.url);
  await until(() => second.collector.metrics.value('batches_replayed') === 2, 10_000_000);
  await second.collector.stop();  // right after the last delivery: its file must be gone all the same
  assert.equal(second.collector.spool.depth, 0);
  assert.deepEqual((await fs.readdir(path.join(dir, 'spool', 'pending'))).filter((name) => name.endsWith('.json')), []);
  const delivered = backend.requests.slice(3).flatMap((request) => request.body.messages.map((message) => message.message_id));
  assert.deepEqual(delivered, ['R1', 'R2', 'R3']);
  assert.ok(backend.requests.every((request) => request.signatureOk));
});

test('a missing setting stops `npm start` with a message naming it (exit 78)', async () => {
  const child = spawn(process.execPath, [path.join(ROOT, 'src', 'index.js')], {
    env: { PATH: process.env.PATH, WHATSAPP_INGEST_URL: 'http://127.0.0.1:9/ingest', CLIENT_ID: 'x', BATCH_MAX_MESSAGES: 'lots' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 78);
  assert.match(stderr, /WHATSAPP_INGEST_TOKEN is required and not set/);
  assert.match(stderr, /BATCH_MAX_MESSAGES must be a whole number/);
});

test('killed with SIGKILL while the backend is down: the spool is intact and delivered by the next run', async (t) => {
  const dir = await workdir(t);
  const down = await startBackend({ script: Array(100).fill(500) });
  t.after(() => down.close());
  const script = path.join(dir, 'script.json');
  const messages = [1, 2, 3, 4, 5].map((i) => groupText(`Galaxy A5${i} - ${100 + i} EUR`, { id: `K${i}`, jid: GROUP }));
  await fs.writeFile(script, JSON.stringify({ groups: { [GROUP]: 'Dubai Phones' }, upserts: [{ type: 'notify', messages }], expect_sent: 5, timeout_ms: 120_000 }));
  const env = { ...process.env, ...environment(dir, down.url, { BATCH_MAX_MESSAGES: '2', LOG_LEVEL: 'silent' }) };
  const child = spawn(process.execPath, [path.join(HERE, 'support', 'run-fake-whatsapp.js'), script], { cwd: dir, env, stdio: 'ignore' });
  const pending = path.join(dir, 'spool', 'pending');
  for (let waited = 0; waited < 60_000; waited += 50) {
    const files = await fs.readdir(pending).catch(() => []);
    if (files.filter((name) => name.endsWith('.json')).length >= 2) break;
    await sleep(50);
  }
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  const spooled = (await fs.readdir(pending)).filter((name) => name.endsWith('.json'));
  assert.ok(spooled.length >= 2, `batches spooled before the kill: ${spooled.length}`);

  const up = await startBackend();
  t.after(() => up.close());
  await fs.writeFile(script, JSON.stringify({ upserts: [], expect_sent: spooled.length * 2, timeout_ms: 60_000 }));
  const rerun = spawn(process.execPath, [path.join(HERE, 'support', 'run-fake-whatsapp.js'), script], {
    cwd: dir, env: { ...env, WHATSAPP_INGEST_URL: up.url }, stdio: ['ignore', 'pipe', 'ignore'],
  });
  let stdout = '';
  rerun.stdout.on('data', (chunk) => { stdout += chunk; });
  assert.equal(await new Promise((resolve) => rerun.on('exit', resolve)), 0);
  const final = JSON.parse(stdout.trim().split('\n').at(-1));
  assert.equal(final.batches_replayed, spooled.length);
  const ids = up.requests.flatMap((request) => request.body.messages.map((message) => message.message_id));
  assert.deepEqual(ids, ['K1', 'K2', 'K3', 'K4'].slice(0, spooled.length * 2));
  assert.ok(up.requests.every((request) => request.signatureOk));
});

test('SIGTERM to `npm start` (what Railway and Procfile hosts send) stops the collector cleanly', async (t) => {
  const dir = await workdir(t);
  const backend = await startBackend();
  t.after(() => backend.close());
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const child = spawn(npm, ['start', '--silent'], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...environment(dir, backend.url, { AUTH_STATE_DIR: path.join(dir, 'auth-state'), BAILEYS_LOG_LEVEL: 'silent' }) },
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  for (let waited = 0; !/status server listening/.test(stdout) && waited < 30_000; waited += 50) await sleep(50);
  const port = JSON.parse(stdout.split('\n').find((line) => line.includes('status server listening'))).port;
  assert.equal((await get(port, '/metrics')).status, 200);
  child.kill('SIGTERM');  // npm alone, not its process group
  const { code } = await Promise.race([exited, sleep(20_000).then(() => ({ code: 'still running' }))]);
  assert.equal(code, 0);
  assert.match(stdout, /"signal":"SIGTERM".*"msg":"stopping"/);
  assert.match(stdout, /"msg":"collector stopped"/);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'nothing listens any more: no orphaned collector');
});
