// SQL for sync checkpoints: one JSON object per (connection, sync, variant), replaced as a whole,
// its `version` counting the saves.
import type { Queryable } from './db.js';

export interface CheckpointKey {
  integrationKey: string;
  connectionId: string;
  syncName: string;
  variant: string;
}

export interface CheckpointStore {
  get(key: CheckpointKey): Promise<Record<string, unknown> | null>;
  /** Replaces the checkpoint; returns its new version (1 for the first save). */
  save(key: CheckpointKey, checkpoint: Record<string, unknown>): Promise<number>;
  clear(key: CheckpointKey): Promise<void>;
  /** Reset: every variant's checkpoint of a sync, on one connection or on all of them. */
  clearSync(integrationKey: string, syncName: string, connectionId?: string): Promise<void>;
}

const KEY = 'integration_key = $1 AND connection_id = $2 AND sync_name = $3 AND variant = $4';

const keyParams = (key: CheckpointKey) => [key.integrationKey, key.connectionId, key.syncName, key.variant];

export function createCheckpointStore(db: Queryable): CheckpointStore {
  return {
    async get(key) {
      const { rows } = await db.query<{ checkpoint: Record<string, unknown> }>(
        `SELECT checkpoint FROM sync_checkpoints WHERE ${KEY}`,
        keyParams(key),
      );
      return rows[0]?.checkpoint ?? null;
    },
    async save(key, checkpoint) {
      const { rows } = await db.query<{ version: number }>(
        `INSERT INTO sync_checkpoints AS c (integration_key, connection_id, sync_name, variant, checkpoint)
         VALUES ($1, $2, $3, $4, $5::jsonb)
         ON CONFLICT (integration_key, connection_id, sync_name, variant)
           DO UPDATE SET checkpoint = EXCLUDED.checkpoint, version = c.version + 1, updated_at = now()
         RETURNING version`,
        [...keyParams(key), JSON.stringify(checkpoint)],
      );
      return (rows[0] as { version: number }).version;
    },
    async clear(key) {
      await db.query(`DELETE FROM sync_checkpoints WHERE ${KEY}`, keyParams(key));
    },
    async clearSync(integrationKey, syncName, connectionId) {
      await db.query(
        'DELETE FROM sync_checkpoints WHERE integration_key = $1 AND sync_name = $2 AND ($3::text IS NULL OR connection_id = $3)',
        [integrationKey, syncName, connectionId ?? null],
      );
    },
  };
}
