/**
 * A fake Baileys socket with the same event interface (`ev` is an EventEmitter emitting
 * `connection.update`, `messages.upsert`, `creds.update`, `groups.update`…), and a factory that
 * records every socket made, as `makeWASocket` would be called by the collector.
 */

import { EventEmitter } from 'node:events';

export function fakeWhatsApp({ groups = {}, failGroupMetadata = false } = {}) {
  const sockets = [];
  const metadataCalls = [];
  const configs = [];
  let authLoads = 0;

  function makeSocket(config) {
    configs.push(config);
    const ev = new EventEmitter();
    const socket = {
      ev,
      user: { id: '447700900000:12@s.whatsapp.net' },
      ended: false,
      config,
      async groupMetadata(jid) {
        metadataCalls.push(jid);
        if (failGroupMetadata) throw Object.assign(new Error('rate-overlimit'), { data: 429 });
        if (!groups[jid]) throw new Error('item-not-found');
        return { id: jid, subject: groups[jid], participants: [] };
      },
      async groupFetchAllParticipating() {
        return Object.fromEntries(Object.entries(groups).map(([id, subject]) => [id, { id, subject, participants: [] }]));
      },
      updateMediaMessage: async (message) => message,
      pairingRequests: [],
      async requestPairingCode(number) { socket.pairingRequests.push(number); return 'ABCD1234'; },
      end() { socket.ended = true; },
      /** Emit as Baileys does. */
      open() { ev.emit('connection.update', { connection: 'open' }); },
      qr(text = '2@fake-qr-reference,abc,def') { ev.emit('connection.update', { qr: text }); },
      close(code, message = 'closed') {
        ev.emit('connection.update', { connection: 'close', lastDisconnect: { error: Object.assign(new Error(message), { output: { statusCode: code } }), date: new Date() } });
      },
      upsert(messages, type = 'notify') { ev.emit('messages.upsert', { messages, type }); },
    };
    sockets.push(socket);
    return socket;
  }

  async function loadAuthState(folder) {
    authLoads += 1;
    return { state: { creds: { folder }, keys: {} }, saveCreds: async () => {} };
  }

  return {
    makeSocket,
    loadAuthState,
    sockets,
    configs,
    metadataCalls,
    get last() { return sockets[sockets.length - 1]; },
    get authLoads() { return authLoads; },
  };
}

let counter = 0;

/** A group text message as Baileys delivers it (`messageTimestamp` in seconds). */
export function groupText(text, { jid = '120363000000000001@g.us', id, participant = '447911123456@s.whatsapp.net', pushName = 'Mario Phones', seconds = 1796040000, wrap } = {}) {
  counter += 1;
  let message = { conversation: text };
  if (wrap === 'extended') message = { extendedTextMessage: { text } };
  if (wrap === 'ephemeral') message = { ephemeralMessage: { message: { extendedTextMessage: { text } } } };
  return { key: { remoteJid: jid, id: id ?? `MSG${counter}`, fromMe: false, participant }, pushName, messageTimestamp: seconds, message };
}
