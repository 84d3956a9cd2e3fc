// One claimed run in the sandbox: its bundle (cached by hash), the limits its function declared,
// the host operations of its kind, and the context `nango` reads. What the outcome means for
// the run (stored, retried, handed back) is the worker's decision (runner/worker.ts).
import type { FunctionRegistry } from '../server/functions/registry.js';
import { Lru } from '../server/lru.js';
import type { Catalog } from '../server/providers/catalog.js';
import type { ClaimedRun, Store } from '../server/store/index.js';
import { buildRunHost, type RunHost, type RunLog } from './context.js';
import type { OperationDeps } from './operations.js';
import type { RunOutcome, Sandbox, SandboxLimits } from './sandbox/index.js';
import { buildSyncOperations, type ModelChanges } from './sync-operations.js';

// Syncs page through whole accounts: an hour by default (Nango allows up to 24 h) before a run
// is cut short and recorded as interrupted, its checkpoint kept for the next run.
const SYNC_WALL_MS = 60 * 60_000;
// Compiled bundles kept in memory by hash; far more than a deployment usually has.
const MAX_CACHED_BUNDLES = 500;
// What a function may ask for in `limits`: Nango's 15 min for an action run, and a heap that
// still leaves a runner with 16 isolates on a small machine alive.
const MAX_FUNCTION_WALL_MS = 15 * 60_000;
const MAX_FUNCTION_MEMORY_MB = 1024;

export interface RunFunctionDeps {
  store: Store;
  sandbox: Sandbox;
  functions: FunctionRegistry;
  catalog: Catalog;
  operations: OperationDeps;
}

/** What a run produced: its outcome and the host that served it (its log, for source maps). */
export type RunResult = { bundleMissing: true } | { bundleMissing: false; outcome: RunOutcome; host: RunHost };

/** Runs claimed runs; `changes` and `log` collect what a sync saved and what the run logged. */
export function createFunctionRunner(deps: RunFunctionDeps) {
  const { store } = deps;
  const bundles = new Lru<string, string>(MAX_CACHED_BUNDLES);

  const bundleCode = async (hash: string) => {
    const cached = bundles.get(hash);
    if (cached !== undefined) return cached;
    const code = (await store.functions.bundles([hash])).get(hash);
    if (code === undefined) return undefined;
    bundles.set(hash, code);
    return code;
  };

  return async (run: ClaimedRun, signal: AbortSignal, changes: ModelChanges, log: RunLog): Promise<RunResult> => {
    const code = await bundleCode(run.bundleHash);
    if (code === undefined) return { bundleMissing: true };
    const deployed = await deps.functions.find(run.integrationKey, run.kind, run.functionName);
    const provider = deps.catalog.get(run.provider);
    const isSync = run.kind === 'sync';
    const syncKey = { integrationKey: run.integrationKey, connectionId: run.connectionId, syncName: run.functionName, variant: run.variant };
    const extra = isSync ? buildSyncOperations(store, { runId: run.id, ...syncKey }, changes) : {};
    const host = buildRunHost(deps.operations, { providerConfigKey: run.integrationKey, connectionId: run.connectionId, logId: run.logId, signal, triggerDepth: run.triggerDepth }, log, extra);
    const lastSyncDate = isSync ? await store.runs.lastSuccessAt(syncKey) : null;
    const outcome = await deps.sandbox.run({
      bundle: { hash: run.bundleHash, code },
      kind: run.kind,
      input: run.input,
      context: {
        connectionId: run.connectionId,
        providerConfigKey: run.integrationKey,
        provider: run.provider,
        activityLogId: run.logId,
        ...(provider?.proxy.paginate === undefined ? {} : { paginate: provider.proxy.paginate }),
        ...(isSync ? { lastSyncDate: lastSyncDate?.toISOString() ?? null, variant: run.variant } : {}),
      },
      host: host.call,
      log: host.log,
      limits: { ...(isSync ? { wallMs: SYNC_WALL_MS } : {}), ...limitsOf(deployed?.config) },
      signal,
    });
    return { bundleMissing: false, outcome, host };
  };
}

/** The limits a function declared, capped by what a runner grants. */
export function limitsOf(config: Record<string, unknown> | undefined): Partial<SandboxLimits> {
  const limits = (config?.limits ?? {}) as Record<string, unknown>;
  const bounded = (value: unknown, min: number, max: number) =>
    typeof value === 'number' && Number.isFinite(value) ? Math.min(Math.max(Math.floor(value), min), max) : undefined;
  const wallMs = bounded(limits.timeoutMs, 10, MAX_FUNCTION_WALL_MS);
  const cpuMs = bounded(limits.cpuMs, 10, MAX_FUNCTION_WALL_MS);
  const memoryMb = bounded(limits.memoryMb, 8, MAX_FUNCTION_MEMORY_MB);
  return {
    ...(wallMs === undefined ? {} : { wallMs }),
    ...(cpuMs === undefined ? {} : { cpuMs }),
    ...(memoryMb === undefined ? {} : { memoryMb }),
  };
}
