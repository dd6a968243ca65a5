import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';

import { ingestHeaders, signature, signatureTimestamp } from '../src/signer.js';

test('the test vector of docs/whatsapp-ingest.md', () => {
  const body = Buffer.from('{"messages":[{"id":"m1","text":"hi"}]}');
  assert.equal(signature('test_secret_0123456789', '1700000000', body),
    '594a67a9ae912bc141e5e2a810ba11e08adb58b7efc6fcd2db4ebe1085aa4092');
});

test('the timestamp has no fraction (the backend takes YYYY-MM-DDTHH:MM:SSZ only)', () => {
  assert.equal(signatureTimestamp(Date.UTC(2026, 10, 30, 12, 0, 0, 789)), '2026-11-30T12:00:00Z');
});

test('the headers sign the exact bytes, non-ASCII included', () => {
  const body = Buffer.from(JSON.stringify({ client_id: 'c', messages: [{ text: 'Айфон 15 — 650 €' }] }));
  const headers = ingestHeaders({ token: 't', secret: 'clé', body, now: Date.UTC(2026, 10, 30) });
  assert.equal(headers['X-Signature-Timestamp'], '2026-11-30T00:00:00Z');
  const expected = crypto.createHmac('sha256', Buffer.from('clé', 'utf8'))
    .update(Buffer.concat([Buffer.from('2026-11-30T00:00:00Z.'), body])).digest('hex');
  assert.equal(headers['X-Signature'], expected);
  assert.equal(headers['X-Ingest-Token'], 't');
});

test('without a secret no signature headers are sent', () => {
  const headers = ingestHeaders({ token: 't', secret: '', body: Buffer.from('{}'), now: 0 });
  assert.deepEqual(Object.keys(headers).sort(), ['Content-Type', 'X-Ingest-Token']);
});
