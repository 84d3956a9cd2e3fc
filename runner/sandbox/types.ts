// The sandbox's public shapes: what a caller passes to run a function and what it gets back.
// Types only; runner/sandbox/index.ts re-exports them.
import type { SandboxLimits } from './limits.js';

export interface FunctionBundle {
  /** Content hash of `code`: compiled scripts and V8 code caches are kept by it. */
  hash: string;
  /** An esbuild IIFE assigning `globalThis.__patchbay_exports`, ending with `\n;void 0;\n`. */
  code: string;
}

/**
 * A host operation: plain data in, plain data out. Throws a HostFailure (data) when it fails.
 * `signal` aborts when the run ends (returned, failed or killed): work for it is wasted after that.
 */
export type HostCall = (op: string, args: unknown, signal: AbortSignal) => Promise<unknown>;

export interface HostFailure {
  hostFailure: true;
  code: string;
  message: string;
  status?: number;
  response?: { status: number; headers: Record<string, string>; data: unknown };
}

/** The provider's `proxy.paginate` from the catalog: defaults under a function's `paginate`. */
export interface PaginateDefaults {
  type?: 'cursor' | 'link' | 'offset' | string;
  [setting: string]: unknown;
}

export interface GuestContext {
  connectionId: string;
  providerConfigKey: string;
  provider: string;
  activityLogId?: string;
  paginate?: PaginateDefaults;
  /** ISO date of the last successful sync run; `nango.lastSyncDate`. */
  lastSyncDate?: string | null;
  variant?: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RunRequest {
  bundle: FunctionBundle;
  /** `on-event` functions get an action's `nango` and `exec(nango)`. */
  kind: 'action' | 'sync' | 'on-event';
  /** Default `exec`; `onWebhook` gets `(nango, input)`. */
  entry?: 'exec' | 'onWebhook';
  /** The action's input or the webhook's payload (JSON data). */
  input?: unknown;
  context: GuestContext;
  host: HostCall;
  log: (level: LogLevel, message: string, meta?: unknown) => void;
  limits?: Partial<SandboxLimits>;
  /** Aborting stops the run at once (`aborted`), queued or running. */
  signal?: AbortSignal;
}

export type RunFailure =
  | { type: 'action_error'; payload: unknown }
  | { type: 'http_error'; status: number; headers: Record<string, string>; data: unknown }
  | { type: 'network_error'; message: string }
  | { type: 'sdk_error'; code: string; message: string; status?: number }
  | { type: 'internal_error'; name: string; message: string; stack: string }
  | { type: 'invalid_input'; issues: unknown[] }
  | { type: 'invalid_output'; issues: unknown[] }
  | { type: 'invalid_definition'; message: string }
  | { type: 'output_too_large'; bytes: number; limit: number }
  | { type: 'output_not_json'; message: string }
  | { type: 'wall_timeout'; limitMs: number }
  | { type: 'cpu_limit'; limitMs: number }
  | { type: 'out_of_memory'; limitMb: number }
  | { type: 'aborted' };

export type RunOutcome =
  | { ok: true; output: unknown; outputJson: string; cpuMs: number; wallMs: number }
  | { ok: false; failure: RunFailure; cpuMs: number; wallMs: number };

export interface FunctionSummary {
  type: 'action' | 'sync' | 'on-event';
  description: string;
  version: string;
  frequency?: string;
  autoStart?: boolean;
  models?: string[];
  trackDeletes?: boolean;
  syncType?: string;
  event?: string;
  hasInput: boolean;
  hasOutput: boolean;
  hasOnWebhook: boolean;
  webhookSubscriptions?: string[];
  scopes?: string[];
  /** What the definition asks for (`limits: {timeoutMs, cpuMs, memoryMb}`); the runner may cap it. */
  limits?: { timeoutMs?: number; cpuMs?: number; memoryMb?: number };
}

export type InspectResult = { ok: true; summary: FunctionSummary } | { ok: false; message: string };

export interface SandboxStats {
  /** Live isolates (one per slot). */
  isolates: number;
  /** Isolates running a function now. */
  busy: number;
  /** Runs and inspections finished since creation. */
  runs: number;
  /** Isolates replaced: killed (limits, abort), recycled (run count, heap) or resized. */
  recycled: number;
  /** Runs that found their function's context warm (no bundle evaluation). */
  warmRuns: number;
  /** Contexts kept warm across all isolates. */
  warmContexts: number;
  /** Bundles with a V8 code cache in the process. */
  cachedScripts: number;
  /** Compiled scripts held by all isolates. */
  compiledScripts: number;
  /** Runs waiting for an isolate. */
  queued: number;
  /** Largest heap of an isolate after its last run, uncollected garbage included (0 before any). */
  heapUsedBytes: number;
}

export interface Sandbox {
  /** Never rejects for anything the function does; rejects only once the sandbox is closed. */
  run(request: RunRequest): Promise<RunOutcome>;
  /** Evaluates a bundle in a fresh context, within limits, and reads its definition as data. */
  inspect(bundle: FunctionBundle): Promise<InspectResult>;
  stats(): SandboxStats;
  /** Stops every run (they end `aborted`) and disposes the isolates. Idempotent. */
  close(): Promise<void>;
}

export interface SandboxOptions {
  /** Isolates, hence concurrent runs; default 4. Runs beyond it wait in a queue. */
  size?: number;
  /**
   * Isolates made at once and kept when idle; default `size` (all). Fewer: the others are made
   * when runs need them and disposed after ISOLATE_IDLE_MS without use (`patchbay start` idles small).
   */
  minIsolates?: number;
  /** How long an isolate above `minIsolates` may stay unused; default ISOLATE_IDLE_MS (tests shorten it). */
  isolateIdleMs?: number;
  limits?: Partial<SandboxLimits>;
  /** Compiled scripts kept per isolate; default 32. */
  maxCachedScripts?: number;
}
