// Slows down guessing of the secret key at the dashboard's login: per client address, a few
// wrong keys are free (typos), then each further one locks that address out for twice as long,
// up to MAX_LOCK_MS. Memory is bounded: at most MAX_TRACKED_ADDRESSES, the least recent dropped.
// Pure bookkeeping: the caller passes the time, no timers.
import { Lru } from '../lru.js';
import { backoffMs } from '../proxy/backoff.js';

/** Wrong keys an address may send before it is slowed down. */
const FREE_FAILURES = 5;
/** The first lock after the free failures; doubles with each further failure. */
const FIRST_LOCK_MS = 1000;
/** One guess a minute at most, however long it goes on: a 36-character key outlives any guesser. */
const MAX_LOCK_MS = 60_000;
/** An address quiet this long starts over. */
const FORGET_AFTER_MS = 15 * 60_000;
/** 10,000 addresses × ~100 bytes: about a megabyte, whatever a botnet sends. */
const MAX_TRACKED_ADDRESSES = 10_000;

interface Entry {
  failures: number;
  lockedUntilMs: number;
  lastMs: number;
}

export interface LoginThrottle {
  /** Milliseconds the address must still wait before its next try; 0 when it may try now. */
  waitMs(address: string, nowMs: number): number;
  failed(address: string, nowMs: number): void;
  succeeded(address: string): void;
  readonly tracked: number;
}

export function createLoginThrottle(limits: { maxTracked?: number } = {}): LoginThrottle {
  const maxTracked = limits.maxTracked ?? MAX_TRACKED_ADDRESSES;
  // A failure makes its address the most recent; reading how long one must wait does not.
  const entries = new Lru<string, Entry>(maxTracked);

  const current = (address: string, nowMs: number): Entry | undefined => {
    const entry = entries.peek(address);
    if (entry !== undefined && nowMs - entry.lastMs > FORGET_AFTER_MS && nowMs >= entry.lockedUntilMs) {
      entries.delete(address);
      return undefined;
    }
    return entry;
  };

  return {
    waitMs(address, nowMs) {
      const entry = current(address, nowMs);
      return entry === undefined ? 0 : Math.max(0, entry.lockedUntilMs - nowMs);
    },
    failed(address, nowMs) {
      const entry = current(address, nowMs) ?? { failures: 0, lockedUntilMs: 0, lastMs: nowMs };
      entry.failures++;
      entry.lastMs = nowMs;
      const over = entry.failures - FREE_FAILURES;
      if (over > 0) entry.lockedUntilMs = nowMs + backoffMs(over, { baseMs: FIRST_LOCK_MS, maxMs: MAX_LOCK_MS });
      entries.set(address, entry);
    },
    succeeded(address) {
      entries.delete(address);
    },
    get tracked() {
      return entries.size;
    },
  };
}
