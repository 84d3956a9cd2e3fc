// GET /logs and /logs/:id: log operations, newest first, filtered, with an opaque cursor.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PatchbayError } from '../errors.js';
import type { AttemptRecord } from '../proxy/index.js';
import type { LogOperation, Store } from '../store/index.js';
import { parseInput } from '../validate.js';

const logId = z.uuid();

/**
 * Only a cursor this API produced: a uuid and a four-digit-year instant that encode back to the
 * same text. A looser check let `-271821-04-20…` or 36 dashes through to PostgreSQL (a 500).
 */
const cursorSchema = z
  .string()
  .max(200)
  .transform((text, context) => {
    const [at = '', id = '', ...rest] = Buffer.from(text, 'base64url').toString('utf8').split('|');
    const startedAt = new Date(at);
    const year = startedAt.getUTCFullYear();
    if (rest.length > 0 || Number.isNaN(year) || year < 1 || year > 9999 || !logId.safeParse(id).success || toCursor(startedAt, id) !== text) {
      context.addIssue({ code: 'custom', message: 'is not a cursor returned by this API' });
      return z.NEVER;
    }
    return { startedAt, id };
  });

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

const toCursor = (startedAt: Date, id: string) => Buffer.from(`${startedAt.toISOString()}|${id}`).toString('base64url');

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
    const operations = await deps.store.logs.list({
      integrationKey: query.provider_config_key,
      connectionId: query.connection_id,
      type: query.type,
      state: query.state,
      status: query.status,
      from: query.from,
      to: query.to,
      parentId: query.parent_id,
      before: query.cursor,
      limit: query.limit + 1,
    });
    const page = operations.slice(0, query.limit);
    const last = page.at(-1);
    return {
      data: page.map(toWireOperation),
      next_cursor: operations.length > query.limit && last ? toCursor(last.startedAt, last.id) : null,
    };
  });

  app.get('/logs/:id', async (request) => {
    const { id } = parseInput(z.strictObject({ id: logId }), request.params, 'invalid_uri_params');
    const operation = await deps.store.logs.get(id);
    if (operation === undefined) throw new PatchbayError('not_found', { message: `No log operation '${id}'` });
    return { data: toWireOperation(operation) };
  });
}
