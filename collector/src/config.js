/**
 * The collector's settings, read from the environment once at start-up (playbook 7.1 and 7.3).
 *
 * Required: WHATSAPP_INGEST_URL (http or https URL of POST /integrations/whatsapp/ingest),
 * WHATSAPP_INGEST_TOKEN, CLIENT_ID (1-100 characters, the backend's limit).
 * Optional, with defaults: WHATSAPP_INGEST_HMAC_SECRET (unset: requests are not signed; the backend
 * then needs no secret either), BATCH_MAX_MESSAGES (50; 1-500, the backend's
 * WHATSAPP_INGEST_MAX_MESSAGES), BATCH_FLUSH_INTERVAL_MS (5000; 100-3,600,000), AUTH_STATE_DIR
 * (./auth-state), PORT (3000; the status server), STATUS_HOST (unset: every address, IPv4 and
 * IPv6), STATUS_TOKEN (unset: /metrics is open; set: it needs this value in X-Metrics-Token or
 * `Authorization: Bearer`), PAIRING_PHONE_NUMBER (unset: pair by QR code; set, the account's number
 * with country code: pair by an 8-character code entered on the phone), SPOOL_DIR (the folder
 * `spool` beside AUTH_STATE_DIR, so one volume keeps both), SPOOL_MAX_BYTES (256 MiB),
 * SPOOL_RETRY_INTERVAL_MS (30000), MEDIA_MAX_BYTES (10 MiB, the backend's WHATSAPP_MEDIA_MAX_BYTES
 * default), BATCH_MAX_BYTES (16 MiB, under the backend's 20 MiB WHATSAPP_INGEST_MAX_BODY_BYTES),
 * REQUEST_TIMEOUT_MS (30000), LOG_LEVEL (info), BAILEYS_LOG_LEVEL (warn).
 */

import path from 'node:path';

export class ConfigError extends Error {
  /** @param {string[]} problems one sentence per bad or missing variable, each naming it */
  constructor(problems) {
    super(`the collector cannot start: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const MiB = 1024 * 1024;

/**
 * Read and check the settings.
 * @param {Record<string, string | undefined>} env usually `process.env`
 * @param {string} cwd the folder relative paths are taken from
 * @returns {Readonly<object>} camelCase settings (see the module's docstring for the names)
 * @throws {ConfigError} naming every variable that is missing or bad, all at once
 */
export function loadConfig(env, cwd = process.cwd()) {
  const problems = [];
  const text = (name, { required = false, fallback = '' } = {}) => {
    const value = (env[name] ?? '').trim();
    if (!value && required) problems.push(`${name} is required and not set`);
    return value || fallback;
  };
  const integer = (name, fallback, min, max) => {
    const raw = (env[name] ?? '').trim();
    if (!raw) return fallback;
    if (!/^\d+$/.test(raw)) {
      problems.push(`${name} must be a whole number between ${min} and ${max}, not ${JSON.stringify(raw)}`);
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max) {
      problems.push(`${name} must be between ${min} and ${max}, not ${value}`);
      return fallback;
    }
    return value;
  };

  const ingestUrl = text('WHATSAPP_INGEST_URL', { required: true });
  if (ingestUrl) {
    let parsed = null;
    try { parsed = new URL(ingestUrl); } catch { /* reported below */ }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) {
      problems.push(`WHATSAPP_INGEST_URL must be an http(s) URL such as https://pricehub.example.com/integrations/whatsapp/ingest, not ${JSON.stringify(ingestUrl)}`);
    } else if (parsed.username || parsed.password) {
      problems.push('WHATSAPP_INGEST_URL must not carry a user name or password (the token goes in WHATSAPP_INGEST_TOKEN)');
    }
  }
  const token = text('WHATSAPP_INGEST_TOKEN', { required: true });
  const hmacSecret = (env.WHATSAPP_INGEST_HMAC_SECRET ?? '').trim();
  const clientId = text('CLIENT_ID', { required: true });
  if (clientId.length > 100) problems.push(`CLIENT_ID must be at most 100 characters, not ${clientId.length}`);
  const authStateDir = path.resolve(cwd, text('AUTH_STATE_DIR', { fallback: './auth-state' }));
  const spoolDir = path.resolve(cwd, text('SPOOL_DIR', { fallback: path.join(path.dirname(authStateDir), 'spool') }));
  if (spoolDir === authStateDir || spoolDir.startsWith(authStateDir + path.sep)) {
    problems.push('SPOOL_DIR must not be inside AUTH_STATE_DIR (clearing the auth state, playbook 7.4, would delete unsent batches)');
  }
  const pairingRaw = text('PAIRING_PHONE_NUMBER');
  const pairingPhoneNumber = pairingRaw.replace(/[\s()+-]/g, '');
  if (pairingRaw && !/^\d{7,15}$/.test(pairingPhoneNumber)) {
    problems.push(`PAIRING_PHONE_NUMBER must be the account's phone number with its country code (7-15 digits, e.g. +44 7911 123456), not ${JSON.stringify(pairingRaw)}`);
  }
  const statusToken = (env.STATUS_TOKEN ?? '').trim();
  if (statusToken && statusToken.length < 16) problems.push('STATUS_TOKEN must be at least 16 characters');
  const logLevel = text('LOG_LEVEL', { fallback: 'info' }).toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(logLevel)}`);
  const baileysLogLevel = text('BAILEYS_LOG_LEVEL', { fallback: 'warn' }).toLowerCase();
  if (!LOG_LEVELS.includes(baileysLogLevel)) problems.push(`BAILEYS_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(baileysLogLevel)}`);

  const config = {
    ingestUrl,
    token,
    hmacSecret,
    clientId,
    batchMaxMessages: integer('BATCH_MAX_MESSAGES', 50, 1, 500),
    batchFlushIntervalMs: integer('BATCH_FLUSH_INTERVAL_MS', 5000, 100, 3_600_000),
    batchMaxBytes: integer('BATCH_MAX_BYTES', 16 * MiB, 64 * 1024, 1024 * MiB),
    authStateDir,
    port: integer('PORT', 3000, 0, 65535),
    statusHost: text('STATUS_HOST'),
    statusToken,
    pairingPhoneNumber,
    spoolDir,
    spoolMaxBytes: integer('SPOOL_MAX_BYTES', 256 * MiB, MiB, 1024 * 1024 * MiB),
    spoolRetryIntervalMs: integer('SPOOL_RETRY_INTERVAL_MS', 30_000, 100, 3_600_000),
    mediaMaxBytes: integer('MEDIA_MAX_BYTES', 10 * MiB, 0, 1024 * MiB),
    requestTimeoutMs: integer('REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000),
    logLevel,
    baileysLogLevel,
  };
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(config);
}
