// SQL for dashboard_sessions: a session is the SHA-256 of its cookie token, an expiry and, once
// logged out, a revocation time. Expired and revoked rows are deleted as new sessions start.
import type { Queryable } from './db.js';

export interface SessionStore {
  create(tokenHash: Buffer, expiresAt: Date): Promise<void>;
  /** True while the session exists, is not revoked and has not expired. */
  isActive(tokenHash: Buffer): Promise<boolean>;
  revoke(tokenHash: Buffer): Promise<void>;
}

// A revoked row is kept a day, so a replayed cookie keeps answering "logged out" rather than
// "unknown"; either way it authenticates nothing.
const KEEP_REVOKED = '1 day';

export function createSessionStore(db: Queryable): SessionStore {
  return {
    async create(tokenHash, expiresAt) {
      await db.query(
        `WITH gone AS (DELETE FROM dashboard_sessions WHERE expires_at < now() OR revoked_at < now() - interval '${KEEP_REVOKED}')
         INSERT INTO dashboard_sessions (token_hash, expires_at) VALUES ($1, $2)`,
        [tokenHash, expiresAt],
      );
    },
    async isActive(tokenHash) {
      const { rows } = await db.query('SELECT 1 FROM dashboard_sessions WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()', [tokenHash]);
      return rows.length === 1;
    },
    async revoke(tokenHash) {
      await db.query('UPDATE dashboard_sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL', [tokenHash]);
    },
  };
}
