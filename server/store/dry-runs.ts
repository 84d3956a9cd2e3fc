// SQL for dry runs: a bundle handed from the request to a runner and the result handed back.
// Rows are transient (see migrations/012_dry_runs.sql); every transition is guarded by the state
// it leaves, so a late runner or a request that gave up changes nothing.
import type { Queryable } from './db.js';

// A request waits for its dry run for minutes at most; a row this old belongs to one that went away.
const ABANDONED_AFTER_SECONDS = 3600;

export interface NewDryRun {
  id: string;
  code: string;
  sourceMap: string | null;
  /** Plain JSON: what the runner needs besides the bundle. */
  request: unknown;
}

export interface ClaimedDryRun extends NewDryRun {
  createdAt: Date;
}

/** A NOTIFY sent by the statement that stores the result. */
export interface DryRunNotify {
  channel: string;
  payload: string;
}

export interface DryRunStore {
  /** Inserts the dry run and deletes abandoned ones. */
  create(dryRun: NewDryRun): Promise<void>;
  /** queued → running for up to `limit` dry runs, oldest first; several runners share them. */
  claim(limit: number, runnerId: string): Promise<ClaimedDryRun[]>;
  /** running → finished, only while `runnerId` holds it (the request may have given up). */
  finish(id: string, runnerId: string, resultJson: string, notify?: DryRunNotify): Promise<boolean>;
  /** Deletes the dry run if no runner took it yet; false when one did. */
  cancelQueued(id: string): Promise<boolean>;
  /** Reads and deletes a finished dry run's result (JSON text); undefined while it runs. */
  take(id: string): Promise<string | undefined>;
  /** Deletes the dry run in any state (its request gave up). */
  remove(id: string): Promise<void>;
}

interface ClaimedRow {
  id: string;
  code: string;
  source_map: string | null;
  request: string;
  created_at: Date;
}

export function createDryRunStore(db: Queryable): DryRunStore {
  return {
    async create(dryRun) {
      await db.query(`DELETE FROM dry_runs WHERE created_at < now() - make_interval(secs => $1)`, [ABANDONED_AFTER_SECONDS]);
      await db.query(`INSERT INTO dry_runs (id, state, code, source_map, request) VALUES ($1, 'queued', $2, $3, $4)`, [
        dryRun.id,
        dryRun.code,
        dryRun.sourceMap,
        JSON.stringify(dryRun.request),
      ]);
    },
    async claim(limit, runnerId) {
      const { rows } = await db.query<ClaimedRow>(
        `UPDATE dry_runs SET state = 'running', runner_id = $2, started_at = now()
         WHERE id IN (SELECT id FROM dry_runs WHERE state = 'queued' ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, code, source_map, request, created_at`,
        [limit, runnerId],
      );
      return rows.map((row) => ({ id: row.id, code: row.code, sourceMap: row.source_map, request: JSON.parse(row.request) as unknown, createdAt: row.created_at }));
    },
    async finish(id, runnerId, resultJson, notify) {
      const { rowCount } = await db.query(
        `WITH done AS (
           UPDATE dry_runs SET state = 'finished', result = $3, finished_at = now(), code = '', source_map = NULL
           WHERE id = $1 AND runner_id = $2 AND state = 'running' RETURNING id)
         SELECT CASE WHEN $4::text IS NULL THEN NULL ELSE pg_notify($4, $5) END FROM done`,
        [id, runnerId, resultJson, notify?.channel ?? null, notify?.payload ?? null],
      );
      return rowCount === 1;
    },
    async cancelQueued(id) {
      const { rowCount } = await db.query(`DELETE FROM dry_runs WHERE id = $1 AND state = 'queued'`, [id]);
      return rowCount === 1;
    },
    async take(id) {
      const { rows } = await db.query<{ result: string }>(`DELETE FROM dry_runs WHERE id = $1 AND state = 'finished' RETURNING result`, [id]);
      return rows[0]?.result;
    },
    async remove(id) {
      await db.query(`DELETE FROM dry_runs WHERE id = $1`, [id]);
    },
  };
}
