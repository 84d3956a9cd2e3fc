// Answers "does the database take a query right now?" for GET /ready: one `SELECT 1` at a time,
// bounded in time, its answer shared by every caller for a moment. Must not pile queries up on
// a database that hangs, nor cost a loaded one more than a query per CACHE_MS.
import type { Pool } from './db.js';

// 1 s: load balancers poll every few seconds; a burst of probes shares one query.
const CACHE_MS = 1000;
// 2 s: SELECT 1 takes a millisecond; a database that needs seconds is not ready for traffic.
const TIMEOUT_MS = 2000;

export interface DatabaseProbe {
  /** True when a `SELECT 1` through the pool answered within the timeout (recently). */
  isReachable(): Promise<boolean>;
}

export interface DatabaseProbeOptions {
  cacheMs?: number;
  timeoutMs?: number;
}

export function createDatabaseProbe(pool: Pool, options: DatabaseProbeOptions = {}): DatabaseProbe {
  const cacheMs = options.cacheMs ?? CACHE_MS;
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  let last: { atMs: number; reachable: boolean } | undefined;
  // The query under way. A timed-out one is waited for by the next probes instead of being
  // joined by another: on a hung database each probe would otherwise hold a pool client.
  let pending: Promise<boolean> | undefined;

  const remember = (reachable: boolean) => {
    last = { atMs: Date.now(), reachable };
    return reachable;
  };

  return {
    async isReachable() {
      if (last !== undefined && Date.now() - last.atMs < cacheMs) return last.reachable;
      pending ??= pool.query('SELECT 1').then(
        () => true,
        () => false,
      ).then((reachable) => {
        pending = undefined;
        return remember(reachable);
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(remember(false)), timeoutMs);
        timer.unref();
      });
      try {
        return await Promise.race([pending, timedOut]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
