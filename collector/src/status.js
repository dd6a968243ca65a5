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
 * The server exposes no secret (no token, no message text): counters and states only.
 */

import http from 'node:http';

import { toPrometheus } from './metrics.js';

/**
 * Start the status server on `host`:`port` (port 0 = any free port).
 * @returns {Promise<{server: http.Server, port: number, close: () => Promise<void>}>}
 */
export async function startStatusServer({ metrics, host = '0.0.0.0', port = 3000, log }) {
  const server = http.createServer((request, response) => answer(metrics, request, response));
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 10000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const bound = server.address().port;
  log?.info({ host, port: bound }, 'status server listening (GET /healthz, GET /metrics)');
  return {
    server,
    port: bound,
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

function answer(metrics, request, response) {
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
