/**
 * A stand-in for POST /integrations/whatsapp/ingest on 127.0.0.1: it checks the token and the
 * signature the way the backend does (HMAC-SHA256 over timestamp + "." + the raw body, the timestamp
 * as YYYY-MM-DDTHH:MM:SSZ within 300 s) and answers from a script, one entry per request:
 * a status number, `{status, headers, body}`, or "drop" (the connection is destroyed unanswered).
 * After the script runs out it answers 200. Every request is recorded with its raw body (unless
 * `keepBodies` is false: then only the checks and the message count are kept, for benchmarks).
 */

import crypto from 'node:crypto';
import http from 'node:http';

export async function startBackend({ token = 'test-token', secret = 'test-secret', script = [], keepBodies = true } = {}) {
  const requests = [];
  const queue = [...script];
  let sequence = 0;
  const server = http.createServer((request, response) => {
    const parts = [];
    request.on('data', (chunk) => parts.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(parts);
      const timestamp = request.headers['x-signature-timestamp'] ?? '';
      const expected = crypto.createHmac('sha256', secret).update(`${timestamp}.`).update(raw).digest('hex');
      const given = request.headers['x-signature'] ?? '';
      const skew = Math.abs(Date.parse(timestamp) - Date.now());
      const record = {
        at: Date.now(), method: request.method, path: request.url, headers: request.headers, raw,
        tokenOk: request.headers['x-ingest-token'] === token,
        signatureOk: given.length === expected.length && crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected)),
        timestampOk: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(timestamp) && skew <= 300_000,
        lengthOk: Number(request.headers['content-length']) === raw.length,
        body: (() => { try { return JSON.parse(raw.toString('utf8')); } catch { return null; } })(),
      };
      requests.push(record);
      const messageCount = record.body?.messages?.length ?? 0;
      if (!keepBodies) { record.raw = null; record.body = { messages: { length: messageCount } }; }
      const step = queue.length ? queue.shift() : 200;
      if (step === 'drop') {
        request.socket.destroy();
        return;
      }
      const { status, headers = {}, body } = typeof step === 'number' ? { status: step } : step;
      sequence += 1;
      const requestId = `req${String(sequence).padStart(29, '0')}`;
      let payload = body;
      if (payload === undefined) {
        if (!record.tokenOk) payload = { detail: 'invalid ingest token', request_id: requestId };
        else if (!record.signatureOk || !record.timestampOk) payload = { detail: 'invalid signature', request_id: requestId };
        else if (status === 200) {
          const count = messageCount;
          payload = { request_id: requestId, accepted: count, created: count, edited: 0, deduped: 0, skipped: 0, chats: [], errors: [] };
        } else payload = { detail: `scripted ${status}`, request_id: requestId };
      }
      const effective = (!record.tokenOk ? 401 : (!record.signatureOk || !record.timestampOk) ? 403 : status);
      const text = JSON.stringify(payload);
      response.writeHead(effective, { 'Content-Type': 'application/json', 'X-Request-ID': requestId, ...headers });
      response.end(text);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/integrations/whatsapp/ingest`,
    port,
    requests,
    /** Append answers to the script. */
    script: (...steps) => queue.push(...steps),
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

/** Resolve once `predicate()` is true, polling on real I/O turns (not timers); fail after `limit` turns. */
export async function until(predicate, limit = 20_000) {
  for (let turn = 0; turn < limit; turn += 1) {
    if (predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not met');
}
