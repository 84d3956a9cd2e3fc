// The engine's input and output. Both adapters (the /proxy route and the sandbox bridge) speak
// only these shapes; the engine knows neither fastify nor isolated-vm.
import type { Readable } from 'node:stream';
import type { CancelSignal } from './cancel.js';

export interface ProxyOptions {
  /** Extra attempts for 5xx, network errors and `retryOn` statuses (429 is retried regardless). */
  retries: number;
  /** Statuses retried besides the provider's defaults. */
  retryOn: number[];
  baseUrlOverride?: string | undefined;
  /** Decompress gzip/deflate/br bodies before passing them on. */
  decompress: boolean;
}

export interface ProxyCall {
  method: string;
  /** Path (and query string) on the provider API, as the caller wrote it after `/proxy`. */
  endpoint: string;
  /** Headers for the provider, names lower-case, prefix `nango-proxy-` already removed. */
  headers: Record<string, string>;
  /** A Buffer can be replayed on retry; a stream is sent once. */
  body?: Buffer | Readable | undefined;
  providerConfigKey: string;
  connectionId: string;
  options: ProxyOptions;
  signal?: CancelSignal | undefined;
  /** Attaches the call's log operation to a parent (a function run). */
  logParentId?: string | undefined;
}

export interface AttemptRecord {
  attempt: number;
  status: number | null;
  error: string | null;
  durationMs: number;
  /** How long we waited before this attempt (backoff, Retry-After or pacing). */
  waitedMs: number;
}

export interface ProxyResult {
  status: number;
  /** Upstream headers with hop-by-hop headers removed; lengths and encodings match `body`. */
  headers: Record<string, string | string[]>;
  body: Readable;
  attempts: AttemptRecord[];
  logId: string;
}
