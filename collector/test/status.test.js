import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';

import { createMetrics } from '../src/metrics.js';
import { startStatusServer } from '../src/status.js';

async function server(t, token = '') {
  const metrics = createMetrics({ clientId: 'sim-1' });
  const status = await startStatusServer({ metrics, host: '127.0.0.1', port: 0, token });
  t.after(() => status.close());
  return { metrics, base: `http://127.0.0.1:${status.port}` };
}

test('STATUS_TOKEN: /metrics needs it (header or bearer), /healthz does not', async (t) => {
  const token = 'a-status-token-of-some-length';
  const { metrics, base } = await server(t, token);
  metrics.setState('open', 'connected to WhatsApp');
  assert.equal((await fetch(`${base}/metrics`)).status, 401);
  assert.equal((await fetch(`${base}/metrics`, { headers: { 'X-Metrics-Token': `${token}x` } })).status, 401);
  assert.equal((await fetch(`${base}/metrics`, { headers: { 'X-Metrics-Token': token } })).status, 200);
  assert.equal((await fetch(`${base}/metrics?format=prometheus`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
});

test('an unknown format is refused, not answered as JSON', async (t) => {
  const { base } = await server(t);
  const response = await fetch(`${base}/metrics?format=xml`);
  assert.equal(response.status, 400);
  assert.match((await response.json()).detail, /format must be json or prometheus/);
  assert.equal((await fetch(`${base}/metrics?format=json`, { headers: { Accept: 'text/plain' } })).headers.get('content-type'), 'application/json');
});

test('a request target that is not a path gets 400, and the server lives on', async (t) => {
  const { base } = await server(t);
  const { port } = new URL(base);
  const answer = await new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'));
    let data = '';
    socket.on('data', (chunk) => { data += chunk; socket.end(); });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 400/);
  assert.equal((await fetch(`${base}/healthz`)).status, 503);
});
