// POST /sync/trigger (contract §6): queue a run of the named syncs (all when none is named) for
// one connection (all of the integration's when none is named). Schedules, pause/start and
// status arrive with the rest of the sync issue.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PatchbayError, validationError } from '../errors.js';
import { SYNC_QUEUE, type JobQueue, type Wake } from '../queue/index.js';
import type { Store } from '../store/index.js';
import { parseInput } from '../validate.js';

const syncName = z.union([z.string().min(1).max(255), z.strictObject({ name: z.string().min(1).max(255), variant: z.string().min(1).max(255) })]);

const triggerBody = z.strictObject({
  syncs: z.array(syncName).max(256).default([]),
  provider_config_key: z.string().min(1).max(255).optional(),
  connection_id: z.string().min(1).max(255).optional(),
  opts: z.strictObject({ reset: z.boolean().optional(), emptyCache: z.boolean().optional() }).optional(),
  sync_mode: z.enum(['incremental', 'full_refresh', 'full_refresh_and_clear_cache']).optional(),
  full_resync: z.boolean().optional(),
});

const triggerHeaders = z.object({
  'provider-config-key': z.string().min(1).max(255).optional(),
  'connection-id': z.string().min(1).max(255).optional(),
});

export interface SyncRouteDeps {
  store: Store;
  queue: JobQueue;
  wake: Wake;
}

export function syncRoutes(api: FastifyInstance, deps: SyncRouteDeps): void {
  api.post('/sync/trigger', async (request) => {
    const body = parseInput(triggerBody, request.body ?? {}, 'invalid_body');
    const headers = parseInput(triggerHeaders, request.headers, 'invalid_headers');
    if (body.opts !== undefined && (body.sync_mode !== undefined || body.full_resync !== undefined)) {
      throw validationError('invalid_body', [{ code: 'custom', message: 'opts cannot be combined with sync_mode or full_resync', path: ['opts'] }]);
    }
    const providerConfigKey = body.provider_config_key ?? headers['provider-config-key'];
    if (providerConfigKey === undefined) throw new PatchbayError('missing_provider_config_key');
    const connectionId = body.connection_id ?? headers['connection-id'];
    const reset = body.opts?.reset === true || body.sync_mode === 'full_refresh' || body.sync_mode === 'full_refresh_and_clear_cache' || body.full_resync === true;
    const emptyCache = body.opts?.emptyCache === true || body.sync_mode === 'full_refresh_and_clear_cache';

    if ((await deps.store.integrations.getByKey(providerConfigKey)) === undefined) throw new PatchbayError('unknown_provider_config');
    const deployed = (await deps.store.functions.list()).filter((f) => f.integrationKey === providerConfigKey && f.kind === 'sync');
    const wanted = body.syncs.map((entry) => (typeof entry === 'string' ? { name: entry, variant: 'base' } : entry));
    const targets = wanted.length === 0 ? deployed.map((f) => ({ name: f.name, variant: 'base' })) : wanted;
    const unknown = targets.filter((target) => !deployed.some((f) => f.name === target.name));
    if (unknown.length > 0) {
      throw new PatchbayError('not_found', { message: `Sync '${unknown.map((t) => t.name).join("', '")}' is not deployed for '${providerConfigKey}'.` });
    }

    const connections = connectionId === undefined
      ? await deps.store.connections.list({ integrationKeys: [providerConfigKey], limit: 10_000, offset: 0 })
      : [await deps.store.connections.get(providerConfigKey, connectionId)];
    if (connections.some((connection) => connection === undefined)) throw new PatchbayError('unknown_connection');

    for (const connection of connections) {
      if (connection === undefined) continue;
      for (const target of targets) {
        const fn = deployed.find((f) => f.name === target.name);
        if (fn === undefined) continue;
        const key = { integrationKey: providerConfigKey, connectionId: connection.connectionId, syncName: target.name, variant: target.variant };
        if (reset) await deps.store.checkpoints.clear(key);
        if (emptyCache) {
          const models = Array.isArray(fn.config.models) ? (fn.config.models as string[]) : [];
          await deps.store.records.clear({
            integrationKey: providerConfigKey,
            connectionId: connection.connectionId,
            models: models.map((model) => (target.variant === 'base' ? model : `${model}::${target.variant}`)),
          });
        }
        const runId = randomUUID();
        const created = await deps.store.runs.create({
          id: runId,
          kind: 'sync',
          integrationKey: providerConfigKey,
          connectionId: connection.connectionId,
          provider: connection.provider,
          functionName: target.name,
          bundleHash: fn.bundleHash,
          isAsync: true,
          inputJson: null,
          maxRetries: 0,
          logId: randomUUID(),
          variant: target.variant,
        });
        // Already queued for this connection: that run will do.
        if (!created) continue;
        const queued = deps.wake.jobQueuedNotify(SYNC_QUEUE);
        await deps.queue.enqueue(SYNC_QUEUE, runId, { notify: queued });
        queued.deliverLocally();
      }
    }
    return { success: true };
  });
}
