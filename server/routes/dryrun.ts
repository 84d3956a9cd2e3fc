// POST /functions/dryrun (what `patchbay dryrun` calls): runs a bundle once against a real
// connection without deploying it or storing what it writes. The bundle goes to a runner through
// `dry_runs` (untrusted code never runs on the server's event loop); the route waits for the
// result, deletes the row and answers it. See runner/dryrun.ts for the runner's side.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PatchbayError, validationError } from '../errors.js';
import { DRY_RUN_QUEUE, type Wake } from '../queue/index.js';
import { isUnstorableText, type Store } from '../store/index.js';
import { parseInput } from '../validate.js';
import { requireConnection } from './connection-lookup.js';

// A bundle with zod weighs ~600 KB and its map less; 16 MiB each leaves room for big SDKs.
const MAX_CODE_CHARS = 16 * 1024 * 1024;
const MAX_SOURCE_MAP_CHARS = 16 * 1024 * 1024;
const MAX_DRY_RUN_BODY_BYTES = 40 * 1024 * 1024;
// As a synchronous action (Nango's 30 s too): a runner must take the dry run within 30 s.
const DRY_RUN_START_TIMEOUT_MS = 30_000;
// The runner ends an action's dry run within 1 minute and a sync's within 15 (runner/dryrun.ts);
// this bounds the wait if the runner vanished meanwhile.
const DRY_RUN_FINISH_TIMEOUT_MS = 16 * 60_000;
// NOTIFY tells the route at once; without it, the row is looked at this often.
const RESULT_POLL_MS = 1000;
const NAME = /^[a-zA-Z0-9_-]+$/;
const INTEGRATION_KEY = /^[a-zA-Z0-9~:.@ _-]+$/;

const dryRunBody = z.strictObject({
  integration_key: z.string().min(1).max(255).regex(INTEGRATION_KEY),
  kind: z.enum(['action', 'sync']),
  name: z.string().min(1).max(255).regex(NAME),
  source_path: z.string().min(1).max(1024),
  connection_id: z.string().min(1).max(255),
  code: z.string().min(1).max(MAX_CODE_CHARS),
  source_map: z.string().max(MAX_SOURCE_MAP_CHARS).optional(),
  input: z.unknown().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  checkpoint: z.record(z.string(), z.unknown()).nullable().optional(),
  last_sync_date: z.iso.datetime({ offset: true }).nullable().optional(),
  save_responses: z.boolean().optional(),
});

export interface DryRunRouteDeps {
  store: Store;
  wake: Wake;
  /** Tests shorten it; production keeps 30 s. */
  actionStartTimeoutMs?: number;
}

export function dryRunRoutes(api: FastifyInstance, deps: DryRunRouteDeps): void {
  const startTimeoutMs = deps.actionStartTimeoutMs ?? DRY_RUN_START_TIMEOUT_MS;

  api.post('/functions/dryrun', { bodyLimit: MAX_DRY_RUN_BODY_BYTES }, async (request, reply) => {
    const body = parseInput(dryRunBody, request.body, 'invalid_body');
    const provider = await requireConnection(deps.store, body.integration_key, body.connection_id);
    const id = randomUUID();
    await deps.store.dryRuns
      .create({
        id,
        code: body.code,
        sourceMap: body.source_map ?? null,
        request: {
          integrationKey: body.integration_key,
          connectionId: body.connection_id,
          provider,
          kind: body.kind,
          functionName: body.name,
          sourcePath: body.source_path,
          input: body.input ?? null,
          metadata: body.metadata,
          checkpoint: body.checkpoint,
          lastSyncDate: body.last_sync_date,
          saveResponses: body.save_responses === true,
        },
      })
      .catch((error: unknown) => {
        if (!isUnstorableText(error)) throw error;
        throw validationError('invalid_body', [{ code: 'invalid_string', message: 'cannot contain the character \\u0000', path: [] }]);
      });
    deps.wake.jobQueued(DRY_RUN_QUEUE);

    const startedAt = Date.now();
    let queued = true;
    try {
      for (;;) {
        // Listen before looking, so a result stored in between is heard.
        const hint = deps.wake.waitForRun(id, RESULT_POLL_MS);
        const result = await deps.store.dryRuns.take(id);
        if (result !== undefined) return reply.code(200).type('application/json').send(toWireResult(result));
        await hint;
        const waited = Date.now() - startedAt;
        if (queued && waited >= startTimeoutMs) {
          if (await deps.store.dryRuns.cancelQueued(id)) throw new PatchbayError('runner_unavailable', { message: 'No runner started the dry run in time.' });
          queued = false;
        }
        if (waited >= DRY_RUN_FINISH_TIMEOUT_MS) throw new PatchbayError('execution_timeout', { message: 'The dry run did not finish in time.' });
      }
    } finally {
      // Whatever ended the wait (an answer deletes the row itself), nothing of it is kept.
      await deps.store.dryRuns.remove(id).catch(() => undefined);
    }
  });
}

interface StoredResult {
  ok: boolean;
  outputJson?: string;
  error?: { code: string; message: string; status: number; payload?: unknown; upstream?: unknown; location?: unknown };
  logs: unknown[];
  logsDropped: number;
  calls: Array<{ method: string; endpoint: string; status: number | null; durationMs: number; attempts: number; error?: unknown; request?: unknown; response?: unknown }>;
  callsDropped: number;
  responsesDropped: number;
  models: Record<string, { saved: number; updated: number; deleted: number; records: unknown[]; recordsDropped: number }>;
  checkpoint?: { value: unknown };
  metadata?: { value: unknown };
  connection?: unknown;
  cpuMs: number;
  wallMs: number;
}

/** The runner's result (camelCase JSON) as the wire's snake_case. */
function toWireResult(json: string): string {
  const result = JSON.parse(json) as StoredResult;
  return JSON.stringify({
    ok: result.ok,
    ...(result.outputJson === undefined ? {} : { output: JSON.parse(result.outputJson) as unknown }),
    ...(result.error === undefined ? {} : { error: result.error }),
    logs: result.logs,
    logs_dropped: result.logsDropped,
    calls: result.calls.map((call) => ({
      method: call.method,
      endpoint: call.endpoint,
      status: call.status,
      duration_ms: call.durationMs,
      attempts: call.attempts,
      ...(call.error === undefined ? {} : { error: call.error }),
      ...(call.request === undefined ? {} : { request: call.request }),
      ...(call.response === undefined ? {} : { response: call.response }),
    })),
    calls_dropped: result.callsDropped,
    responses_dropped: result.responsesDropped,
    models: Object.fromEntries(
      Object.entries(result.models).map(([model, m]) => [model, { saved: m.saved, updated: m.updated, deleted: m.deleted, records: m.records, records_dropped: m.recordsDropped }]),
    ),
    ...(result.checkpoint === undefined ? {} : { checkpoint: result.checkpoint.value }),
    ...(result.metadata === undefined ? {} : { metadata: result.metadata.value }),
    ...(result.connection === undefined ? {} : { connection: result.connection }),
    cpu_ms: result.cpuMs,
    wall_ms: result.wallMs,
  });
}
