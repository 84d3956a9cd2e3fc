// The PostgreSQL pool and the transaction helper every store module uses.
import pg from 'pg';

export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;
export type Pool = pg.Pool;

// Return bigint columns (bigserial ids, counts) as JS numbers: our ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/**
 * Runs `text`, which selects one row with `ms`: how long until something (negative once it has
 * passed), NULL when there is nothing. Gives it never below 0, or null. Clamped here and not in
 * SQL, where greatest(0, NULL) is 0 and "nothing" would read as "now".
 */
export async function queryMsUntil(db: Queryable, text: string, params: unknown[] = []): Promise<number | null> {
  const { rows } = await db.query<{ ms: number | null }>(text, params);
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? null : Math.max(0, Number(ms));
}

export interface PoolOptions {
  connectionString: string;
  /** 10: the server's queries are short; more connections only add contention on 2 cores. */
  max?: number;
  applicationName?: string;
  /**
   * false: commits return before their WAL reaches the disk (`synchronous_commit = off`). A
   * crash of the machine or of PostgreSQL may then lose the last ~0.6 s of this pool's commits,
   * never a part of one, and only as a suffix of the log: any durable commit made after them
   * (from any pool) flushes them too. Measured: an action's run bookkeeping (5 commits) takes
   * half the time. For state whose loss only undoes Patchbay's own bookkeeping (runs, tickets,
   * logs), never for credentials, configuration or deployments.
   */
  durableCommits?: boolean;
}

// A connection beyond the pool's first, unused for 2 s, is closed: each holds a PostgreSQL backend
// (~3 MB), and an idle process's pollers (scheduler, reaper, queue, dry runs) overlap now and then,
// which with 10 s kept 8 backends open for an idle `patchbay start` where 6-7 do now (bench/
// footprint.ts's idle phase). The first stays open (`min`), so the pollers do not reconnect every
// few seconds: measured ~0.3 new connections a second idle, ~0.7 under /proxy load (10 s: ~0.05
// and ~0.5), each a few ms.
const IDLE_CONNECTION_MS = 2000;
const KEPT_CONNECTIONS = 1;
const ignore = () => undefined;

export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'patchbay',
    idleTimeoutMillis: IDLE_CONNECTION_MS,
    min: KEPT_CONNECTIONS,
    ...(options.durableCommits === false ? { options: '-c synchronous_commit=off' } : {}),
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', ignore);
  // Nor may a client the code holds (a transaction between statements, the migrations between
  // files): pg-pool listens only to idle ones, and node-postgres emits 'error' whenever the
  // connection breaks. The holder learns of it from its next statement, which fails as an outage
  // (isConnectionError), and the pool drops the client when it comes back.
  pool.on('connect', (client) => client.on('error', ignore));
  return pool;
}

export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** SQLSTATE 23505: a unique constraint refused the row. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

// SQLSTATEs that mean "the server is not taking queries", not "this query is wrong": class 08
// (connection exception), 57P01 admin_shutdown (a fast shutdown, or the postmaster died under
// the backend), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, recovering after a
// crash), 53300 too_many_connections.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
// Socket errors of a connect or of a connection that broke; ENOENT is a Unix socket whose file
// is gone (the embedded PostgreSQL removes it when it stops).
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// node-postgres raises these as plain Errors without a code (pg/lib/client.js, pg-pool/index.js),
// so their text is the only thing to recognise them by.
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Query read timeout',
];

/**
 * The database could not be reached or dropped the connection: an outage to wait out (and to
 * answer 503 for), as opposed to an error in the statement itself.
 */
export function isConnectionError(error: unknown): boolean {
  // pg-pool wraps a connect timeout: "Connection terminated due to connection timeout" { cause }.
  return isUnavailable(error) || (typeof error === 'object' && error !== null && isUnavailable((error as { cause?: unknown }).cause));
}

function isUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, syscall, message } = error as { code?: unknown; syscall?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (code.length === 5 && code.startsWith('08')) return true;
    if (UNAVAILABLE_SQLSTATES.has(code)) return true;
    // ENOENT only from connect(): a missing file elsewhere is no outage.
    if (UNAVAILABLE_ERRNOS.has(code) && (code !== 'ENOENT' || syscall === 'connect')) return true;
  }
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.some((text) => message.startsWith(text));
}

/** PostgreSQL refused a text or JSON value it cannot store (a NUL character, SQLSTATE 22P05 / 22021). */
export function isUnstorableText(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === '22P05' || code === '22021';
}
