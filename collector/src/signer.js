/**
 * Signing a batch the way POST /integrations/whatsapp/ingest checks it (docs/whatsapp-ingest.md,
 * "Signing"): `X-Signature` = lowercase hex HMAC-SHA256, keyed with the secret's UTF-8 bytes, over
 * `timestamp + "." + body bytes`; `X-Signature-Timestamp` = the UTC time as YYYY-MM-DDTHH:MM:SSZ
 * (no fraction: the backend takes no other form).
 */

import crypto from 'node:crypto';

/** The UTC time `ms` (epoch milliseconds) as YYYY-MM-DDTHH:MM:SSZ. */
export function signatureTimestamp(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Lowercase hex HMAC-SHA256 of `timestamp + "." + body`.
 * @param {string} secret
 * @param {string} timestamp
 * @param {Buffer} body the exact bytes sent
 */
export function signature(secret, timestamp, body) {
  return crypto.createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(Buffer.from(`${timestamp}.`, 'utf8'))
    .update(body)
    .digest('hex');
}

/**
 * The headers of one attempt: the token always, the signature pair when a secret is set.
 * @param {{token: string, secret: string, body: Buffer, now: number}} options now in epoch ms
 * @returns {Record<string, string>}
 */
export function ingestHeaders({ token, secret, body, now }) {
  const headers = { 'Content-Type': 'application/json', 'X-Ingest-Token': token };
  if (secret) {
    const timestamp = signatureTimestamp(now);
    headers['X-Signature-Timestamp'] = timestamp;
    headers['X-Signature'] = signature(secret, timestamp, body);
  }
  return headers;
}
