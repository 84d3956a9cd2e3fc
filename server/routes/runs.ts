// GET /runs and GET /runs/:id: action and sync runs, newest first, filtered, with an opaque
// cursor (a Patchbay addition the dashboard's Runs page reads). A run's log lines and the proxy
// calls made inside it are log operations: GET /logs/:log_id and GET /logs?parent_id=:log_id.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PatchbayError } from '../errors.js';
import type { RunHistoryItem, Store } from '../store/index.js';
import { parseInput } from '../validate.js';
import { positionCursorSchema, toPositionCursor } from './position-cursor.js';

/** created_at to the microsecond, as the store writes it: a millisecond cursor would skip runs. */
const MICROSECOND_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const cursorSchema = positionCursorSchema((at) => MICROSECOND_INSTANT.test(at) && !Number.isNaN(Date.parse(at)));

const listQuery = z.strictObject({
  provider_config_key: z.string().min(1).max(255).optional(),
  connection_id: z.string().min(1).max(255).optional(),
  kind: z.enum(['action', 'sync']).optional(),
  state: z.enum(['queued', 'running', 'succeeded', 'failed', 'interrupted']).optional(),
  function: z.string().min(1).max(255).optional(),
  // A page of runs is small JSON (no inputs or outputs); 200 bounds one read of the index.
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: cursorSchema.optional(),
});

function toWireRun(run: RunHistoryItem) {
  const ended = run.finishedAt ?? null;
  return {
    id: run.id,
    kind: run.kind,
    provider_config_key: run.integrationKey,
    connection_id: run.connectionId,
    function: run.functionName,
    variant: run.variant,
    state: run.state,
    attempt: run.attempt,
    error: run.error === null ? null : { code: run.error.code, message: run.error.message },
    // Syncs: records added, updated and deleted per model.
    models: (run.syncOutput as { models?: unknown } | null)?.models ?? null,
    log_id: run.logId,
    created_at: run.createdAt.toISOString(),
    started_at: run.startedAt?.toISOString() ?? null,
    finished_at: ended?.toISOString() ?? null,
    duration_ms: run.startedAt !== null && ended !== null ? ended.getTime() - run.startedAt.getTime() : null,
  };
}

const parseStored = (json: string | null | undefined) => (json === null || json === undefined ? null : (JSON.parse(json) as unknown));

export function runRoutes(app: FastifyInstance, deps: { store: Store }): void {
  app.get('/runs', async (request) => {
    const query = parseInput(listQuery, request.query, 'invalid_query_params');
    const runs = await deps.store.runHistory.list({
      integrationKey: query.provider_config_key,
      connectionId: query.connection_id,
      kind: query.kind,
      state: query.state,
      functionName: query.function,
      before: query.cursor === undefined ? undefined : { createdAt: query.cursor.position, id: query.cursor.id },
      limit: query.limit + 1,
    });
    const page = runs.slice(0, query.limit);
    const last = page.at(-1);
    return {
      data: page.map(toWireRun),
      next_cursor: runs.length > query.limit && last !== undefined ? toPositionCursor(last.createdKey, last.id) : null,
    };
  });

  app.get('/runs/:id', async (request) => {
    const { id } = parseInput(z.strictObject({ id: z.uuid() }), request.params, 'invalid_uri_params');
    const [run] = await deps.store.runHistory.list({ ids: [id], withData: true, limit: 1 });
    if (run === undefined) throw new PatchbayError('not_found', { message: `No run '${id}'` });
    return { data: { ...toWireRun(run), input: parseStored(run.inputJson), output: run.kind === 'action' ? parseStored(run.outputJson) : null } };
  });
}
