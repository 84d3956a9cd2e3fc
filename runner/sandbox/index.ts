// The function sandbox: createSandbox() builds the isolate pool and runs functions in it, each
// run in its function's warm context (or a fresh one) of a warm isolate, within memory, CPU,
// wall-time and output limits.
// The protocol between host and guest is described in README.md.
import { CodeCache } from './script-cache.js';
import { CACHED_DATA_PER_SCRIPT_SLOT, DEFAULT_LIMITS, DEFAULT_MAX_CACHED_SCRIPTS, INSPECT_WALL_MS, resolveLimits, type SandboxLimits } from './limits.js';
import { IsolatePool, type IsolateSlot } from './pool.js';
import { runSession, toInspectResult, toRunOutcome } from './run.js';
import type { FunctionBundle, InspectResult, RunOutcome, RunRequest, Sandbox, SandboxOptions, SandboxStats } from './types.js';

export { DEFAULT_LIMITS, type SandboxLimits } from './limits.js';
export { SandboxClosedError } from './pool.js';
export { inspectFingerprint } from './run.js';
export type {
  FunctionBundle,
  FunctionSummary,
  GuestContext,
  HostCall,
  HostFailure,
  InspectResult,
  LogLevel,
  PaginateDefaults,
  RunFailure,
  RunOutcome,
  RunRequest,
  Sandbox,
  SandboxOptions,
  SandboxStats,
} from './types.js';

// Two cores run two isolates at once; four keeps both busy while others wait on I/O.
const DEFAULT_SIZE = 4;

export function createSandbox(options: SandboxOptions = {}): Sandbox {
  const size = Math.max(1, Math.floor(options.size ?? DEFAULT_SIZE));
  const baseLimits = resolveLimits(DEFAULT_LIMITS, options.limits);
  const maxCachedScripts = Math.max(1, Math.floor(options.maxCachedScripts ?? DEFAULT_MAX_CACHED_SCRIPTS));
  const pool = new IsolatePool({
    size,
    minSize: Math.min(size, Math.max(1, Math.floor(options.minIsolates ?? size))),
    idleMs: options.isolateIdleMs,
    memoryMb: baseLimits.memoryMb,
    maxCachedScripts,
    codeCache: new CodeCache(maxCachedScripts * CACHED_DATA_PER_SCRIPT_SLOT),
  });

  let warmRuns = 0;

  /** Holds a slot for `use`, giving it back (renewed when `use` says so or throws). */
  async function withSlot<T>(
    memoryMb: number,
    signal: AbortSignal | undefined,
    hash: string | undefined,
    use: (slot: IsolateSlot) => Promise<{ result: T; dirty: boolean }>,
  ): Promise<T> {
    const slot = await pool.acquire(memoryMb, signal, hash);
    let dirty = true;
    try {
      const used = await use(slot);
      dirty = used.dirty;
      return used.result;
    } finally {
      pool.release(slot, dirty);
    }
  }

  return {
    async run(request: RunRequest): Promise<RunOutcome> {
      const limits = resolveLimits(baseLimits, request.limits);
      const aborted: RunOutcome = { ok: false, failure: { type: 'aborted' }, cpuMs: 0, wallMs: 0 };
      if (request.signal?.aborted) return aborted;
      try {
        return await withSlot(limits.memoryMb, request.signal, request.bundle.hash, async (slot) => {
          const session = await runSession(pool, slot, {
            bundle: request.bundle,
            limits,
            signal: request.signal,
            binding: { host: request.host, log: request.log },
            request: {
              mode: 'run',
              kind: request.kind,
              entry: request.entry ?? 'exec',
              input: request.input,
              context: { ...request.context },
              maxOutputBytes: limits.maxOutputBytes,
            },
          });
          if (session.warm) warmRuns++;
          return { result: toRunOutcome(session, limits), dirty: session.dirty };
        });
      } catch (error) {
        // Aborted while waiting for an isolate.
        if (request.signal?.aborted && !pool.closed) return aborted;
        throw error;
      }
    },

    async inspect(bundle: FunctionBundle): Promise<InspectResult> {
      const limits: SandboxLimits = { ...baseLimits, wallMs: Math.min(baseLimits.wallMs, INSPECT_WALL_MS) };
      return withSlot(limits.memoryMb, undefined, undefined, async (slot) => {
        const session = await runSession(pool, slot, { bundle, limits, request: { mode: 'inspect' } });
        return { result: toInspectResult(session), dirty: session.dirty };
      });
    },

    stats(): SandboxStats {
      const slots = pool.slots;
      return {
        isolates: slots.filter((slot) => !slot.isolate.isDisposed).length,
        busy: slots.filter((slot) => slot.busy).length,
        runs: pool.runs,
        recycled: pool.recycled,
        warmRuns,
        warmContexts: slots.reduce((total, slot) => total + slot.warmContexts, 0),
        cachedScripts: pool.codeCache.size,
        compiledScripts: slots.reduce((total, slot) => total + slot.compiledScripts, 0),
        queued: pool.queued,
        heapUsedBytes: Math.max(0, ...slots.map((slot) => slot.heapUsedBytes)),
      };
    },

    close(): Promise<void> {
      return pool.close();
    },
  };
}
