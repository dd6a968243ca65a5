/**
 * The on-disk spool: batches that could not be delivered wait here, across restarts, until the
 * backend takes them (playbook 7.3: nothing is lost across restarts or backend outages).
 *
 * Layout under SPOOL_DIR: `pending/<name>.json` (to be sent again, oldest name first) and
 * `rejected/<name>.json` (refused by the backend with a 4xx it will always answer for these bytes,
 * kept for an operator with the status, request_id and detail). Each file is
 * `{"version": 1, "spooled_at", "reason", "messages": [...]}` (plus `"refusal"` in rejected/); it is
 * written to a `.tmp` file, flushed to disk and renamed, so a crash leaves either the whole file or
 * none. Both folders together hold at most SPOOL_MAX_BYTES: a batch that would pass it is refused
 * (`add` returns false) and its messages are counted as dropped and logged by the caller.
 *
 * When a pending batch may be tried again (`notBefore`) is kept in memory only: after a restart
 * every pending batch is due at once.
 */

import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const VERSION = 1;

/**
 * Open (create if needed) the spool in `dir`.
 * @param {{dir: string, maxBytes: number, now?: () => number, log?: object}} options
 */
export async function openSpool({ dir, maxBytes, now = Date.now, log }) {
  const pendingDir = path.join(dir, 'pending');
  const rejectedDir = path.join(dir, 'rejected');
  await fs.mkdir(pendingDir, { recursive: true, mode: 0o700 });
  await fs.mkdir(rejectedDir, { recursive: true, mode: 0o700 });
  for (const folder of [dir, pendingDir, rejectedDir]) await fs.chmod(folder, 0o700).catch(() => {});  // message texts: owner only
  /** @type {Map<string, {name: string, bytes: number, notBefore: number, failures: number}>} */
  const pending = new Map();
  const rejected = new Map();
  let sequence = 0;

  for (const [folder, index] of [[pendingDir, pending], [rejectedDir, rejected]]) {
    for (const name of (await fs.readdir(folder)).sort()) {
      const file = path.join(folder, name);
      if (name.endsWith('.tmp')) {
        await fs.rm(file, { force: true });  // a write cut short by a crash: its batch was never acknowledged as spooled
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const stat = await fs.stat(file);
      index.set(name, { name, bytes: stat.size, notBefore: 0, failures: 0 });
    }
  }
  if (pending.size) log?.info({ batches: pending.size }, 'the spool holds batches from an earlier run; they will be sent again');

  const used = () => sum(pending) + sum(rejected);

  async function write(folder, index, record) {
    const body = Buffer.from(JSON.stringify(record), 'utf8');
    if (used() + body.length > maxBytes) return null;
    sequence += 1;
    const name = `${String(now()).padStart(15, '0')}-${String(process.pid).padStart(7, '0')}-${String(sequence).padStart(9, '0')}-${crypto.randomBytes(3).toString('hex')}.json`;
    const temporary = path.join(folder, `${name}.tmp`);
    const handle = await fs.open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, path.join(folder, name));
    const entry = { name, bytes: body.length, notBefore: 0, failures: 0 };
    index.set(name, entry);
    return entry;
  }

  function keepRefused(messages, refusal) {
    return write(rejectedDir, rejected, {
      version: VERSION, spooled_at: new Date(now()).toISOString(), reason: 'refused by the backend', refusal, messages,
    });
  }

  return {
    dir,
    maxBytes,
    get depth() { return pending.size; },
    get rejectedDepth() { return rejected.size; },
    get bytes() { return used(); },

    /**
     * Keep `messages` to be sent later (not before `notBefore`, epoch ms).
     * @returns {Promise<boolean>} false when the spool is full (nothing written)
     */
    async add(messages, { reason = '', notBefore = 0 } = {}) {
      const entry = await write(pendingDir, pending, { version: VERSION, spooled_at: new Date(now()).toISOString(), reason, messages });
      if (entry) entry.notBefore = notBefore;
      return entry !== null;
    },

    /** Keep a refused batch for an operator. @returns {Promise<boolean>} false when the spool is full */
    async reject(messages, refusal) {
      return (await keepRefused(messages, refusal)) !== null;
    },

    /** The oldest pending entry due at `at` (epoch ms), or null. */
    next(at = now()) {
      for (const entry of pending.values()) {
        if (entry.notBefore <= at) return entry;
      }
      return null;
    },

    /**
     * The messages of a pending entry. An unreadable file (not JSON, another version) is moved to
     * rejected/ as it is and null is returned.
     */
    async read(entry) {
      const file = path.join(pendingDir, entry.name);
      try {
        const record = JSON.parse(await fs.readFile(file, 'utf8'));
        if (record?.version !== VERSION || !Array.isArray(record.messages)) throw new Error(`not a spool file of version ${VERSION}`);
        return record.messages;
      } catch (error) {
        log?.error({ file, error: error.message }, 'a spooled batch cannot be read; moved to the rejected folder');
        pending.delete(entry.name);
        await fs.rename(file, path.join(rejectedDir, entry.name)).catch(() => {});
        rejected.set(entry.name, { ...entry });
        return null;
      }
    },

    /** Forget a pending entry once delivered (its file is deleted). */
    async remove(entry) {
      await fs.rm(path.join(pendingDir, entry.name), { force: true });
      pending.delete(entry.name);  // after the file is gone: the depth never shows less than the disk holds
    },

    /** A pending entry failed again: try it after `notBefore` (epoch ms). */
    defer(entry, notBefore) {
      entry.failures += 1;
      entry.notBefore = notBefore;
    },

    /** Move a pending entry to rejected/, with the refusal recorded. */
    async moveToRejected(entry, messages, refusal) {
      pending.delete(entry.name);
      const kept = await keepRefused(messages, refusal).catch(() => null);
      if (kept) await fs.rm(path.join(pendingDir, entry.name), { force: true });
      else pending.set(entry.name, entry);  // no room in rejected/: it stays pending rather than vanish
      return kept !== null;
    },
  };
}

function sum(index) {
  let total = 0;
  for (const entry of index.values()) total += entry.bytes;
  return total;
}
