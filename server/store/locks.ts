// SQL for the locks functions take (nango.tryAcquireLock): one row per (connection, key), shared by
// every runner through PostgreSQL. A lock past its expiry is free, whoever took it; its row is
// replaced by the next taker, or deleted when its run ends.
import type { Queryable } from './db.js';

export interface LockKey {
  integrationKey: string;
  connectionId: string;
  key: string;
}

export interface LockStore {
  /** Takes the lock for `owner` (or extends it, when `owner` holds it); false when another live owner does. */
  tryAcquire(lock: LockKey, owner: string, ttlMs: number): Promise<boolean>;
  /** Releases the lock if `owner` holds it; false when it did not (free, expired and taken, another's). */
  release(lock: LockKey, owner: string): Promise<boolean>;
  /** Releases every lock `owner` holds; returns how many. */
  releaseAll(owner: string): Promise<number>;
}

export function createLockStore(db: Queryable): LockStore {
  return {
    async tryAcquire(lock, owner, ttlMs) {
      // One statement: two runners racing for a free key both reach the conflict, and only one
      // update's WHERE holds (PostgreSQL re-checks it on the row the other committed).
      const { rowCount } = await db.query(
        `INSERT INTO function_locks (integration_key, connection_id, key, owner, expires_at)
         VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')
         ON CONFLICT (integration_key, connection_id, key) DO UPDATE
           SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
           WHERE function_locks.expires_at <= now() OR function_locks.owner = EXCLUDED.owner`,
        [lock.integrationKey, lock.connectionId, lock.key, owner, ttlMs],
      );
      return rowCount === 1;
    },
    async release(lock, owner) {
      const { rowCount } = await db.query(
        `DELETE FROM function_locks WHERE integration_key = $1 AND connection_id = $2 AND key = $3 AND owner = $4 AND expires_at > now()`,
        [lock.integrationKey, lock.connectionId, lock.key, owner],
      );
      return rowCount === 1;
    },
    async releaseAll(owner) {
      const { rowCount } = await db.query('DELETE FROM function_locks WHERE owner = $1', [owner]);
      return rowCount ?? 0;
    },
  };
}
