/**
 * The WhatsApp side: one Baileys socket on the multi-file auth state in AUTH_STATE_DIR, read for
 * the messages of the account's groups (playbook 7.1 and 7.4; Baileys 6.17.16, pinned).
 *
 * - Pairing: when WhatsApp asks for it, the QR code is printed on the console (stdout), or with
 *   PAIRING_PHONE_NUMBER set an 8-character pairing code is requested for that number and printed
 *   instead; the state is "pairing" until the phone links. The link closes the socket with
 *   `restartRequired` (515) and the collector reconnects at once, now paired. Codes that expire
 *   unused close the socket (408): a new one is shown at once.
 * - Reconnect: Baileys does not reconnect by itself. After a close the socket is made again, after
 *   1 s, 2 s, 4 s… (at most RECONNECT_MAX_MS), except when WhatsApp logged the account out (401:
 *   state "logged_out", recovery by playbook 7.4), forbade it (403) or another client took the same
 *   session over (440): those need an operator, and a loop would not help.
 * - Messages: `messages.upsert` of both types, "notify" (live) and "append" (delivered after the
 *   collector was offline), each message once (recent ids remembered), in the order received;
 *   `messaging-history.set` (old history) is not forwarded. normalize.js decides what is kept.
 * - Chat titles: group metadata cached per group (warmed with `groupFetchAllParticipating` when the
 *   connection opens, kept fresh by `groups.update`/`groups.upsert`, fetched once on a miss, never
 *   again for a minute after a failure): asking WhatsApp per message gets the account throttled
 *   (`rate-overlimit`, Baileys issues #1061, #2148).
 * - Attachments (images, documents) within MEDIA_MAX_BYTES are downloaded (`downloadMediaMessage`,
 *   asking the phone to upload again media WhatsApp no longer has) and sent as base64; larger or
 *   undownloadable ones are counted in `media_skipped` and logged, and their caption still goes.
 *
 * Everything Baileys is injected (`makeSocket`, `loadAuthState`, `download`), so tests drive the
 * source with a fake socket whose `ev` is an EventEmitter.
 */

import crypto from 'node:crypto';
import fs from 'node:fs/promises';

import { DisconnectReason, downloadMediaMessage, makeWASocket, useMultiFileAuthState } from '@whiskeysockets/baileys';
import qrcode from 'qrcode-terminal';

import { toIngestMessage } from './normalize.js';

export const RECONNECT = Object.freeze({ minMs: 1000, maxMs: 60_000 });
const SEEN_MAX = 10_000;
const GROUP_TTL_MS = 6 * 60 * 60_000;
const GROUP_RETRY_MS = 60_000;
const MEDIA_DOWNLOAD_TIMEOUT_MS = 120_000;  // messages are read in order: a stuck download must not hold the rest

/** Close codes after which the collector does not reconnect by itself: state and what to do. */
function stopReason(code, authStateDir) {
  if (code === DisconnectReason.loggedOut) {
    return ['logged_out', `WhatsApp logged this collector out (401). Recover (playbook 7.4): stop the collector, delete the contents of ${authStateDir}, start it again and scan the QR code printed on the console`];
  }
  if (code === DisconnectReason.forbidden) {
    return ['forbidden', 'WhatsApp refused this account (403; it may be banned). Check the phone, then restart the collector'];
  }
  if (code === DisconnectReason.connectionReplaced) {
    return ['connection_replaced', `another client opened the same session (440): only one collector may use ${authStateDir}. Stop the other one, then restart this one`];
  }
  return null;
}

/** A cache of group metadata; `fetch(jid)` asks WhatsApp. */
export function createGroupCache({ fetch, now = Date.now, log }) {
  const groups = new Map();
  const inflight = new Map();
  const failedAt = new Map();
  return {
    /** The cached metadata of `jid` (for Baileys' `cachedGroupMetadata`), or undefined. */
    get: (jid) => groups.get(jid)?.metadata,
    /** Keep metadata objects `{id, subject, ...}`. */
    set(list) {
      for (const metadata of list) if (metadata?.id) groups.set(metadata.id, { metadata, at: now() });
    },
    /** Apply partial updates `{id, subject?}` (from `groups.update`). */
    update(list) {
      for (const change of list) {
        const known = groups.get(change?.id);
        if (known) groups.set(change.id, { metadata: { ...known.metadata, ...change }, at: known.at });
      }
    },
    /** The group's subject: cached, else fetched once (concurrent asks share one fetch); "" if unknown. */
    async title(jid) {
      const known = groups.get(jid);
      if (known && now() - known.at < GROUP_TTL_MS) return known.metadata.subject ?? '';
      if (now() - (failedAt.get(jid) ?? -Infinity) < GROUP_RETRY_MS) return known?.metadata.subject ?? '';
      if (!inflight.has(jid)) {
        inflight.set(jid, Promise.resolve().then(() => fetch(jid)).then((metadata) => {
          groups.set(jid, { metadata, at: now() });
          failedAt.delete(jid);
        }, (error) => {
          failedAt.set(jid, now());
          log?.warn({ chat_id: jid, error: error?.message }, 'group metadata could not be fetched; the chat id stands in for its title');
        }).finally(() => inflight.delete(jid)));
      }
      await inflight.get(jid);
      return groups.get(jid)?.metadata.subject ?? '';
    },
    get size() { return groups.size; },
  };
}

/**
 * `onMessage` gets each contract message in order; the next is read once what it returns settles.
 * @param {{authStateDir: string, mediaMaxBytes: number, onMessage: (message: object) => unknown,
 *          metrics: object, log?: object, baileysLogger?: object, qrOut?: {write: Function},
 *          makeSocket?: Function, loadAuthState?: Function, download?: Function,
 *          reconnect?: {minMs: number, maxMs: number}}} options
 */
export function createSource({
  authStateDir, mediaMaxBytes, onMessage, metrics, log, baileysLogger, qrOut = process.stdout,
  pairingPhoneNumber = '', makeSocket = makeWASocket, loadAuthState = useMultiFileAuthState,
  download = downloadMediaMessage, reconnect = RECONNECT,
}) {
  let socket = null;
  let stopped = false;
  let failures = 0;
  let retryTimer = null;
  let work = Promise.resolve();
  const seen = new Set();
  const pairingAsked = new WeakSet();
  const groups = createGroupCache({ fetch: (jid) => socket.groupMetadata(jid), log });

  function remember(id) {
    if (seen.has(id)) return false;
    seen.add(id);
    if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value);
    return true;
  }

  async function attachMedia(raw, found) {
    const { message, media } = found;
    const label = { chat_id: message.chat_id, message_id: message.message_id, file: media.fileName };
    if (media.fileLength != null && media.fileLength > mediaMaxBytes) {
      metrics.add('media_skipped');
      log?.warn({ ...label, bytes: media.fileLength, limit: mediaMaxBytes }, 'attachment over MEDIA_MAX_BYTES not sent');
      return;
    }
    try {
      let timer;
      const buffer = await Promise.race([
        download(raw, 'buffer', {}, { logger: baileysLogger, reuploadRequest: socket?.updateMediaMessage }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no download within ${MEDIA_DOWNLOAD_TIMEOUT_MS / 1000} s`)), MEDIA_DOWNLOAD_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      if (buffer.length > mediaMaxBytes) {
        metrics.add('media_skipped');
        log?.warn({ ...label, bytes: buffer.length, limit: mediaMaxBytes }, 'attachment over MEDIA_MAX_BYTES not sent');
        return;
      }
      message.media = { filename: media.fileName, mime_type: media.mimeType, data_base64: buffer.toString('base64') };
    } catch (error) {
      metrics.add('media_skipped');
      log?.warn({ ...label, error: error?.message }, 'attachment could not be downloaded; not sent');
    }
  }

  async function handle(raw) {
    const jid = raw?.key?.remoteJid;
    if (!jid?.endsWith('@g.us') || raw.key.fromMe) return;
    const found = toIngestMessage(raw, { chatTitle: await groups.title(jid) });
    if (found.skip) {
      log?.debug({ chat_id: jid, message_id: raw.key.id, reason: found.skip }, 'message not forwarded');
      return;
    }
    // An edit comes under the same id with another text: the text is part of what was seen.
    const digest = crypto.createHash('sha256').update(found.message.text).digest('hex').slice(0, 16);
    if (!remember(`${jid}/${found.message.message_id}/${digest}`)) return;
    if (found.media) await attachMedia(raw, found);
    if (!found.message.text && !found.message.media) {
      log?.warn({ chat_id: jid, message_id: found.message.message_id }, 'a message with only an attachment that could not be sent is not forwarded');
      return;
    }
    metrics.add('messages_received');
    await onMessage(found.message);
  }

  function schedule(delayMs) {
    metrics.add('reconnects');
    retryTimer = setTimeout(() => { retryTimer = null; connect().catch(fatal); }, delayMs);
  }

  /** One more failure in a row: the wait before the next attempt (1 s, 2 s, 4 s… at most maxMs). */
  function backoff() {
    failures += 1;
    return Math.min(reconnect.minMs * 2 ** (failures - 1), reconnect.maxMs);
  }

  function fatal(error) {
    metrics.setState('reconnecting', `the WhatsApp socket could not be made: ${error.message}`);
    log?.error({ error: error.message }, 'the WhatsApp socket could not be made; trying again');
    const delay = backoff();
    if (!stopped) schedule(delay);
  }

  function onConnection(update, current) {
    if (current !== socket) return;  // a late event of a socket already replaced
    const { connection, lastDisconnect, qr } = update;
    if (qr && pairingPhoneNumber) {
      if (!pairingAsked.has(current)) {
        pairingAsked.add(current);
        metrics.setState('pairing', 'waiting for the pairing code printed in the log to be entered on the phone (WhatsApp → Linked devices → Link a device → Link with phone number instead)');
        Promise.resolve().then(() => current.requestPairingCode(pairingPhoneNumber)).then((code) => {
          const shown = String(code).replace(/^(.{4})(.{4})$/, '$1-$2');
          log?.info({ pairing_code: shown }, 'pairing needed: on the phone, WhatsApp → Linked devices → Link a device → Link with phone number instead, and enter this code');
          qrOut.write(`\nPairing code for +${pairingPhoneNumber}: ${shown}\n\n`);
        }, (error) => log?.error({ error: error?.message }, 'the pairing code could not be requested'));
      }
    } else if (qr) {
      metrics.setState('pairing', 'waiting for the QR code printed on the console to be scanned (WhatsApp → Linked devices → Link a device)');
      log?.info('pairing needed: scan the QR code below with WhatsApp (Linked devices → Link a device); a new one replaces it every 20 s or so');
      qrcode.generate(qr, { small: true }, (text) => qrOut.write(`${text}\n`));
    }
    if (connection === 'connecting' && metrics.state !== 'pairing') {
      metrics.setState('connecting', 'connecting to WhatsApp');
    }
    if (connection === 'open') {
      failures = 0;
      metrics.setState('open', 'connected to WhatsApp');  // the account's number stays in the log, off the status server
      log?.info({ user: current.user?.id ?? null }, 'connected to WhatsApp');
      Promise.resolve().then(() => current.groupFetchAllParticipating()).then((all) => {
        groups.set(Object.values(all ?? {}));
        log?.info({ groups: groups.size }, 'group titles loaded');
      }, (error) => log?.warn({ error: error?.message }, 'the group list could not be loaded; titles are fetched per group'));
    }
    if (connection === 'close') {
      const code = lastDisconnect?.error?.output?.statusCode ?? null;
      if (stopped) return;
      const stop = stopReason(code, authStateDir);
      if (stop) {
        metrics.setState(stop[0], stop[1]);
        log?.error({ code }, stop[1]);
        return;
      }
      if (code === DisconnectReason.restartRequired) {
        log?.info('WhatsApp asked for a restart (515, as after pairing); reconnecting');
        metrics.setState('reconnecting', 'reconnecting after pairing');
        schedule(0);
        return;
      }
      const reason = lastDisconnect?.error?.message ?? 'no reason given';
      if (metrics.state === 'pairing') {
        // The QR codes (or the pairing code) expired unused: a new one at once, not a growing wait.
        metrics.setState('reconnecting', 'the pairing code expired unscanned; a new one follows');
        log?.info({ code, reason }, 'pairing timed out; showing a new code');
        schedule(reconnect.minMs);
        return;
      }
      const delay = backoff();
      metrics.setState('reconnecting', `the connection closed (code ${code ?? 'none'}: ${reason}); reconnecting in ${Math.round(delay / 1000)} s`);
      log?.warn({ code, reason, retry_in_ms: delay }, 'the WhatsApp connection closed; reconnecting');
      schedule(delay);
    }
  }

  async function connect() {
    if (stopped) return;
    const stat = await fs.stat(authStateDir).catch(() => null);
    if (stat && !stat.isDirectory()) throw new Error(`AUTH_STATE_DIR ${authStateDir} exists and is not a folder`);
    await fs.mkdir(authStateDir, { recursive: true, mode: 0o700 });
    await fs.chmod(authStateDir, 0o700).catch(() => {});  // the linked device's keys: owner only
    const { state, saveCreds } = await loadAuthState(authStateDir);
    metrics.setState('connecting', 'connecting to WhatsApp');
    const current = makeSocket({
      auth: state,
      logger: baileysLogger,
      markOnlineOnConnect: false,  // the phone keeps its notifications
      syncFullHistory: false,
      cachedGroupMetadata: async (jid) => groups.get(jid),
      getMessage: async () => undefined,  // no message store is kept (memory); retries of old sends are not needed
    });
    socket = current;
    current.ev.on('creds.update', saveCreds);
    current.ev.on('connection.update', (update) => onConnection(update, current));
    current.ev.on('groups.upsert', (list) => groups.set(list));
    current.ev.on('groups.update', (list) => groups.update(list));
    current.ev.on('messages.upsert', ({ messages, type }) => {
      if (current !== socket || (type !== 'notify' && type !== 'append')) return;
      for (const raw of messages ?? []) {
        work = work.then(() => handle(raw)).catch((error) => log?.error({ error: error.message, message_id: raw?.key?.id }, 'a message could not be read'));
      }
    });
  }

  return {
    /** Connect (the QR is printed when pairing is needed). Throws when the auth state cannot be read. */
    start: () => connect(),
    /** Close the socket for good; resolves when queued messages are handed over. */
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      try { socket?.end?.(undefined); } catch { /* already closed */ }
      await work;
    },
    /** Messages still being read (media downloads) are handed over when this resolves. */
    settled: () => work,
    groups,
    get socket() { return socket; },
  };
}
