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

/** Where an answer's body goes, chunk by chunk. */
export interface BodySink {
  /** One chunk; false asks for no more until the source's resume(). */
  data(chunk: Buffer): boolean;
  end(): void;
  /** The body failed: the provider, a timeout, a decompression error, or the call's abort. */
  error(error: Error): void;
}

/** An answer's body, taken once: delivered to a sink, or as a stream. */
export interface BodySource {
  deliver(sink: BodySink): void;
  /** More chunks after the sink's false. */
  resume(): void;
  /** Stops the transfer; the call's log says the body was not read to its end (or why). */
  destroy(error?: Error): void;
  toReadable(): Readable;
}

export interface ProxyResult {
  status: number;
  /** Upstream headers with hop-by-hop headers removed; lengths and encodings match the body. */
  headers: Record<string, string | string[]>;
  /** The body as a stream, made when first read (`source.toReadable()`). Take the body once: this or `source`. */
  readonly body: Readable;
  /** The body without a stream: what the /proxy route writes to its response. */
  source: BodySource;
  attempts: AttemptRecord[];
  logId: string;
}
