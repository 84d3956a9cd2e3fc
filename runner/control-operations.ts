// The `nango` operations that reach Patchbay itself rather than a provider: environment variables,
// the integration's webhook URL, other functions (triggerAction, triggerSync, startSync) and locks
// shared by every runner. Bound to one run; what a run starts or holds is bounded, and its locks
// are released when it ends.
import { randomUUID } from 'node:crypto';
import { isPatchbayError } from '../server/errors.js';
import { runAction } from '../server/functions/action-runs.js';
import type { FunctionRegistry } from '../server/functions/registry.js';
import { triggerSyncs } from '../server/functions/sync-trigger.js';
import { newLogId } from '../server/logs/writer.js';
import type { DirectRunner, JobQueue, Wake } from '../server/queue/index.js';
import type { Store } from '../server/store/index.js';
import { hostFailure, type Operation, type RunScope } from './operations.js';

// nango.triggerAction from an action started by nango.triggerAction…: each level holds a runner
// slot while it waits for the next, so chains stay short. An app's run is depth 0; its children 1,
// theirs 2, which may trigger nothing further.
export const MAX_TRIGGER_DEPTH = 2;
// Actions one run may start, and wait for at once: with the depth bound, one app call can cause
// at most 50 + 50 × 50 runs, never a fork bomb.
const MAX_TRIGGERS_PER_RUN = 50;
const MAX_TRIGGERS_IN_FLIGHT = 4;
// Syncs a run may trigger or start: a sync fan-out is the app's job, not a loop's.
const MAX_SYNC_CALLS_PER_RUN = 20;
// A key names a resource (`sync:contacts`, an account id); 255 like every name Patchbay keeps.
const MAX_LOCK_KEY_CHARS = 255;
// A lock outlives its run only if the runner dies: a day covers the longest sync by far.
const MAX_LOCK_TTL_MS = 24 * 60 * 60_000;
const MAX_LOCKS_PER_RUN = 100;
const MAX_NAME_CHARS = 255;
const SYNC_MODES: ReadonlySet<string> = new Set(['incremental', 'full_refresh', 'full_refresh_and_clear_cache']);

export interface ControlDeps {
  functions: FunctionRegistry;
  queue: JobQueue;
  wake: Wake;
  /** Runs a triggered action in a free slot of this runner when it has one (server/queue/direct.ts). */
  direct?: DirectRunner | undefined;
  /** What getEnvironmentVariables answers (PATCHBAY_FUNCTION_ENV_*). */
  environment: readonly { name: string; value: string }[];
  /** PATCHBAY_PUBLIC_URL, or where this server listens. */
  publicUrl: string;
}

type Keys = (args: Record<string, unknown>) => { providerConfigKey: string; connectionId: string };

function nameOf(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_NAME_CHARS) throw hostFailure('invalid_arguments', `${what} must be a name of 1 to ${MAX_NAME_CHARS} characters.`);
  return value;
}

function syncTargetsOf(value: unknown): { name: string; variant: string }[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length > 256) throw hostFailure('invalid_arguments', 'At most 256 syncs at once.');
  return list.map((entry) =>
    typeof entry === 'object' && entry !== null
      ? { name: nameOf((entry as { name?: unknown }).name, 'A sync name'), variant: nameOf((entry as { variant?: unknown }).variant ?? 'base', 'A variant') }
      : { name: nameOf(entry, 'A sync name'), variant: 'base' },
  );
}

export function buildControlOperations(store: Store, deps: ControlDeps | undefined, scope: RunScope, keysOf: Keys): Record<string, Operation> {
  const owner = `run:${randomUUID()}`;
  const locks = new Set<string>();
  let releasing = false;
  let triggered = 0;
  let inFlight = 0;
  let syncCalls = 0;

  const control = (what: string) => {
    if (deps === undefined) throw hostFailure('not_supported', `nango.${what}() is not available in this runner.`);
    return deps;
  };
  const countSyncCall = () => {
    if (++syncCalls > MAX_SYNC_CALLS_PER_RUN) throw hostFailure('too_many_calls', `A run may trigger or start syncs at most ${MAX_SYNC_CALLS_PER_RUN} times.`);
  };
  const lockOf = (args: Record<string, unknown>) => {
    const key = args.key;
    if (typeof key !== 'string' || key === '' || key.length > MAX_LOCK_KEY_CHARS) throw hostFailure('invalid_lock', `A lock key is a string of 1 to ${MAX_LOCK_KEY_CHARS} characters.`);
    return { integrationKey: scope.providerConfigKey, connectionId: scope.connectionId, key };
  };
  // The run's locks go with it, however it ends (its signal aborts when the run is over).
  const releaseAtEnd = () => {
    if (releasing || scope.signal === undefined) return;
    releasing = true;
    const release = () => void store.locks.releaseAll(owner).catch(() => undefined);
    if (scope.signal.aborted) release();
    else scope.signal.addEventListener('abort', release, { once: true });
  };

  return {
    async getEnvironmentVariables() {
      return control('getEnvironmentVariables').environment.map((variable) => ({ ...variable }));
    },
    async getWebhookURL() {
      return `${control('getWebhookURL').publicUrl}/webhook/${encodeURIComponent(scope.providerConfigKey)}`;
    },
    async triggerAction(args) {
      const { functions, queue, wake, direct } = control('triggerAction');
      const depth = (scope.triggerDepth ?? 0) + 1;
      if (depth > MAX_TRIGGER_DEPTH) {
        throw hostFailure('trigger_depth_exceeded', `An action started by nango.triggerAction may not start another beyond ${MAX_TRIGGER_DEPTH} levels.`, { status: 400 });
      }
      if (triggered >= MAX_TRIGGERS_PER_RUN) throw hostFailure('too_many_calls', `A run may trigger at most ${MAX_TRIGGERS_PER_RUN} actions.`);
      if (inFlight >= MAX_TRIGGERS_IN_FLIGHT) throw hostFailure('too_many_calls', `A run may wait for at most ${MAX_TRIGGERS_IN_FLIGHT} triggered actions at once.`);
      const keys = keysOf(args);
      const actionName = nameOf(args.actionName, 'The action name');
      const connection = await store.connections.get(keys.providerConfigKey, keys.connectionId);
      if (connection === undefined) throw hostFailure('unknown_connection', `No connection ${keys.connectionId.slice(0, 200)} in ${keys.providerConfigKey}.`, { status: 404 });
      const action = await functions.find(keys.providerConfigKey, 'action', actionName);
      if (action === undefined || !action.enabled) throw hostFailure('not_found', `Action '${actionName}' is not deployed for '${keys.providerConfigKey}'.`, { status: 404 });
      triggered++;
      inFlight++;
      try {
        const run = {
          id: randomUUID(),
          kind: 'action' as const,
          integrationKey: keys.providerConfigKey,
          connectionId: keys.connectionId,
          provider: connection.provider,
          functionName: action.name,
          bundleHash: action.bundleHash,
          isAsync: false,
          inputJson: JSON.stringify(args.input ?? null),
          maxRetries: 0,
          logId: newLogId(),
          triggerDepth: depth,
        };
        scope.log?.('info', `nango.triggerAction: ${action.name} on ${keys.connectionId} (run ${run.id})`);
        const finished = await runAction({ store, queue, wake, direct }, run).catch((error: unknown) => {
          if (isPatchbayError(error)) throw hostFailure(error.code, error.message, { status: error.status });
          throw error;
        });
        if (finished.state === 'succeeded') return finished.outputJson === null ? null : (JSON.parse(finished.outputJson) as unknown);
        const error = finished.error;
        throw hostFailure(error?.code ?? 'script_internal_error', `${action.name} failed: ${error?.message ?? 'no error recorded'}`, { status: error?.status ?? 500 });
      } finally {
        inFlight--;
      }
    },
    async triggerSync(args) {
      const { queue, wake } = control('triggerSync');
      countSyncCall();
      const keys = keysOf(args);
      const mode = args.syncMode;
      if (mode !== undefined && mode !== null && typeof mode !== 'boolean' && !SYNC_MODES.has(String(mode))) {
        throw hostFailure('invalid_arguments', 'syncMode is incremental, full_refresh, full_refresh_and_clear_cache or a boolean (full resync).');
      }
      // Nango's own: `true` (the old fullResync flag) is full_refresh.
      const reset = mode === true || mode === 'full_refresh' || mode === 'full_refresh_and_clear_cache';
      await triggerSyncs({ store, queue, wake }, { ...keys, syncs: syncTargetsOf(args.sync), reset, emptyCache: mode === 'full_refresh_and_clear_cache' });
      return null;
    },
    async startSync(args) {
      const { wake } = control('startSync');
      countSyncCall();
      const keys = keysOf({ providerConfigKey: args.providerConfigKey });
      const connectionId = typeof args.connectionId === 'string' && args.connectionId !== '' ? args.connectionId : undefined;
      if (connectionId !== undefined && (await store.connections.get(keys.providerConfigKey, connectionId)) === undefined) {
        throw hostFailure('unknown_connection', `No connection ${connectionId.slice(0, 200)} in ${keys.providerConfigKey}.`, { status: 404 });
      }
      // POST /sync/start: the schedules run again (they were paused, or never started).
      await store.schedules.setPaused({ integrationKey: keys.providerConfigKey, connectionId, syncNames: syncTargetsOf(args.syncs).map((sync) => sync.name) }, false);
      wake.schedulesChanged();
      return null;
    },
    async tryAcquireLock(args) {
      const lock = lockOf(args);
      const ttlMs = args.ttlMs;
      if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_LOCK_TTL_MS) {
        throw hostFailure('invalid_lock', `ttlMs is a whole number of milliseconds from 1 to ${MAX_LOCK_TTL_MS}.`);
      }
      if (!locks.has(lock.key) && locks.size >= MAX_LOCKS_PER_RUN) throw hostFailure('too_many_locks', `A run may hold at most ${MAX_LOCKS_PER_RUN} locks.`);
      releaseAtEnd();
      const acquired = await store.locks.tryAcquire(lock, owner, ttlMs);
      if (acquired) locks.add(lock.key);
      return acquired;
    },
    async releaseLock(args) {
      const lock = lockOf(args);
      locks.delete(lock.key);
      return store.locks.release(lock, owner);
    },
    async releaseAllLocks() {
      locks.clear();
      await store.locks.releaseAll(owner);
      return null;
    },
  };
}
