// SQL for sync schedules: one per (connection, sync, variant), derived from what is deployed and
// which connections exist (reconcile), taken when due with SKIP LOCKED, paused and resumed by the API.
import { queryMsUntil, type Queryable } from './db.js';

export interface ScheduleKey {
  integrationKey: string;
  connectionId: string;
  syncName: string;
  variant: string;
}

export interface DueSync extends ScheduleKey {
  bundleHash: string;
  provider: string;
}

export interface Schedule extends ScheduleKey {
  frequencyMs: number;
  frequencyOverride: string | null;
  paused: boolean;
  nextRunAt: Date;
}

interface ScheduleRow {
  integration_key: string;
  connection_id: string;
  sync_name: string;
  variant: string;
  frequency_ms: number;
  frequency_override: string | null;
  paused: boolean;
  next_run_at: Date;
}

const toSchedule = (row: ScheduleRow): Schedule => ({
  integrationKey: row.integration_key,
  connectionId: row.connection_id,
  syncName: row.sync_name,
  variant: row.variant,
  frequencyMs: Number(row.frequency_ms),
  frequencyOverride: row.frequency_override,
  paused: row.paused,
  nextRunAt: row.next_run_at,
});

export interface ScheduleFilter {
  integrationKey: string;
  /** All connections of the integration when unset. */
  connectionId?: string | undefined;
  /** All syncs when empty. */
  syncNames: string[];
}

export interface ScheduleStore {
  /**
   * Brings schedules in line with deployed syncs and existing connections: adds the missing
   * ones (syncs with autoStart, first run at once), follows a redeployed frequency unless the
   * connection overrides it, drops those whose sync or connection is gone.
   */
  reconcile(): Promise<{ added: number; removed: number }>;
  /** Due schedules, moved to their next time in the same statement. */
  takeDue(limit: number): Promise<DueSync[]>;
  /** How long until the next schedule that is not paused is due (0: it is); null without one. */
  nextDueInMs(): Promise<number | null>;
  /** Pauses, or resumes with a run at once; creates the rows it lacks (a sync without autoStart). */
  setPaused(filter: ScheduleFilter, paused: boolean): Promise<number>;
  setFrequency(key: ScheduleKey, frequencyMs: number | null, phrase: string | null): Promise<Schedule | undefined>;
  list(filter: ScheduleFilter): Promise<Schedule[]>;
}

const FILTER = `s.integration_key = $1 AND ($2::text IS NULL OR s.connection_id = $2) AND (cardinality($3::text[]) = 0 OR s.sync_name = ANY($3))`;

export function createScheduleStore(db: Queryable): ScheduleStore {
  const ensureRows = async (filter: ScheduleFilter, paused: boolean) => {
    await db.query(
      `INSERT INTO sync_schedules (integration_key, connection_id, sync_name, frequency_ms, paused)
       SELECT f.integration_key, c.connection_id, f.name, (f.config->>'frequencyMs')::bigint, $4
       FROM functions f JOIN integrations i ON i.unique_key = f.integration_key JOIN connections c ON c.integration_id = i.id
       WHERE f.kind = 'sync' AND f.integration_key = $1 AND ($2::text IS NULL OR c.connection_id = $2)
         AND (cardinality($3::text[]) = 0 OR f.name = ANY($3)) AND f.config ? 'frequencyMs'
       ON CONFLICT DO NOTHING`,
      [filter.integrationKey, filter.connectionId ?? null, filter.syncNames, paused],
    );
  };

  return {
    async reconcile() {
      const added = await db.query(
        `INSERT INTO sync_schedules (integration_key, connection_id, sync_name, frequency_ms)
         SELECT f.integration_key, c.connection_id, f.name, (f.config->>'frequencyMs')::bigint
         FROM functions f JOIN integrations i ON i.unique_key = f.integration_key JOIN connections c ON c.integration_id = i.id
         WHERE f.kind = 'sync' AND f.config ? 'frequencyMs' AND coalesce((f.config->>'autoStart')::boolean, true)
         ON CONFLICT DO NOTHING`,
      );
      await db.query(
        `UPDATE sync_schedules s SET frequency_ms = (f.config->>'frequencyMs')::bigint
         FROM functions f
         WHERE f.kind = 'sync' AND f.integration_key = s.integration_key AND f.name = s.sync_name AND s.frequency_override IS NULL
           AND f.config ? 'frequencyMs' AND s.frequency_ms <> (f.config->>'frequencyMs')::bigint`,
      );
      const removed = await db.query(
        `DELETE FROM sync_schedules s
         WHERE NOT EXISTS (SELECT 1 FROM functions f WHERE f.kind = 'sync' AND f.integration_key = s.integration_key AND f.name = s.sync_name)
            OR NOT EXISTS (SELECT 1 FROM connections c JOIN integrations i ON i.id = c.integration_id
                           WHERE i.unique_key = s.integration_key AND c.connection_id = s.connection_id)`,
      );
      return { added: added.rowCount ?? 0, removed: removed.rowCount ?? 0 };
    },
    async takeDue(limit) {
      const { rows } = await db.query<{ integration_key: string; connection_id: string; sync_name: string; variant: string; bundle_hash: string; provider: string }>(
        `WITH due AS (
           SELECT s.integration_key, s.connection_id, s.sync_name, s.variant FROM sync_schedules s
           WHERE NOT s.paused AND s.next_run_at <= now()
           ORDER BY s.next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED),
         moved AS (
           UPDATE sync_schedules s SET next_run_at = now() + s.frequency_ms * interval '1 millisecond'
           FROM due WHERE (s.integration_key, s.connection_id, s.sync_name, s.variant) = (due.integration_key, due.connection_id, due.sync_name, due.variant)
           RETURNING s.integration_key, s.connection_id, s.sync_name, s.variant)
         SELECT m.*, f.bundle_hash, i.provider FROM moved m
           JOIN functions f ON f.kind = 'sync' AND f.integration_key = m.integration_key AND f.name = m.sync_name
           JOIN integrations i ON i.unique_key = m.integration_key`,
        [limit],
      );
      return rows.map((row) => ({
        integrationKey: row.integration_key,
        connectionId: row.connection_id,
        syncName: row.sync_name,
        variant: row.variant,
        bundleHash: row.bundle_hash,
        provider: row.provider,
      }));
    },
    nextDueInMs() {
      return queryMsUntil(db, `SELECT (extract(epoch FROM min(next_run_at) - now()) * 1000)::float8 AS ms FROM sync_schedules WHERE NOT paused`);
    },
    async setPaused(filter, paused) {
      await ensureRows(filter, paused);
      const { rowCount } = await db.query(
        `UPDATE sync_schedules s SET paused = $4, next_run_at = CASE WHEN $4 THEN s.next_run_at ELSE now() END WHERE ${FILTER}`,
        [filter.integrationKey, filter.connectionId ?? null, filter.syncNames, paused],
      );
      return rowCount ?? 0;
    },
    async setFrequency(key, frequencyMs, phrase) {
      await ensureRows({ integrationKey: key.integrationKey, connectionId: key.connectionId, syncNames: [key.syncName] }, false);
      const { rows } = await db.query<ScheduleRow>(
        `UPDATE sync_schedules s
           SET frequency_override = $5,
               frequency_ms = coalesce($6::bigint, (SELECT (f.config->>'frequencyMs')::bigint FROM functions f
                                                   WHERE f.kind = 'sync' AND f.integration_key = s.integration_key AND f.name = s.sync_name)),
               next_run_at = least(s.next_run_at, now() + coalesce($6::bigint, s.frequency_ms) * interval '1 millisecond')
         WHERE s.integration_key = $1 AND s.connection_id = $2 AND s.sync_name = $3 AND s.variant = $4
         RETURNING s.*`,
        [key.integrationKey, key.connectionId, key.syncName, key.variant, phrase, frequencyMs],
      );
      return rows[0] === undefined ? undefined : toSchedule(rows[0]);
    },
    async list(filter) {
      const { rows } = await db.query<ScheduleRow>(`SELECT s.* FROM sync_schedules s WHERE ${FILTER} ORDER BY s.connection_id, s.sync_name, s.variant`, [
        filter.integrationKey,
        filter.connectionId ?? null,
        filter.syncNames,
      ]);
      return rows.map(toSchedule);
    },
  };
}
