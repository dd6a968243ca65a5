/**
 * The status server: `GET /healthz` and `GET /metrics` (playbook sections 7.4, 7.7 and 8).
 *
 * - `GET /healthz` → 200 `{"status": "ok"}` while the WhatsApp connection is open; otherwise 503
 *   `{"status": <state>, "connection_status": …, "detail": <what to do>}` (state as in metrics.js:
 *   "pairing" while a QR waits to be scanned, "logged_out" after WhatsApp ended the session…).
 * - `GET /metrics` → the JSON snapshot of metrics.js; Prometheus text (0.0.4) when asked for with
 *   `?format=prometheus` or an `Accept` header naming `text/plain` or OpenMetrics (what Prometheus
 *   sends) and not `application/json`.
 * - `HEAD` is answered like `GET` without a body; other methods get 405, other paths 404.
 *
 * - With a status token set (STATUS_TOKEN), `/metrics` needs it in `X-Metrics-Token` or
 *   `Authorization: Bearer …` (compared in constant time), else 401; `/healthz` stays open for the
 *   platform's health checks (it tells only the state).
 *
 * The server exposes no secret, no message text and not the account's number: counters and states.
 */

import crypto from 'node:crypto';
import http from 'node:http';

import { toPrometheus } from './metrics.js';

/**
 * Start the status server on `host`:`port` (port 0 = any free port; host "" = every address, IPv4
 * and IPv6, as Node listens by default).
 * @returns {Promise<{server: http.Server, port: number, close: () => Promise<void>}>}
 */
export async function startStatusServer({ metrics, host = '', port = 3000, token = '', log }) {
  const server = http.createServer((request, response) => answer(metrics, token, request, response));
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 10000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = () => { server.off('error', reject); resolve(); };
    if (host) server.listen(port, host, listening);
    else server.listen(port, listening);
  });
  const bound = server.address().port;
  log?.info({ host: host || 'every address', port: bound, metrics_token: Boolean(token) }, 'status server listening (GET /healthz, GET /metrics)');
  return {
    server,
    port: bound,
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

function authorized(token, headers) {
  if (!token) return true;
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '')?.[1] ?? '';
  const given = Buffer.from(String(headers['x-metrics-token'] ?? bearer), 'utf8');
  const expected = Buffer.from(token, 'utf8');
  const digest = (value) => crypto.createHash('sha256').update(value).digest();
  return crypto.timingSafeEqual(digest(given), digest(expected)) && given.length === expected.length;
}

function answer(metrics, token, request, response) {
  let url;
  try {
    url = new URL(request.url, 'http://status.invalid');
  } catch {
    send(response, request, 400, { detail: 'the request target is not a path' });
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, request, 405, { detail: 'only GET and HEAD' }, { Allow: 'GET, HEAD' });
    return;
  }
  if (url.pathname === '/healthz') {
    if (metrics.connectionStatus === 'open') {
      send(response, request, 200, { status: 'ok' });
    } else {
      send(response, request, 503, {
        status: metrics.state, connection_status: metrics.connectionStatus, detail: metrics.stateDetail,
      });
    }
    return;
  }
  if (url.pathname === '/metrics') {
    if (!authorized(token, request.headers)) {
      send(response, request, 401, { detail: 'the metrics token is missing or wrong (X-Metrics-Token or Authorization: Bearer, STATUS_TOKEN)' },
        { 'WWW-Authenticate': 'Bearer' });
      return;
    }
    const format = url.searchParams.get('format');
    if (format && format !== 'json' && format !== 'prometheus') {
      send(response, request, 400, { detail: `format must be json or prometheus, not ${JSON.stringify(format.slice(0, 40))}` });
      return;
    }
    const snapshot = metrics.snapshot();
    if (wantsPrometheus(url, request.headers.accept)) {
      const body = toPrometheus(snapshot);
      response.writeHead(200, {
        'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
        'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store',
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    } else {
      send(response, request, 200, snapshot);
    }
    return;
  }
  send(response, request, 404, { detail: 'not found: the status server answers GET /healthz and GET /metrics' });
}

function wantsPrometheus(url, accept = '') {
  const format = url.searchParams.get('format');
  if (format) return format === 'prometheus';
  const value = accept.toLowerCase();
  if (value.includes('application/json')) return false;
  return value.includes('text/plain') || value.includes('openmetrics');
}

function send(response, request, status, payload, headers = {}) {
  const body = JSON.stringify(payload);
  response.writeHead(status, {
    'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store',
    ...headers,
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}
