// The sandbox's bounds: per-run limits (memory, CPU, wall time, output) with their defaults, and
// the pool's own constants (recycling, cache sizes, watchdog period). Numbers only; no behaviour.

export interface SandboxLimits {
  /** Heap limit of the isolate the run gets (isolated-vm `memoryLimit`, minimum 8). */
  memoryMb: number;
  /** CPU time the run may use, measured on the isolate (`isolate.cpuTime`). */
  cpuMs: number;
  /** Time from the start of the run to its end, waiting included. */
  wallMs: number;
  /** UTF-8 size of the JSON output. */
  maxOutputBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  // isolated-vm's default; a function buffers provider responses of up to 10 MB and parses them,
  // and runs share the runner's memory with `size` other isolates (8 × 128 MB fits a 2 GB box).
  memoryMb: 128,
  // Integration code waits on I/O; 10 s of pure CPU is a bug (a loop), not work.
  cpuMs: 10_000,
  // An action is awaited by an HTTP request; one minute is the longest a caller sensibly holds
  // it open. Syncs pass their own, longer limit.
  wallMs: 60_000,
  // As in Nango: outputs over 2 MB are rejected.
  maxOutputBytes: 2 * 1024 * 1024,
};

// isolated-vm refuses less than 8 MB.
export const MIN_MEMORY_MB = 8;
// Node fires a longer setTimeout after 1 ms (TIMEOUT_MAX, ~24.8 days): a longer wall limit is this one.
const MAX_TIMER_MS = 2_147_483_647;

/** `partial` over `base`, each value checked: a bad number falls back to the base rather than disabling a limit. */
export function resolveLimits(base: SandboxLimits, partial: Partial<SandboxLimits> | undefined): SandboxLimits {
  const pick = (key: keyof SandboxLimits, minimum: number, maximum = Number.MAX_SAFE_INTEGER) => {
    const value = partial?.[key];
    return typeof value === 'number' && Number.isFinite(value) && value >= minimum ? Math.min(Math.floor(value), maximum) : base[key];
  };
  return {
    memoryMb: pick('memoryMb', MIN_MEMORY_MB),
    cpuMs: pick('cpuMs', 1),
    wallMs: pick('wallMs', 1, MAX_TIMER_MS),
    maxOutputBytes: pick('maxOutputBytes', 0),
  };
}

// V8 and isolated-vm keep a little per context (compiled feedback, handles) after it is released;
// replacing an isolate costs ~3 ms (and its warm contexts' next evaluations), so every 500 runs is
// < 0.1 ms per run and bounds any slow growth.
export const MAX_RUNS_PER_ISOLATE = 500;

// A warm context serves runs of one function version, its bundle evaluated once (zod 4 alone is
// ~11 ms to evaluate). Each holds its function's heap (a zod function: a few MB), so an isolate
// keeps the 8 most recently used; one is dropped after a kill, a limit, a failed load, calls left
// in flight, or this many runs (re-evaluating then costs < 0.1 ms a run).
export const MAX_WARM_CONTEXTS_PER_ISOLATE = 8;
export const MAX_RUNS_PER_CONTEXT = 200;

// The heap is measured after every run, uncollected garbage included: V8 collects lazily, so a
// reading swings between the live size and most of the limit (measured: 2–96 MB in a 128 MB
// isolate whose runs keep < 10 MB), and only a full GC, which the host cannot request, tells
// them apart. A reading past 90% means the next run may start next to the limit: the isolate is
// replaced (~3 ms; a leak shows up as many of these, garbage as a rare one).
export const RECYCLE_HEAP_FRACTION = 0.9;

// How often the CPU watchdog reads `isolate.cpuTime` of the running isolates: a loop is stopped
// at most ~25 ms past its limit, at a cost of 40 cheap reads per second.
export const CPU_CHECK_INTERVAL_MS = 25;

// What one call from the guest into the host costs the process beyond the work it asks for:
// isolated-vm hands it to the runner's thread and the answer back, two thread switches. Measured
// (Node 20, 2 cores): a loop of crypto.randomUUID() used 26.6 µs of process CPU a call, of which
// 4.4 µs were the service and the guest's loop. Charged per call so that a loop of cheap calls
// reaches its CPU limit as its cost says, not ~6 times later.
export const HOST_CALL_OVERHEAD_NS = 20_000n;

// Compiled scripts kept per isolate, by bundle hash: a deployment's hot functions fit, and each
// costs its code size in the isolate's heap. A miss costs ~0.4 ms with V8's cached data.
export const DEFAULT_MAX_CACHED_SCRIPTS = 32;

// V8 code caches kept for the process, by bundle hash (tens of KB each): several times the
// per-isolate cache so that a new or recycled isolate compiles from cache.
export const CACHED_DATA_PER_SCRIPT_SLOT = 4;

// `inspect` only evaluates a bundle's top level and reads its definition.
export const INSPECT_WALL_MS = 10_000;

// Failures a run may refer to after they happened (the error escaping exec names one by number):
// a sync that swallows thousands of 404s keeps only the latest.
export const MAX_REMEMBERED_FAILURES = 1000;

// How long an isolate above the pool's minimum may sit unused before it is disposed: long enough
// that a steady trickle of runs keeps its warm contexts, short enough that memory taken by a burst
// comes back within a minute.
export const ISOLATE_IDLE_MS = 30_000;
