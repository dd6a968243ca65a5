import assert from 'node:assert/strict';
import { test } from 'node:test';

import { contentMedia, phoneOf, safeFileName, toIngestMessage } from '../src/normalize.js';

const GROUP = '120363041234567890@g.us';
const key = (extra = {}) => ({ remoteJid: GROUP, id: '3EB0ABCDEF', fromMe: false, participant: '447911123456@s.whatsapp.net', ...extra });

function wa(message, extra = {}) {
  return { key: key(extra.key), pushName: 'Mario Phones', messageTimestamp: 1796040000, message, ...extra.top };
}

test('a plain text message becomes the contract message', () => {
  const { message } = toIngestMessage(wa({ conversation: 'iPhone 15 128GB - 650$' }), { chatTitle: 'Dubai Phones' });
  assert.deepEqual(message, {
    chat_id: GROUP, chat_title: 'Dubai Phones', text: 'iPhone 15 128GB - 650$', sender: '+447911123456',
    sender_name: 'Mario Phones', message_id: '3EB0ABCDEF', sent_at: '2026-11-30T12:00:00.000Z',
  });
});

for (const [kind, content] of [
  ['extended text (a reply or a link)', { extendedTextMessage: { text: 'S24 Ultra 256 — 1020 AED', contextInfo: {} } }],
  ['a disappearing-messages group', { ephemeralMessage: { message: { extendedTextMessage: { text: 'S24 Ultra 256 — 1020 AED' } } } }],
  ['view once', { viewOnceMessageV2: { message: { imageMessage: { caption: 'S24 Ultra 256 — 1020 AED', mimetype: 'image/jpeg' } } } }],
  ['an image caption', { imageMessage: { caption: 'S24 Ultra 256 — 1020 AED', mimetype: 'image/jpeg' } }],
  ['a document with caption', { documentWithCaptionMessage: { message: { documentMessage: { caption: 'S24 Ultra 256 — 1020 AED', fileName: 'list.pdf', mimetype: 'application/pdf' } } } }],
  ['ephemeral around a document with caption', { ephemeralMessage: { message: { documentWithCaptionMessage: { message: { documentMessage: { caption: 'S24 Ultra 256 — 1020 AED', mimetype: 'application/pdf' } } } } } }],
]) {
  test(`text is unwrapped from ${kind}`, () => {
    const found = toIngestMessage(wa(content));
    assert.equal(found.message.text, 'S24 Ultra 256 — 1020 AED');
  });
}

test('attachments: what to download, with a safe file name', () => {
  const found = toIngestMessage(wa({ documentMessage: { fileName: '../../etc/Price List.xlsx', fileLength: 20480, mimetype: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' } }));
  assert.equal(found.message.text, '');
  assert.deepEqual(found.media, {
    kind: 'document', field: 'documentMessage', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    fileName: 'Price List.xlsx', fileLength: 20480,
  });
  const image = contentMedia({ imageMessage: { mimetype: 'image/png; charset=binary' } }, 'ID1');
  assert.equal(image.fileName, 'ID1.png');
  assert.equal(image.mimeType, 'image/png');
  assert.equal(safeFileName('..'), '');
  assert.equal(safeFileName('a\u0000b.pdf'), 'ab.pdf');
});

test('an edit is sent again under the original message id', () => {
  const found = toIngestMessage(wa({ protocolMessage: { type: 14, key: { id: 'ORIGINAL1' }, editedMessage: { conversation: 'iPhone 15 128GB - 640$' } } }));
  assert.equal(found.message.message_id, 'ORIGINAL1');
  assert.equal(found.message.text, 'iPhone 15 128GB - 640$');
  const wrapped = toIngestMessage(wa({ editedMessage: { message: { protocolMessage: { type: 14, key: { id: 'ORIGINAL2' }, editedMessage: { extendedTextMessage: { text: 'now 630$' } } } } } }));
  assert.equal(wrapped.message.message_id, 'ORIGINAL2');
  assert.equal(wrapped.message.text, 'now 630$');
});

for (const [why, message, reason] of [
  ['a direct chat', { key: key({ remoteJid: '447911123456@s.whatsapp.net' }), message: { conversation: 'hi' } }, /not a group/],
  ['one of our own', { key: key({ fromMe: true }), message: { conversation: 'hi' } }, /this account/],
  ['a stub (someone joined)', { key: key(), messageStubType: 27 }, /no content/],
  ['a deletion', { key: key(), message: { protocolMessage: { type: 0, key: { id: 'X' } } } }, /protocol message/],
  ['a sticker', { key: key(), message: { stickerMessage: { mimetype: 'image/webp' } } }, /nothing to forward/],
  ['a reaction', { key: key(), message: { reactionMessage: { text: '👍', key: { id: 'X' } } } }, /nothing to forward/],
  ['blank text', { key: key(), message: { conversation: '   ' } }, /nothing to forward/],
]) {
  test(`not forwarded: ${why}`, () => {
    assert.match(toIngestMessage(message).skip, reason);
  });
}

test('senders: the phone number when known, else the profile name, else the LID', () => {
  const lidKey = { participant: '123456789012345@lid' };
  assert.equal(toIngestMessage(wa({ conversation: 'x' }, { key: { ...lidKey, participantAlt: '5511987654321@s.whatsapp.net' } })).message.sender, '+5511987654321');
  assert.equal(toIngestMessage(wa({ conversation: 'x' }, { key: lidKey })).message.sender, 'Mario Phones');
  assert.equal(toIngestMessage(wa({ conversation: 'x' }, { key: lidKey, top: { pushName: undefined } })).message.sender, '123456789012345@lid');
  assert.equal(phoneOf('447911123456:3@s.whatsapp.net'), '+447911123456');
  assert.equal(phoneOf('123@lid'), null);
});

test('timestamps arrive as Long too; a missing one is left to the backend', () => {
  const long = { low: 1796040000, high: 0, unsigned: true, toNumber() { return 1796040000; } };
  assert.equal(toIngestMessage(wa({ conversation: 'x' }, { top: { messageTimestamp: long } })).message.sent_at, '2026-11-30T12:00:00.000Z');
  assert.equal('sent_at' in toIngestMessage(wa({ conversation: 'x' }, { top: { messageTimestamp: undefined } })).message, false);
});

test('without a known title the chat id stands in', () => {
  assert.equal(toIngestMessage(wa({ conversation: 'x' })).message.chat_title, GROUP);
});
