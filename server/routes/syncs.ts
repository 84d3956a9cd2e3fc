// The sync routes of Nango's API: trigger (queue a run now), pause / start (the schedule),
// status, and a connection's own frequency. Syncs are named as strings or {name, variant}; no
// names means every deployed sync of the integration, no connection id every connection.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PatchbayError, validationError } from '../errors.js';
import { parseFrequency } from '../functions/frequency.js';
import { triggerSyncs } from '../functions/sync-trigger.js';
import type { JobQueue, Wake } from '../queue/index.js';
import type { LatestSyncRun, Schedule, Store } from '../store/index.js';
import { parseInput } from '../validate.js';
import { requireConnection } from './connection-lookup.js';

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

const scheduleBody = z.strictObject({
  syncs: z.array(syncName).max(256),
  provider_config_key: z.string().min(1).max(255),
  connection_id: z.string().min(1).max(255).optional(),
});

const statusQuery = z.strictObject({
  syncs: z.string().min(1).max(10_000),
  provider_config_key: z.string().min(1).max(255),
  connection_id: z.string().min(1).max(255).optional(),
});

const frequencyBody = z.strictObject({
  sync_name: z.string().min(1).max(255),
  sync_variant: z.string().min(1).max(255).optional(),
  provider_config_key: z.string().min(1).max(255),
  connection_id: z.string().min(1).max(255),
  frequency: z.string().max(100).nullable(),
});

/** Nango's status words: what the sync is doing now, else how its last run ended. */
function statusOf(schedule: Schedule | undefined, run: LatestSyncRun | undefined): string {
  if (run?.state === 'running' || run?.state === 'queued') return 'RUNNING';
  if (schedule?.paused === true) return 'PAUSED';
  if (run === undefined) return 'STOPPED';
  return run.state === 'failed' ? 'ERROR' : 'SUCCESS';
}

const namesOf = (syncs: z.infer<typeof syncName>[]) => syncs.map((entry) => (typeof entry === 'string' ? entry : entry.name));

export function syncRoutes(api: FastifyInstance, deps: SyncRouteDeps): void {
  const requireIntegration = async (providerConfigKey: string) => {
    if ((await deps.store.integrations.getByKey(providerConfigKey)) === undefined) throw new PatchbayError('unknown_provider_config');
  };
  /** The integration, and the connection when one is named. */
  const requireScope = async (providerConfigKey: string, connectionId: string | undefined) => {
    if (connectionId === undefined) await requireIntegration(providerConfigKey);
    else await requireConnection(deps.store, providerConfigKey, connectionId);
  };

  for (const [route, paused] of [
    ['/sync/pause', true],
    ['/sync/start', false],
  ] as const) {
    api.post(route, async (request) => {
      const body = parseInput(scheduleBody, request.body ?? {}, 'invalid_body');
      await requireScope(body.provider_config_key, body.connection_id);
      await deps.store.schedules.setPaused({ integrationKey: body.provider_config_key, connectionId: body.connection_id, syncNames: namesOf(body.syncs) }, paused);
      // Resumed schedules are due now; paused ones change when the next one is.
      deps.wake.schedulesChanged();
      return { success: true };
    });
  }

  api.get('/sync/status', async (request) => {
    const query = parseInput(statusQuery, request.query, 'invalid_query_params');
    await requireScope(query.provider_config_key, query.connection_id);
    const names = query.syncs === '*' ? [] : query.syncs.split(',').map((name) => name.split('::')[0] as string).filter((name) => name !== '');
    const schedules = await deps.store.schedules.list({ integrationKey: query.provider_config_key, connectionId: query.connection_id, syncNames: names });
    const latest = await deps.store.runs.latestSyncRuns(query.provider_config_key, query.connection_id, names);
    // One entry per (connection, sync, variant) that has a schedule, a run, or both.
    const entries = new Map<string, { connectionId: string; name: string; variant: string; schedule?: Schedule; run?: LatestSyncRun }>();
    const entryOf = (connectionId: string, name: string, variant: string) => {
      const key = JSON.stringify([connectionId, name, variant]);
      const entry = entries.get(key) ?? { connectionId, name, variant };
      entries.set(key, entry);
      return entry;
    };
    for (const schedule of schedules) entryOf(schedule.connectionId, schedule.syncName, schedule.variant).schedule = schedule;
    for (const run of latest) entryOf(run.connectionId, run.functionName, run.variant).run = run;
    const syncs = [...entries.values()].map(({ connectionId, name, variant, schedule, run }) => ({
      id: run?.id ?? null,
      connection_id: connectionId,
      name,
      variant,
      status: statusOf(schedule, run),
      type: 'INCREMENTAL',
      frequency: schedule?.frequencyOverride ?? null,
      frequency_ms: schedule?.frequencyMs ?? null,
      finishedAt: run?.finishedAt?.toISOString() ?? null,
      nextScheduledSyncAt: schedule === undefined || schedule.paused ? null : schedule.nextRunAt.toISOString(),
      latestExecutionStatus: run === undefined ? null : run.state.toUpperCase(),
      latestResult: run?.output ?? null,
      error: run?.error ?? null,
    }));
    return { syncs };
  });

  api.put('/sync/update-connection-frequency', async (request) => {
    const body = parseInput(frequencyBody, request.body ?? {}, 'invalid_body');
    let frequencyMs: number | null = null;
    if (body.frequency !== null) {
      const parsed = parseFrequency(body.frequency);
      if (!parsed.ok) throw validationError('invalid_body', [{ code: 'invalid_frequency', message: parsed.reason, path: ['frequency'] }]);
      frequencyMs = parsed.ms;
    }
    await requireScope(body.provider_config_key, body.connection_id);
    const schedule = await deps.store.schedules.setFrequency(
      { integrationKey: body.provider_config_key, connectionId: body.connection_id, syncName: body.sync_name, variant: body.sync_variant ?? 'base' },
      frequencyMs,
      body.frequency,
    );
    if (schedule === undefined) throw new PatchbayError('not_found', { message: `Sync '${body.sync_name}' is not deployed for '${body.provider_config_key}'.` });
    deps.wake.schedulesChanged();
    return { frequency: body.frequency ?? null, frequency_ms: schedule.frequencyMs };
  });

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

    const syncs = body.syncs.map((entry) => (typeof entry === 'string' ? { name: entry, variant: 'base' } : entry));
    await triggerSyncs(deps, { providerConfigKey, connectionId, syncs, reset, emptyCache });
    return { success: true };
  });
}
