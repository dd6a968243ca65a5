import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { ConfigError, loadConfig } from '../src/config.js';

const BASE = {
  WHATSAPP_INGEST_URL: 'https://pricehub.example.com/integrations/whatsapp/ingest',
  WHATSAPP_INGEST_TOKEN: 'token',
  CLIENT_ID: 'sim-bank-1',
};

test('the defaults of the playbook', () => {
  const config = loadConfig(BASE, '/srv/collector');
  assert.equal(config.authStateDir, '/srv/collector/auth-state');
  assert.equal(config.spoolDir, '/srv/collector/spool');
  assert.equal(config.batchMaxMessages, 50);
  assert.equal(config.batchFlushIntervalMs, 5000);
  assert.equal(config.port, 3000);
  assert.equal(config.hmacSecret, '');
  assert.equal(config.mediaMaxBytes, 10 * 1024 * 1024);
  assert.ok(Object.isFrozen(config));
});

test('every setting is read', () => {
  const config = loadConfig({
    ...BASE, WHATSAPP_INGEST_HMAC_SECRET: 's3cret', BATCH_MAX_MESSAGES: '25', BATCH_FLUSH_INTERVAL_MS: '2000',
    AUTH_STATE_DIR: '/data/auth-state', PORT: '8080', LOG_LEVEL: 'DEBUG',
  }, '/srv');
  assert.deepEqual(
    [config.hmacSecret, config.batchMaxMessages, config.batchFlushIntervalMs, config.authStateDir, config.spoolDir, config.port, config.logLevel],
    ['s3cret', 25, 2000, '/data/auth-state', '/data/spool', 8080, 'debug'],
  );
});

test('missing values stop start-up, each named', () => {
  assert.throws(() => loadConfig({}), (error) => {
    assert.ok(error instanceof ConfigError);
    for (const name of ['WHATSAPP_INGEST_URL', 'WHATSAPP_INGEST_TOKEN', 'CLIENT_ID']) {
      assert.match(error.message, new RegExp(`${name} is required`));
    }
    assert.equal(error.problems.length, 3);
    return true;
  });
});

for (const [name, value, pattern] of [
  ['WHATSAPP_INGEST_URL', 'ftp://x/ingest', /WHATSAPP_INGEST_URL must be an http\(s\) URL/],
  ['WHATSAPP_INGEST_URL', 'not a url', /WHATSAPP_INGEST_URL must be an http\(s\) URL/],
  ['WHATSAPP_INGEST_URL', 'https://u:p@h/ingest', /must not carry a user name/],
  ['BATCH_MAX_MESSAGES', '0', /BATCH_MAX_MESSAGES must be between 1 and 500, not 0/],
  ['BATCH_MAX_MESSAGES', '501', /BATCH_MAX_MESSAGES must be between 1 and 500/],
  ['BATCH_MAX_MESSAGES', '10.5', /BATCH_MAX_MESSAGES must be a whole number/],
  ['BATCH_FLUSH_INTERVAL_MS', 'soon', /BATCH_FLUSH_INTERVAL_MS must be a whole number/],
  ['PORT', '70000', /PORT must be between 0 and 65535/],
  ['CLIENT_ID', 'x'.repeat(101), /CLIENT_ID must be at most 100 characters/],
  ['SPOOL_DIR', './auth-state/spool', /SPOOL_DIR must not be inside AUTH_STATE_DIR/],
  ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
]) {
  test(`a bad ${name} (${JSON.stringify(value).slice(0, 30)}) stops start-up naming it`, () => {
    assert.throws(() => loadConfig({ ...BASE, [name]: value }, '/srv'), pattern);
  });
}

test('relative folders are taken from the working folder', () => {
  const config = loadConfig({ ...BASE, AUTH_STATE_DIR: 'state/wa', SPOOL_DIR: 'outbox' }, '/srv/c');
  assert.equal(config.authStateDir, path.join('/srv/c', 'state/wa'));
  assert.equal(config.spoolDir, '/srv/c/outbox');
});

test('PAIRING_PHONE_NUMBER is kept as digits; STATUS_TOKEN must not be short; STATUS_HOST defaults to every address', () => {
  const config = loadConfig({ ...BASE, PAIRING_PHONE_NUMBER: '+44 (7911) 123-456', STATUS_TOKEN: 'x'.repeat(16) }, '/srv');
  assert.equal(config.pairingPhoneNumber, '447911123456');
  assert.equal(config.statusToken, 'x'.repeat(16));
  assert.equal(config.statusHost, '');
  assert.throws(() => loadConfig({ ...BASE, PAIRING_PHONE_NUMBER: 'my phone' }), /PAIRING_PHONE_NUMBER must be the account's phone number/);
  assert.throws(() => loadConfig({ ...BASE, STATUS_TOKEN: 'short' }), /STATUS_TOKEN must be at least 16 characters/);
});
