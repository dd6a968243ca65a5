/**
 * A WhatsApp message (Baileys' WAMessage) → one message of the ingest contract
 * (docs/whatsapp-ingest.md): `{chat_id, chat_title, text, sender, sender_name, sent_at, message_id}`
 * plus, for attachments, what to download (`media` is added by the source once downloaded).
 *
 * Which messages are kept: group messages (`…@g.us`) not sent by this account, with text, a caption
 * or an attachment a price list can be (an image or a document). Wrappers are unwrapped first with
 * Baileys' `normalizeMessageContent` (ephemeral, view-once, document-with-caption, edited: a group
 * with disappearing messages wraps everything). An edit (a protocol message MESSAGE_EDIT) becomes
 * the edited message again, under the original's `message_id`: the backend replaces the stored text.
 *
 * `sent_at`: Baileys' `messageTimestamp` is seconds since the epoch (number or Long), sent as UTC
 * ISO 8601. `sender`: the member's phone number as +<digits> when known (stable, and what a chat
 * export shows for a contact not saved on the phone), else the profile name, else the id WhatsApp
 * gives (a LID); `sender_name` carries the profile name (pushName) for information.
 */

import baileys, { getContentType, isJidGroup, normalizeMessageContent, toNumber } from '@whiskeysockets/baileys';

const MESSAGE_EDIT = baileys.proto.Message.ProtocolMessage.Type.MESSAGE_EDIT;

/** Attachment kinds forwarded: the ones a vendor's price list comes as. */
const MEDIA_KINDS = Object.freeze({ imageMessage: 'image', documentMessage: 'document' });

/** The text or caption of an unwrapped message content, trimmed; "" when it has none. */
export function contentText(content) {
  if (!content) return '';
  const text = content.conversation
    ?? content.extendedTextMessage?.text
    ?? content.imageMessage?.caption
    ?? content.documentMessage?.caption
    ?? content.videoMessage?.caption
    ?? '';
  return String(text).trim();
}

/**
 * The attachment of an unwrapped content worth downloading, or null:
 * `{kind: "image" | "document", field, mimeType, fileName, fileLength (bytes or null)}`.
 */
export function contentMedia(content, messageId = 'attachment') {
  if (!content) return null;
  for (const [field, kind] of Object.entries(MEDIA_KINDS)) {
    const media = content[field];
    if (!media) continue;
    const mimeType = String(media.mimetype || (kind === 'image' ? 'image/jpeg' : 'application/octet-stream')).split(';')[0].trim().toLowerCase();
    const fileLength = media.fileLength == null ? null : toNumber(media.fileLength);
    const fileName = safeFileName(media.fileName) || `${safeFileName(messageId) || 'attachment'}${extensionFor(mimeType)}`;
    return { kind, field, mimeType, fileName, fileLength };
  }
  return null;
}

/**
 * The contract message for `message`, or `{skip: reason}` when it is not forwarded.
 * @param {object} message a WAMessage
 * @param {{chatTitle?: string}} options the group's subject, when known
 * @returns {{message: object, content: object, media: object | null} | {skip: string}}
 */
export function toIngestMessage(message, { chatTitle = '' } = {}) {
  const key = message?.key;
  if (!key?.remoteJid) return { skip: 'no chat' };
  if (!isJidGroup(key.remoteJid)) return { skip: 'not a group' };
  if (key.fromMe) return { skip: 'sent by this account' };
  let content = normalizeMessageContent(message.message);
  if (!content) return { skip: 'no content (a stub or a notice)' };
  let messageId = key.id ?? '';
  const protocol = content.protocolMessage;
  if (protocol) {
    if (protocol.type !== MESSAGE_EDIT || !protocol.editedMessage) return { skip: `a protocol message (${getContentType(content)})` };
    content = normalizeMessageContent(protocol.editedMessage);
    messageId = protocol.key?.id ?? messageId;
  }
  const text = contentText(content);
  const media = contentMedia(content, messageId);
  if (!text && !media) return { skip: `nothing to forward (${getContentType(content) ?? 'empty'})` };
  const seconds = message.messageTimestamp == null ? null : toNumber(message.messageTimestamp);
  const out = {
    chat_id: key.remoteJid,
    chat_title: chatTitle || key.remoteJid,
    text,
    sender: senderOf(key, message.pushName),
    message_id: messageId,
  };
  if (message.pushName) out.sender_name = String(message.pushName).slice(0, 200);
  if (seconds) out.sent_at = new Date(seconds * 1000).toISOString();
  if (!out.sender) delete out.sender;
  return { message: out, content, media };
}

/** +<digits> for a phone-number JID; null for anything else. */
export function phoneOf(jid) {
  const match = /^(\d{6,20})(?::\d+)?@s\.whatsapp\.net$/.exec(jid ?? '');
  return match ? `+${match[1]}` : null;
}

function senderOf(key, pushName) {
  const candidates = [key.participantAlt, key.participantPn, key.senderPn, key.participant];
  for (const jid of candidates) {
    const phone = phoneOf(jid);
    if (phone) return phone;
  }
  const name = String(pushName ?? '').trim();
  if (name) return name.slice(0, 200);
  return String(key.participant ?? '').slice(0, 200);
}

const EXTENSIONS = {
  'application/pdf': '.pdf', 'image/jpeg': '.jpg', 'image/png': '.png', 'image/webp': '.webp', 'image/tiff': '.tif',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': '.xlsx', 'application/vnd.ms-excel': '.xls',
  'text/csv': '.csv', 'text/plain': '.txt',
};

function extensionFor(mimeType) {
  return EXTENSIONS[mimeType] ?? '';
}

/** A file name without folders or control characters, at most 200 characters; "" when none is left. */
export function safeFileName(name) {
  if (!name) return '';
  const base = String(name).split(/[\\/]/).pop().replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (!base || base === '.' || base === '..') return '';
  return base.slice(-200);
}
