// SQL for log_operations: batched inserts (one statement per batch) and filtered, cursor-paged reads.
import type { Queryable } from './db.js';

export interface LogOperation {
  id: string;
  parentId: string | null;
  type: 'proxy' | 'action' | 'sync' | 'auth';
  action: string;
  state: 'success' | 'failed';
  level: 'info' | 'warn' | 'error';
  integrationKey: string | null;
  connectionId: string | null;
  method: string | null;
  url: string | null;
  status: number | null;
  error: { code: string; message: string } | null;
  attempts: unknown[];
  request: { headers: Record<string, string> } | null;
  response: { headers: Record<string, string> } | null;
  messages: unknown[];
  startedAt: Date;
  endedAt: Date | null;
  durationMs: number | null;
}

export interface LogFilter {
  integrationKey?: string | undefined;
  connectionId?: string | undefined;
  type?: string | undefined;
  state?: 'success' | 'failed' | undefined;
  status?: number | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  parentId?: string | undefined;
  /** Exclusive: only operations strictly older than this position (newest first). */
  before?: { startedAt: Date; id: string } | undefined;
  limit: number;
}

interface LogRow {
  id: string;
  parent_id: string | null;
  type: LogOperation['type'];
  action: string;
  state: LogOperation['state'];
  level: LogOperation['level'];
  integration_key: string | null;
  connection_id: string | null;
  method: string | null;
  url: string | null;
  status: number | null;
  error: LogOperation['error'];
  attempts: unknown[];
  request: LogOperation['request'];
  response: LogOperation['response'];
  messages: unknown[];
  started_at: Date;
  ended_at: Date | null;
  duration_ms: number | null;
}

export interface LogStore {
  insertMany(operations: LogOperation[]): Promise<void>;
  /** Inserts rows already turned into JSON by `serializeLogOperation` (the writer's hot path). */
  insertSerialized(rows: string[]): Promise<void>;
  list(filter: LogFilter): Promise<LogOperation[]>;
  get(id: string): Promise<LogOperation | undefined>;
  deleteOlderThan(cutoff: Date, limit: number): Promise<number>;
}

/** One row as JSON text, in the column names of log_operations. */
export const serializeLogOperation = (op: LogOperation): string => JSON.stringify(toRow(op));

const toRow = (op: LogOperation) => ({
  id: op.id,
  parent_id: op.parentId,
  type: op.type,
  action: op.action,
  state: op.state,
  level: op.level,
  integration_key: op.integrationKey,
  connection_id: op.connectionId,
  method: op.method,
  url: op.url,
  status: op.status,
  error: op.error,
  attempts: op.attempts,
  request: op.request,
  response: op.response,
  messages: op.messages,
  started_at: op.startedAt.toISOString(),
  ended_at: op.endedAt?.toISOString() ?? null,
  duration_ms: op.durationMs,
});

const fromRow = (row: LogRow): LogOperation => ({
  id: row.id,
  parentId: row.parent_id,
  type: row.type,
  action: row.action,
  state: row.state,
  level: row.level,
  integrationKey: row.integration_key,
  connectionId: row.connection_id,
  method: row.method,
  url: row.url,
  status: row.status,
  error: row.error,
  attempts: row.attempts,
  request: row.request,
  response: row.response,
  messages: row.messages,
  startedAt: row.started_at,
  endedAt: row.ended_at,
  durationMs: row.duration_ms,
});

export function createLogStore(db: Queryable): LogStore {
  return {
    async insertMany(operations) {
      await this.insertSerialized(operations.map(serializeLogOperation));
    },
    async insertSerialized(rows) {
      if (rows.length === 0) return;
      // One parameter for the whole batch: json_populate_recordset maps it onto the table's columns.
      // The CTE sets synchronous_commit off for this statement's transaction only: a crash may
      // lose the last fraction of a second of logs, and the proxy never waits on a WAL flush.
      await db.query(
        `WITH _ AS (SELECT set_config('synchronous_commit', 'off', true))
         INSERT INTO log_operations SELECT l.* FROM _, json_populate_recordset(NULL::log_operations, $1) l ON CONFLICT (id) DO NOTHING`,
        [`[${rows.join(',')}]`],
      );
    },
    async list(filter) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, ...values: unknown[]) => {
        let text = sql;
        for (const value of values) {
          params.push(value);
          text = text.replace('?', `$${params.length}`);
        }
        where.push(text);
      };
      if (filter.integrationKey !== undefined) add('integration_key = ?', filter.integrationKey);
      if (filter.connectionId !== undefined) add('connection_id = ?', filter.connectionId);
      if (filter.type !== undefined) add('type = ?', filter.type);
      if (filter.state !== undefined) add('state = ?', filter.state);
      if (filter.status !== undefined) add('status = ?', filter.status);
      if (filter.from !== undefined) add('started_at >= ?', filter.from);
      if (filter.to !== undefined) add('started_at < ?', filter.to);
      if (filter.parentId !== undefined) add('parent_id = ?', filter.parentId);
      if (filter.before !== undefined) add('(started_at, id) < (?, ?)', filter.before.startedAt, filter.before.id);
      params.push(filter.limit);
      const { rows } = await db.query<LogRow>(
        `SELECT * FROM log_operations ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY started_at DESC, id DESC LIMIT $${params.length}`,
        params,
      );
      return rows.map(fromRow);
    },
    async get(id) {
      const { rows } = await db.query<LogRow>('SELECT * FROM log_operations WHERE id = $1', [id]);
      return rows[0] ? fromRow(rows[0]) : undefined;
    },
    async deleteOlderThan(cutoff, limit) {
      const { rowCount } = await db.query(
        'DELETE FROM log_operations WHERE id IN (SELECT id FROM log_operations WHERE started_at < $1 LIMIT $2)',
        [cutoff, limit],
      );
      return rowCount ?? 0;
    },
  };
}
