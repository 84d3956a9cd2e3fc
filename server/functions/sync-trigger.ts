// Queues sync runs now, for POST /sync/trigger and a function's nango.triggerSync: named syncs (all
// the integration's when none are named) for one connection or all of them, after a reset of
// their checkpoints and, when asked, their stored records.
import { PatchbayError } from '../errors.js';
import { queueSyncRun, type JobQueue, type Wake } from '../queue/index.js';
import { modelKey, type Store } from '../store/index.js';

export interface SyncTriggerDeps {
  store: Store;
  queue: JobQueue;
  wake: Wake;
}

export interface SyncTrigger {
  providerConfigKey: string;
  /** Every connection of the integration when absent. */
  connectionId?: string | undefined;
  /** Every deployed sync of the integration when empty. */
  syncs: { name: string; variant: string }[];
  /** Clear the checkpoints: the runs start from scratch (full refresh). */
  reset: boolean;
  /** Also delete the stored records of the syncs' models. */
  emptyCache: boolean;
}

export async function triggerSyncs(deps: SyncTriggerDeps, trigger: SyncTrigger): Promise<void> {
  const { providerConfigKey, connectionId } = trigger;
  if ((await deps.store.integrations.getByKey(providerConfigKey)) === undefined) throw new PatchbayError('unknown_provider_config');
  const deployed = (await deps.store.functions.list()).filter((f) => f.integrationKey === providerConfigKey && f.kind === 'sync');
  const targets = trigger.syncs.length === 0 ? deployed.map((f) => ({ name: f.name, variant: 'base' })) : trigger.syncs;
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
      if (trigger.reset) await deps.store.checkpoints.clear(key);
      if (trigger.emptyCache) {
        const models = Array.isArray(fn.config.models) ? (fn.config.models as string[]) : [];
        await deps.store.records.clear({
          integrationKey: providerConfigKey,
          connectionId: connection.connectionId,
          models: models.map((model) => modelKey(model, target.variant)),
        });
      }
      // Already queued for this connection: that run will do.
      await queueSyncRun(deps, {
        integrationKey: providerConfigKey,
        connectionId: connection.connectionId,
        provider: connection.provider,
        syncName: target.name,
        bundleHash: fn.bundleHash,
        variant: target.variant,
      });
    }
  }
}
