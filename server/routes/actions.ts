// POST /action/trigger and GET /action/:id (contract §6). The route queues a run and, unless
// asked to answer at once (X-Async), waits for its result; runners do the work.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ERRORS, PatchbayError, validationError, type ErrorCode } from '../errors.js';
import type { FunctionRegistry } from '../functions/registry.js';
import { newLogId } from '../logs/writer.js';
import { ACTION_START_TIMEOUT_MS, awaitAction, queueAction } from '../functions/action-runs.js';
import type { DirectRunner, FinishedRun, JobQueue, Wake } from '../queue/index.js';
import { isUnstorableText, toRunError, type RunError, type Store } from '../store/index.js';
import { parseInput } from '../validate.js';
import { requireConnection } from './connection-lookup.js';
import type { ProviderLookup } from '../store/provider-cache.js';

const booleanHeader = z
  .enum(['true', 'false', 'True', 'False', 'TRUE', 'FALSE', '1', '0'])
  .transform((value) => value.toLowerCase() === 'true' || value === '1');

const triggerHeaders = z.object({
  'provider-config-key': z.string().min(1).max(255),
  'connection-id': z.string().min(1).max(255),
  'x-async': booleanHeader.default(false),
  'x-max-retries': z.coerce.number().int().min(0).max(5).default(0),
});

const triggerBody = z.strictObject({
  action_name: z.string().min(1).max(255),
  input: z.unknown().optional(),
});

const runIdParams = z.strictObject({ id: z.uuid() });

export interface ActionRouteDeps {
  store: Store;
  functions: FunctionRegistry;
  queue: JobQueue;
  wake: Wake;
  /** A runner of this process that takes waited-for actions straight (server/queue/direct.ts). */
  direct?: DirectRunner | undefined;
  /** Remembers which connections exist (and their provider), kept in step by the change feed. */
  providers?: ProviderLookup | undefined;
  /** Tests shorten it; production keeps the contract's 30 s. */
  actionStartTimeoutMs?: number;
}

export function actionRoutes(api: FastifyInstance, deps: ActionRouteDeps): void {
  const startTimeoutMs = deps.actionStartTimeoutMs ?? ACTION_START_TIMEOUT_MS;

  api.post('/action/trigger', async (request, reply) => {
    if (request.url.includes('?')) {
      throw new PatchbayError('invalid_query_params', {
        message: 'Invalid query parameters. /action/trigger takes no query string.',
        fields: { errors: [{ code: 'unrecognized_keys', message: 'No query parameters are allowed', path: [] }] },
      });
    }
    const headers = parseInput(triggerHeaders, request.headers, 'invalid_headers');
    const body = parseInput(triggerBody, request.body ?? {}, 'invalid_body');
    const providerConfigKey = headers['provider-config-key'];
    const connectionId = headers['connection-id'];

    const [provider, action] = await Promise.all([
      requireConnection(deps.store, providerConfigKey, connectionId, deps.providers),
      deps.functions.find(providerConfigKey, 'action', body.action_name),
    ]);
    if (action === undefined) {
      throw new PatchbayError('not_found', { message: `Action '${body.action_name}' is not deployed for '${providerConfigKey}'.` });
    }
    if (!action.enabled) throw new PatchbayError('disabled_resource', { message: `Action '${body.action_name}' is disabled.` });

    const isAsync = headers['x-async'];
    const runId = randomUUID();
    const run = {
      id: runId,
      kind: 'action' as const,
      integrationKey: providerConfigKey,
      connectionId,
      provider,
      functionName: action.name,
      bundleHash: action.bundleHash,
      isAsync,
      inputJson: JSON.stringify(body.input ?? null),
      // Contract §6: retries apply to async runs only; a caller waiting on the answer decides itself.
      maxRetries: isAsync ? headers['x-max-retries'] : 0,
      logId: newLogId(),
    };
    const { started } = await queueAction(deps, run, isAsync ? undefined : { startTimeoutMs }).catch((error: unknown) => {
      // JSON may carry \u0000, which PostgreSQL cannot store in jsonb.
      if (!isUnstorableText(error)) throw error;
      throw validationError('invalid_body', [{ code: 'invalid_string', message: 'cannot contain the character \\u0000', path: ['input'] }]);
    });
    if (started === undefined) {
      const statusUrl = `/action/${runId}`;
      return reply.code(202).header('location', statusUrl).send({ id: runId, statusUrl });
    }
    return sendResult(reply, await awaitAction(deps, runId, started));
  });

  api.get('/action/:id', async (request, reply) => {
    const { id } = parseInput(runIdParams, request.params, 'invalid_uri_params');
    const run = await deps.store.runs.get(id);
    if (run === undefined) throw new PatchbayError('not_found', { message: `No action '${id}' found` });
    if (run.state === 'queued' || run.state === 'running') {
      throw new PatchbayError('action_pending', {
        message: `Action '${id}' is ${run.state}.`,
        fields: { state: run.state, attempt: run.attempt },
      });
    }
    return sendResult(reply, run);
  });
}

function sendResult(reply: FastifyReply, run: FinishedRun) {
  if (run.state === 'succeeded') return reply.code(200).type('application/json').send(run.outputJson ?? 'null');
  throw fromRunError(run.error ?? toRunError('script_internal_error'));
}

/** A stored run error back into a wire error; a code this version does not know stays visible. */
function fromRunError(error: RunError): PatchbayError {
  const known = error.code in ERRORS ? (error.code as ErrorCode) : 'script_internal_error';
  return new PatchbayError(known, {
    message: error.message,
    payload: error.payload,
    fields: error.upstream === undefined ? undefined : { upstream: error.upstream },
  });
}
