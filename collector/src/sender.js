/**
 * Delivering one batch to POST /integrations/whatsapp/ingest (playbook 7.3 and 7.7).
 *
 * The body is serialised once; each attempt signs those bytes afresh (a new timestamp, so a retry
 * after a long wait is not refused as stale) and posts them. Attempts: three, with p-retry
 * (`retries: 2`, factor 2, 1 s then 2 s, never more than 5 s, no randomisation). A 429 or 503
 * with `Retry-After` (seconds or an HTTP date, RFC 9110 §10.2.3) waits at least that long before
 * the next attempt; a `Retry-After` over RETRY_AFTER_MAX_MS ends the attempts (the batch goes to
 * the spool, to be sent once that time has passed). 5xx, 408, 429 and network failures (refused,
 * reset, timed out) are retried; any other 4xx is not: 401/403 mean the collector's credentials
 * are wrong (the batch waits in the spool until they are fixed), other 4xx mean the backend will
 * never take these bytes (the batch is kept aside for an operator). Every refusal is logged with the
 * backend's `request_id`.
 */

import http from 'node:http';
import https from 'node:https';

import pRetry, { AbortError } from 'p-retry';

import { ingestHeaders } from './signer.js';

export const RETRY = Object.freeze({ retries: 2, factor: 2, minTimeout: 1000, maxTimeout: 5000, randomize: false });
export const RETRY_AFTER_MAX_MS = 60_000;
const RESPONSE_MAX_BYTES = 1024 * 1024;

/** An HTTP answer other than 2xx. */
export class HttpError extends Error {
  constructor(status, { requestId = null, detail = '', retryAfterMs = null } = {}) {
    super(`HTTP ${status}${detail ? ` ${detail}` : ''}${requestId ? ` (request_id ${requestId})` : ''}`);
    this.name = 'HttpError';
    this.status = status;
    this.requestId = requestId;
    this.detail = detail;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The backend could not be reached or did not answer (refused, reset, timed out). */
export class NetworkError extends Error {
  constructor(message) {
    super(message);
    this.name = 'NetworkError';
  }
}

/**
 * Milliseconds a `Retry-After` value asks to wait: delay-seconds or an HTTP date; null when absent
 * or unreadable; never negative.
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (value == null || value === '') return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/** The backoff p-retry waits after `retriesConsumed` failed attempts (the same formula as p-retry). */
export function backoffMs(retriesConsumed) {
  return Math.min(RETRY.minTimeout * RETRY.factor ** retriesConsumed, RETRY.maxTimeout);
}

/**
 * @param {{url: string, token: string, secret: string, timeoutMs?: number, log?: object,
 *          now?: () => number}} options
 * @returns {{deliver: (batch: {client_id: string, messages: object[]}) => Promise<Result>}}
 *
 * Result: `{outcome, status, requestId, detail, attempts, retryAfterMs, answer}` where outcome is
 * "delivered" (2xx; `answer` is the backend's JSON), "failed" (every attempt failed; retry later,
 * not before `retryAfterMs` when set), "unauthorized" (401/403: fix the token or secret) or
 * "rejected" (another 4xx: these bytes will never be taken). Never throws for HTTP or network
 * failures.
 */
export function createSender({ url, token, secret, timeoutMs = 30_000, log, now = Date.now }) {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;

  function post(body) {
    const headers = { ...ingestHeaders({ token, secret, body, now: now() }), 'Content-Length': String(body.length) };
    return new Promise((resolve, reject) => {
      const request = transport.request(target, { method: 'POST', headers }, (response) => {
        const parts = [];
        let size = 0;
        response.on('data', (chunk) => {
          size += chunk.length;
          if (size <= RESPONSE_MAX_BYTES) parts.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(parts) }));
        response.on('error', (error) => reject(new NetworkError(`the answer was cut short: ${error.message}`)));
      });
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      request.on('error', (error) => reject(error instanceof NetworkError ? error : new NetworkError(`${target.host}: ${error.code ?? error.message}`)));
      request.end(body);
    });
  }

  async function attempt(body) {
    const response = await post(body);
    let answer = null;
    try { answer = JSON.parse(response.body.toString('utf8')); } catch { /* not JSON: the detail stays empty */ }
    const requestId = (answer && typeof answer.request_id === 'string' && answer.request_id) || response.headers['x-request-id'] || null;
    if (response.status >= 200 && response.status < 300) return { status: response.status, requestId, answer };
    const detail = answer && typeof answer.detail === 'string' ? answer.detail : response.body.toString('utf8').slice(0, 200);
    const error = new HttpError(response.status, {
      requestId, detail, retryAfterMs: parseRetryAfter(response.headers['retry-after'], now()),
    });
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    if (!retryable) throw new AbortError(error);
    throw error;
  }

  async function deliver(batch) {
    const body = Buffer.from(JSON.stringify(batch), 'utf8');
    const count = batch.messages.length;
    let attempts = 0;
    let last = null;
    try {
      const result = await pRetry(async (attemptNumber) => {
        attempts = attemptNumber;
        return attempt(body);
      }, {
        ...RETRY,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft, retriesConsumed }) => {
          last = error;
          const wait = retriesLeft > 0 ? backoffMs(retriesConsumed) : 0;
          const extra = error.retryAfterMs != null ? Math.max(0, error.retryAfterMs - wait) : 0;
          log?.warn({
            attempt: attemptNumber, messages: count, status: error.status ?? null, request_id: error.requestId ?? null,
            detail: error.detail || error.message, retry_in_ms: retriesLeft > 0 ? wait + extra : null,
          }, retriesLeft > 0 ? 'batch attempt failed; retrying' : 'batch attempt failed; no attempts left');
          if (retriesLeft > 0 && error.retryAfterMs != null) {
            if (error.retryAfterMs > RETRY_AFTER_MAX_MS) {
              throw error;  // ends the attempts: the spool waits out Retry-After
            }
            if (extra > 0) await new Promise((resolve) => setTimeout(resolve, extra));
          }
        },
      });
      return { outcome: 'delivered', status: result.status, requestId: result.requestId, detail: '', attempts, retryAfterMs: null, answer: result.answer };
    } catch (error) {
      const failure = error instanceof HttpError || error instanceof NetworkError ? error : last ?? error;
      const status = failure.status ?? null;
      const requestId = failure.requestId ?? null;
      const detail = failure.detail || failure.message;
      if (status !== null && status >= 400 && status < 500 && status !== 408 && status !== 429) {
        const outcome = status === 401 || status === 403 ? 'unauthorized' : 'rejected';
        log?.error({ status, request_id: requestId, detail, messages: count },
          outcome === 'unauthorized'
            ? 'the backend refused the collector\'s credentials (check WHATSAPP_INGEST_TOKEN and WHATSAPP_INGEST_HMAC_SECRET); not retried now, the batch waits in the spool'
            : 'the backend refused the batch; not retried, it is kept in the spool\'s rejected folder');
        return { outcome, status, requestId, detail, attempts, retryAfterMs: null, answer: null };
      }
      return { outcome: 'failed', status, requestId, detail, attempts, retryAfterMs: failure.retryAfterMs ?? null, answer: null };
    }
  }

  return { deliver };
}
