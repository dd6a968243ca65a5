/**
 * Waiting for a promise with a limit, as shutdown does (the batch in flight, a running drain).
 */

/**
 * Whether `promise` settles within `ms` milliseconds: true when it did (fulfilled or rejected),
 * false when the time ran out first. The timer is cleared either way.
 * @param {Promise<unknown>} promise
 * @param {number} ms
 * @returns {Promise<boolean>}
 */
export async function settledWithin(promise, ms) {
  let timeout;
  try {
    return await Promise.race([
      promise.then(() => true, () => true),
      new Promise((resolve) => { timeout = setTimeout(() => resolve(false), ms); }),
    ]);
  } finally {
    clearTimeout(timeout);
  }
}
