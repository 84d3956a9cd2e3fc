// SQL for function runs: the truth about a run's state. Every transition is guarded by the state
// it leaves (and the runner holding it), so a late or duplicate writer changes nothing.
import type { Statement } from './together.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import { queryMsUntil, type Queryable } from './db.js';
import type { FunctionKind } from './functions.js';

/** `interrupted`: a sync cut short by its time limit; it keeps its checkpoint (contract §11). */
export type RunState = 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface RunError {
  code: string;
  message: string;
  status: number;
  payload?: unknown;
  upstream?: unknown;
}

/** What a run is, fixed when it is queued. */
interface RunIdentity {
  id: string;
  kind: FunctionKind;
  integrationKey: string;
  connectionId: string;
  provider: string;
  functionName: string;
  bundleHash: string;
  isAsync: boolean;
  maxRetries: number;
  logId: string;
  /** Syncs: the model variant (contract §6), 'base' by default. */
  variant: string;
}

/** A catalogue error as the plain data a run stores and passes between processes. */
export function toRunError(code: ErrorCode, message: string = ERRORS[code].message, extra: Pick<RunError, 'payload' | 'upstream'> = {}): RunError {
  return { code, message, status: ERRORS[code].status, ...extra };
}

export interface NewRun extends Omit<RunIdentity, 'variant'> {
  variant?: string;
  inputJson: string | null;
  /** Runs started by nango.triggerAction: the starting run's depth + 1 (0 otherwise). */
  triggerDepth?: number;
}

export interface ClaimedRun extends RunIdentity {
  input: unknown;
  triggerDepth: number;
  attempt: number;
  createdAt: Date;
}

export interface RunStatus {
  id: string;
  state: RunState;
  /** The output as stored JSON text: served as is, never parsed on the way out. */
  outputJson: string | null;
  error: RunError | null;
  attempt: number;
  integrationKey: string;
  connectionId: string;
  functionName: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

interface ClaimedRow {
  variant: string;
  trigger_depth: number;
  id: string;
  kind: FunctionKind;
  integration_key: string;
  connection_id: string;
  provider: string;
  function_name: string;
  bundle_hash: string;
  is_async: boolean;
  input: unknown;
  attempt: number;
  max_retries: number;
  log_id: string;
  created_at: Date;
}

interface StatusRow {
  id: string;
  state: RunState;
  output: string | null;
  error: RunError | null;
  attempt: number;
  integration_key: string;
  connection_id: string;
  function_name: string;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const STATUS_COLUMNS = `id, state, output::text AS output, error, attempt, integration_key, connection_id, function_name,
  created_at, started_at, finished_at`;

const toStatus = (row: StatusRow): RunStatus => ({
  id: row.id,
  state: row.state,
  outputJson: row.output,
  error: row.error,
  attempt: row.attempt,
  integrationKey: row.integration_key,
  connectionId: row.connection_id,
  functionName: row.function_name,
  createdAt: row.created_at,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
});

/** A NOTIFY sent by the same statement as the write it announces (see Notifications.raw). */
export interface StatementNotify {
  channel: string;
  payload: string;
}

export interface LatestSyncRun {
  id: string;
  connectionId: string;
  functionName: string;
  variant: string;
  state: RunState;
  output: unknown;
  error: RunError | null;
  finishedAt: Date | null;
}

export interface StaleRun extends Pick<RunIdentity, 'id' | 'kind' | 'integrationKey' | 'connectionId' | 'functionName' | 'variant' | 'isAsync' | 'logId'> {
  state: 'queued' | 'failed';
  attempt: number;
}

export interface RunStore {
  /** False when the run was not added: a sync with a run already queued for its connection. */
  create(run: NewRun): Promise<boolean>;
  /**
   * Inserts `run` already running under `runnerId` (attempt 1, beating from now): a run handed
   * straight to a runner (server/queue/direct.ts). No sync may come this way (no busy check).
   */
  createRunning(run: NewRun, runnerId: string): Promise<ClaimedRun>;
  /** queued → running for the given ids; returns only the runs this runner now holds. */
  claim(ids: string[], runnerId: string): Promise<ClaimedRun[]>;
  /** running → succeeded/interrupted/failed, only while `runnerId` still holds the run. */
  finish(
    id: string,
    runnerId: string,
    result: { outputJson: string; interrupted?: RunError } | { error: RunError },
    notify?: StatementNotify,
  ): Promise<boolean>;
  /** The ids among `ids` still queued (a sync ticket that found its sync busy must come back). */
  stillQueued(ids: string[]): Promise<string[]>;
  /** The latest run of each (connection, sync, variant) of an integration, for /sync/status. */
  latestSyncRuns(integrationKey: string, connectionId: string | undefined, syncNames: string[]): Promise<LatestSyncRun[]>;
  /** When the last successful run of a sync started: its `lastSyncDate`. */
  lastSuccessAt(key: { integrationKey: string; connectionId: string; syncName: string; variant: string }): Promise<Date | null>;
  /** running → queued for another attempt, keeping the last error. */
  requeue(id: string, runnerId: string, error: RunError): Promise<boolean>;
  heartbeat(runnerId: string): Promise<number>;
  /** Runs whose runner stopped beating: back to queued while retries remain, else failed. */
  reapStale(staleMs: number, error: RunError): Promise<StaleRun[]>;
  /** How long until the first running run turns stale, by its last beat (0: one is); null when none runs. */
  nextStaleInMs(staleMs: number): Promise<number | null>;
  /** queued → failed (a start deadline passed); false when it started meanwhile. */
  failQueued(id: string, error: RunError): Promise<boolean>;
  get(id: string): Promise<RunStatus | undefined>;
  /** The finished runs among `ids` (the fallback poll of waiting requests). */
  finishedAmong(ids: string[]): Promise<RunStatus[]>;
  /** Deletes up to `limit` runs that finished before `before`; returns how many went. */
  deleteFinishedBefore(before: Date, limit: number): Promise<number>;
  /** Runs waiting or running, by kind and state (the queue depth of /metrics). */
  countActive(): Promise<{ kind: FunctionKind; state: 'queued' | 'running'; count: number }[]>;
}

/**
 * The INSERT of a new run, as text and values: `create` runs it alone, and the action trigger
 * runs it in the same statement as the run's ticket (insertTogether), one round trip.
 */
export function insertRunStatement(run: NewRun): Statement {
  return {
    text: `INSERT INTO function_runs (id, kind, integration_key, connection_id, provider, function_name, bundle_hash, state, is_async,
           input, max_retries, log_id, variant, trigger_depth)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9::jsonb, $10, $11, $12, $13)
         ON CONFLICT DO NOTHING`,
    values: runValues(run),
  };
}

function runValues(run: NewRun): unknown[] {
  return [
    run.id,
    run.kind,
    run.integrationKey,
    run.connectionId,
    run.provider,
    run.functionName,
    run.bundleHash,
    run.isAsync,
    run.inputJson,
    run.maxRetries,
    run.logId,
    run.variant ?? 'base',
    run.triggerDepth ?? 0,
  ];
}

export function createRunStore(db: Queryable): RunStore {
  return {
    async create(run) {
      const { text, values } = insertRunStatement(run);
      const { rowCount } = await db.query(text, values);
      return rowCount === 1;
    },
    async createRunning(run, runnerId) {
      const { rows } = await db.query<{ created_at: Date }>(
        `INSERT INTO function_runs (id, kind, integration_key, connection_id, provider, function_name, bundle_hash, state, is_async,
           input, max_retries, log_id, variant, trigger_depth, attempt, runner_id, started_at, heartbeat_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9::jsonb, $10, $11, $12, $13, 1, $14, now(), now())
         RETURNING created_at`,
        [...runValues(run), runnerId],
      );
      const row = rows[0];
      if (row === undefined) throw new Error(`run ${run.id} was not inserted`);
      return {
        id: run.id,
        kind: run.kind,
        integrationKey: run.integrationKey,
        connectionId: run.connectionId,
        provider: run.provider,
        functionName: run.functionName,
        bundleHash: run.bundleHash,
        isAsync: run.isAsync,
        input: run.inputJson === null ? null : (JSON.parse(run.inputJson) as unknown),
        attempt: 1,
        maxRetries: run.maxRetries,
        logId: run.logId,
        createdAt: row.created_at,
        variant: run.variant ?? 'base',
        triggerDepth: run.triggerDepth ?? 0,
      };
    },
    async claim(ids, runnerId) {
      const { rows } = await db.query<ClaimedRow>(
        `UPDATE function_runs SET state = 'running', attempt = attempt + 1, runner_id = $2, started_at = now(), heartbeat_at = now()
         WHERE id = ANY($1::uuid[]) AND state = 'queued'
           -- One running sync per (connection, sync, variant): the next waits for this one.
           AND NOT (kind = 'sync' AND EXISTS (
             SELECT 1 FROM function_runs s WHERE s.kind = 'sync' AND s.state = 'running' AND s.integration_key = function_runs.integration_key
               AND s.connection_id = function_runs.connection_id AND s.function_name = function_runs.function_name AND s.variant = function_runs.variant))
         RETURNING id, kind, integration_key, connection_id, provider, function_name, bundle_hash, is_async, input, attempt,
           max_retries, log_id, created_at, variant, trigger_depth`,
        [ids, runnerId],
      );
      return rows.map((row) => ({
        id: row.id,
        kind: row.kind,
        integrationKey: row.integration_key,
        connectionId: row.connection_id,
        provider: row.provider,
        functionName: row.function_name,
        bundleHash: row.bundle_hash,
        isAsync: row.is_async,
        input: row.input,
        attempt: row.attempt,
        maxRetries: row.max_retries,
        logId: row.log_id,
        createdAt: row.created_at,
        variant: row.variant,
        triggerDepth: row.trigger_depth,
      }));
    },
    async stillQueued(ids) {
      const { rows } = await db.query<{ id: string }>(`SELECT id FROM function_runs WHERE id = ANY($1::uuid[]) AND state = 'queued'`, [ids]);
      return rows.map((row) => row.id);
    },
    async latestSyncRuns(integrationKey, connectionId, syncNames) {
      const { rows } = await db.query<{ id: string; connection_id: string; function_name: string; variant: string; state: RunState; output: unknown; error: RunError | null; finished_at: Date | null }>(
        `SELECT DISTINCT ON (connection_id, function_name, variant) id, connection_id, function_name, variant, state, output, error, finished_at
         FROM function_runs
         WHERE kind = 'sync' AND integration_key = $1 AND ($2::text IS NULL OR connection_id = $2) AND (cardinality($3::text[]) = 0 OR function_name = ANY($3))
         ORDER BY connection_id, function_name, variant, created_at DESC`,
        [integrationKey, connectionId ?? null, syncNames],
      );
      return rows.map((row) => ({
        id: row.id,
        connectionId: row.connection_id,
        functionName: row.function_name,
        variant: row.variant,
        state: row.state,
        output: row.output,
        error: row.error,
        finishedAt: row.finished_at,
      }));
    },
    async lastSuccessAt(key) {
      const { rows } = await db.query<{ at: Date }>(
        `SELECT max(started_at) AS at FROM function_runs
         WHERE kind = 'sync' AND state = 'succeeded' AND integration_key = $1 AND connection_id = $2 AND function_name = $3 AND variant = $4`,
        [key.integrationKey, key.connectionId, key.syncName, key.variant],
      );
      return rows[0]?.at ?? null;
    },
    async finish(id, runnerId, result, notify) {
      const ok = 'outputJson' in result;
      const { rowCount } = await db.query(
        `WITH done AS (
           UPDATE function_runs SET state = $3, output = $4::jsonb, error = $5::jsonb, finished_at = now(), heartbeat_at = NULL
           WHERE id = $1 AND runner_id = $2 AND state = 'running' RETURNING id)
         SELECT CASE WHEN $6::text IS NULL THEN NULL ELSE pg_notify($6, $7) END FROM done`,
        [
          id,
          runnerId,
          ok ? (result.interrupted === undefined ? 'succeeded' : 'interrupted') : 'failed',
          ok ? result.outputJson : null,
          ok ? (result.interrupted === undefined ? null : JSON.stringify(result.interrupted)) : JSON.stringify(result.error),
          notify?.channel ?? null,
          notify?.payload ?? null,
        ],
      );
      return rowCount === 1;
    },

    async requeue(id, runnerId, error) {
      const { rowCount } = await db.query(
        `UPDATE function_runs SET state = 'queued', error = $3::jsonb, runner_id = NULL, heartbeat_at = NULL
         WHERE id = $1 AND runner_id = $2 AND state = 'running'`,
        [id, runnerId, JSON.stringify(error)],
      );
      return rowCount === 1;
    },
    async heartbeat(runnerId) {
      const { rowCount } = await db.query(`UPDATE function_runs SET heartbeat_at = now() WHERE runner_id = $1 AND state = 'running'`, [runnerId]);
      return rowCount ?? 0;
    },
    nextStaleInMs(staleMs) {
      return queryMsUntil(
        db,
        `SELECT (extract(epoch FROM min(heartbeat_at) + make_interval(secs => $1 / 1000.0) - now()) * 1000)::float8 AS ms
         FROM function_runs WHERE state = 'running'`,
        [staleMs],
      );
    },
    async reapStale(staleMs, error) {
      const { rows } = await db.query<{ id: string; kind: FunctionKind; state: 'queued' | 'failed'; attempt: number; integration_key: string; connection_id: string; function_name: string; variant: string; is_async: boolean; log_id: string }>(
        `UPDATE function_runs r
           SET state = CASE WHEN r.attempt <= r.max_retries THEN 'queued' ELSE 'failed' END,
               finished_at = CASE WHEN r.attempt <= r.max_retries THEN NULL ELSE now() END,
               error = $2::jsonb, runner_id = NULL, heartbeat_at = NULL
         WHERE r.id IN (
           SELECT id FROM function_runs
           WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => $1 / 1000.0)
           FOR UPDATE SKIP LOCKED)
         RETURNING r.id, r.kind, r.state, r.attempt, r.integration_key, r.connection_id, r.function_name, r.variant, r.is_async, r.log_id`,
        [staleMs, JSON.stringify(error)],
      );
      return rows.map((row) => ({
        id: row.id,
        kind: row.kind,
        state: row.state,
        attempt: row.attempt,
        integrationKey: row.integration_key,
        connectionId: row.connection_id,
        functionName: row.function_name,
        variant: row.variant,
        isAsync: row.is_async,
        logId: row.log_id,
      }));
    },
    async failQueued(id, error) {
      const { rowCount } = await db.query(
        `UPDATE function_runs SET state = 'failed', error = $2::jsonb, finished_at = now() WHERE id = $1 AND state = 'queued'`,
        [id, JSON.stringify(error)],
      );
      return rowCount === 1;
    },
    async get(id) {
      const { rows } = await db.query<StatusRow>(`SELECT ${STATUS_COLUMNS} FROM function_runs WHERE id = $1`, [id]);
      return rows[0] === undefined ? undefined : toStatus(rows[0]);
    },
    async finishedAmong(ids) {
      const { rows } = await db.query<StatusRow>(
        `SELECT ${STATUS_COLUMNS} FROM function_runs WHERE id = ANY($1::uuid[]) AND state IN ('succeeded', 'failed', 'interrupted')`,
        [ids],
      );
      return rows.map(toStatus);
    },
    async deleteFinishedBefore(before, limit) {
      const { rowCount } = await db.query(
        'DELETE FROM function_runs WHERE id IN (SELECT id FROM function_runs WHERE finished_at < $1 LIMIT $2)',
        [before, limit],
      );
      return rowCount ?? 0;
    },
    async countActive() {
      const { rows } = await db.query<{ kind: FunctionKind; state: 'queued' | 'running'; count: number }>(
        `SELECT kind, state, count(*)::int AS count FROM function_runs WHERE state IN ('queued', 'running') GROUP BY kind, state`,
      );
      return rows;
    },
  };
}

// ---------------------------------------------------------------- run history (GET /runs)

export interface RunHistoryFilter {
  integrationKey?: string | undefined;
  connectionId?: string | undefined;
  kind?: FunctionKind | undefined;
  state?: RunState | undefined;
  functionName?: string | undefined;
  /** Exclusive: only runs created strictly before this position (newest first); `createdKey` of a run. */
  before?: { createdAt: string; id: string } | undefined;
  limit: number;
}

/** A run as the history lists it: an action's input and output are read one run at a time. */
export interface RunHistoryItem {
  id: string;
  kind: FunctionKind;
  integrationKey: string;
  connectionId: string;
  functionName: string;
  variant: string;
  state: RunState;
  attempt: number;
  error: RunError | null;
  /** Syncs: `{models: {<model>: {added, updated, deleted}}}`; actions: null (see listRuns' `withData`). */
  syncOutput: unknown;
  logId: string;
  createdAt: Date;
  /** created_at to the microsecond (`YYYY-MM-DDTHH:MM:SS.ffffffZ`): the position a page cursor holds. */
  createdKey: string;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** With `withData` only: the stored input and output JSON, as text. */
  inputJson?: string | null;
  outputJson?: string | null;
}

/**
 * Runs newest first (created_at, then id), filtered, `limit` of them; by `ids` when given (one
 * run's page reads its input and output with `withData`). Added for the dashboard; reads only.
 */
export async function listRuns(db: Queryable, filter: RunHistoryFilter & { ids?: string[]; withData?: boolean }): Promise<RunHistoryItem[]> {
  const { rows } = await db.query<{
    id: string; kind: FunctionKind; integration_key: string; connection_id: string; function_name: string; variant: string; state: RunState;
    attempt: number; error: RunError | null; sync_output: unknown; log_id: string; created_at: Date; created_key: string; started_at: Date | null; finished_at: Date | null;
    input: string | null; output: string | null;
  }>(
    `SELECT id, kind, integration_key, connection_id, function_name, variant, state, attempt, error,
       CASE WHEN kind = 'sync' THEN output END AS sync_output, log_id, created_at, started_at, finished_at,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_key,
       CASE WHEN $9 THEN input::text END AS input, CASE WHEN $9 THEN output::text END AS output
     FROM function_runs
     WHERE ($1::text IS NULL OR integration_key = $1) AND ($2::text IS NULL OR connection_id = $2)
       AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR state = $4) AND ($5::text IS NULL OR function_name = $5)
       AND ($6::timestamptz IS NULL OR (created_at, id) < ($6::timestamptz, $7::uuid))
       AND ($10::uuid[] IS NULL OR id = ANY($10))
     ORDER BY created_at DESC, id DESC
     LIMIT $8`,
    [
      filter.integrationKey ?? null,
      filter.connectionId ?? null,
      filter.kind ?? null,
      filter.state ?? null,
      filter.functionName ?? null,
      filter.before?.createdAt ?? null,
      filter.before?.id ?? null,
      filter.limit,
      filter.withData === true,
      filter.ids ?? null,
    ],
  );
  return rows.map((row) => ({
    id: row.id,
    kind: row.kind,
    integrationKey: row.integration_key,
    connectionId: row.connection_id,
    functionName: row.function_name,
    variant: row.variant,
    state: row.state,
    attempt: row.attempt,
    error: row.error,
    syncOutput: row.sync_output,
    logId: row.log_id,
    createdAt: row.created_at,
    createdKey: row.created_key,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    ...(filter.withData === true ? { inputJson: row.input, outputJson: row.output } : {}),
  }));
}
