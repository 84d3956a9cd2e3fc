// GET /logs and /logs/:id: log operations, newest first, filtered, with an opaque cursor.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PatchbayError } from '../errors.js';
import type { AttemptRecord } from '../proxy/index.js';
import type { LogFilter, LogOperation, Store } from '../store/index.js';
import { parseInput } from '../validate.js';
import { positionCursorSchema, toPositionCursor } from './position-cursor.js';

const logId = z.uuid();

/**
 * How many operations one GET /logs answer reads at most (about: whole chunks are read). A filter
 * matching little would otherwise read the whole log before answering; it answers instead with
 * what it found, `searched_back_to` and a `next_cursor` that continues from there.
 */
export const LOG_SEARCH_SCAN_ROWS = 10_000;

/**
 * A log cursor's position is a four-digit-year instant as toISOString writes it: a looser check
 * let `-271821-04-20…` or 36 dashes through to PostgreSQL (a 500).
 */
const cursorSchema = positionCursorSchema((at) => {
  const year = new Date(at).getUTCFullYear();
  return !Number.isNaN(year) && year >= 1 && year <= 9999 && new Date(at).toISOString() === at;
}).transform(({ position, id }) => ({ startedAt: new Date(position), id }));

export const logListQuery = z.strictObject({
  provider_config_key: z.string().max(255).optional(),
  connection_id: z.string().max(255).optional(),
  type: z.enum(['proxy', 'action', 'sync', 'auth', 'webhook']).optional(),
  state: z.enum(['success', 'failed']).optional(),
  status: z.coerce.number().int().min(100).max(599).optional(),
  from: z.iso.datetime({ offset: true }).transform((v) => new Date(v)).optional(),
  to: z.iso.datetime({ offset: true }).transform((v) => new Date(v)).optional(),
  parent_id: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: cursorSchema.optional(),
});

/** The filters of GET /logs (and GET /logs/stream) as the store's filter fields. */
export function toLogFilter(query: Omit<z.infer<typeof logListQuery>, 'limit' | 'cursor'>): Omit<LogFilter, 'limit' | 'before'> {
  return {
    integrationKey: query.provider_config_key,
    connectionId: query.connection_id,
    type: query.type,
    state: query.state,
    status: query.status,
    from: query.from,
    to: query.to,
    parentId: query.parent_id,
  };
}


export function toWireOperation(op: LogOperation) {
  return {
    id: op.id,
    parent_id: op.parentId,
    type: op.type,
    action: op.action,
    state: op.state,
    level: op.level,
    provider_config_key: op.integrationKey,
    connection_id: op.connectionId,
    method: op.method,
    url: op.url,
    status: op.status,
    error: op.error,
    attempts: (op.attempts as AttemptRecord[]).map((a) => ({
      attempt: a.attempt,
      status: a.status,
      error: a.error,
      duration_ms: a.durationMs,
      waited_ms: a.waitedMs,
    })),
    request: op.request,
    response: op.response,
    messages: op.messages,
    started_at: op.startedAt.toISOString(),
    ended_at: op.endedAt?.toISOString() ?? null,
    duration_ms: op.durationMs,
  };
}

export function logRoutes(app: FastifyInstance, deps: { store: Store }): void {
  app.get('/logs', async (request) => {
    const query = parseInput(logListQuery, request.query, 'invalid_query_params');
    const { operations, resumeAt } = await deps.store.logs.search(
      { ...toLogFilter(query), before: query.cursor, limit: query.limit + 1 },
      { scanRows: LOG_SEARCH_SCAN_ROWS },
    );
    const page = operations.slice(0, query.limit);
    const last = page.at(-1);
    if (operations.length <= query.limit && resumeAt !== null) {
      // Stopped at the read budget: every match newer than resumeAt is in `data`.
      return {
        data: page.map(toWireOperation),
        next_cursor: toPositionCursor(resumeAt.startedAt.toISOString(), resumeAt.id),
        searched_back_to: resumeAt.startedAt.toISOString(),
      };
    }
    return {
      data: page.map(toWireOperation),
      next_cursor: operations.length > query.limit && last ? toPositionCursor(last.startedAt.toISOString(), last.id) : null,
      searched_back_to: null,
    };
  });

  app.get('/logs/:id', async (request) => {
    const { id } = parseInput(z.strictObject({ id: logId }), request.params, 'invalid_uri_params');
    const operation = await deps.store.logs.get(id);
    if (operation === undefined) throw new PatchbayError('not_found', { message: `No log operation '${id}'` });
    return { data: toWireOperation(operation) };
  });
}
