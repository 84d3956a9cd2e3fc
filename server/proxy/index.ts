// createProxyEngine(deps): the one proxy engine, used by the /proxy route and the function
// runner. See README.md in this folder for the pipeline.
import type { Agent, Dispatcher } from 'undici';
import type { CredentialsManager } from '../credentials/refresh.js';
import type { LogWriter } from '../logs/writer.js';
import type { Catalog } from '../providers/catalog.js';
import type { Store } from '../store/index.js';
import { createGuardedAgent } from './egress.js';
import { createPacer, type Pacer } from './pacer.js';
import { sendCall, type SendDeps } from './send.js';
import { createTargetResolver, type TargetResolver } from './target.js';
import type { ProxyCall, ProxyResult } from './types.js';

export interface ProxyEngineOptions {
  store: Store;
  catalog: Catalog;
  credentials: CredentialsManager;
  logs: LogWriter;
  allowPrivateEgress: boolean;
  maxWaitMs: number;
  /** Longest a provider's rate-limit headers may hold a connection (PATCHBAY_PACING_MAX_HOLD_MS). */
  pacingMaxHoldMs?: number;
  /** Test hooks and tuning; the defaults are production values. */
  dispatcher?: Dispatcher;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  now?: () => number;
  random?: () => number;
}

export interface ProxyEngine {
  call(call: ProxyCall): Promise<ProxyResult>;
  targets: TargetResolver;
  pacer: Pacer;
  close(): Promise<void>;
}

// 500 ms doubling to 10 s: three retries fit in ~4 s, and a struggling provider gets air.
const BASE_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 10_000;
// 429s are retried this many times even when the caller asked for no retries (contract §11).
const RATE_LIMIT_RETRIES = 3;
// In-flight calls per connection when the provider sets no `max_concurrency`: enough for any
// sane fan-out, low enough that one connection cannot monopolise a provider's quota.
const DEFAULT_CONNECTION_CONCURRENCY = 64;
// 2 minutes for headers and between body chunks: slow report endpoints answer in tens of seconds.
const UPSTREAM_TIMEOUT_MS = 120_000;

/** The agent for provider calls and token requests: every connection passes the egress guard. */
export function createUpstreamAgent(allowPrivateEgress: boolean): Agent {
  return createGuardedAgent({ allowPrivateEgress });
}

export function createProxyEngine(options: ProxyEngineOptions): ProxyEngine {
  const dispatcher = options.dispatcher ?? createUpstreamAgent(options.allowPrivateEgress);
  const targets = createTargetResolver({ store: options.store, catalog: options.catalog, credentials: options.credentials });
  const pacer = createPacer({ maxEntries: 10_000, maxQueuePerConnection: 1000, maxHoldMs: options.pacingMaxHoldMs });
  const deps: SendDeps = {
    dispatcher,
    targets,
    pacer,
    logs: options.logs,
    allowPrivateEgress: options.allowPrivateEgress,
    maxWaitMs: options.maxWaitMs,
    baseBackoffMs: options.baseBackoffMs ?? BASE_BACKOFF_MS,
    maxBackoffMs: options.maxBackoffMs ?? MAX_BACKOFF_MS,
    rateLimitRetries: RATE_LIMIT_RETRIES,
    defaultConcurrency: DEFAULT_CONNECTION_CONCURRENCY,
    headersTimeoutMs: options.headersTimeoutMs ?? UPSTREAM_TIMEOUT_MS,
    bodyTimeoutMs: options.bodyTimeoutMs ?? UPSTREAM_TIMEOUT_MS,
    now: options.now ?? Date.now,
    random: options.random ?? Math.random,
  };
  return {
    call: (call) => sendCall(deps, call),
    targets,
    pacer,
    async close() {
      if (options.dispatcher === undefined) await dispatcher.close();
    },
  };
}

export type { BodySink, BodySource, ProxyCall, ProxyOptions, ProxyResult, AttemptRecord } from './types.js';
export { StreamSource } from './upstream.js';

// The request stages, for calls made outside the engine with the same injection and egress rules
// (credential verification, server/credentials/verify.ts).
export { buildRequest, missingPlaceholders, renderProviderUrl, resolveBaseUrl } from './build-request.js';
export { buildTemplateValues, defaultAuthorization, secretValuesOf } from './inject-credentials.js';
export { assertHostAllowed } from './egress.js';
export { networkCode } from './send.js';
