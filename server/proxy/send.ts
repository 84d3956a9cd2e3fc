// The attempt loop: pace → send → decide → (wait) → again. Owns the sockets and timers of the
// engine; every decision it takes comes from retry-policy.ts and pacer.ts.
//
// sendCall reads as the loop; each step is a function below it: prepare what a target gives
// every call (memoized beside the target, never written into it: targets are cached and shared by
// concurrent calls), plan the call, build an attempt, send it, take the outcome (network error,
// forced refresh, retry, rate limit or answer), stream the answer, assemble the log operation.
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { Dispatcher } from 'undici';
import { isPatchbayError, PatchbayError } from '../errors.js';
import { isConnectionError } from '../store/db.js';
import type { LogOperation } from '../store/logs.js';
import { createRedactor } from '../logs/redact.js';
import { newLogId, type LogWriter } from '../logs/writer.js';
import { buildRequest, renderProviderParts, resolveBaseUrl, type ProviderParts, type UpstreamUrl } from './build-request.js';
import { assertBaseUrlOverrideAllowed, assertHostAllowed } from './egress.js';
import { assertOverrideOnProviderHosts, parseBaseUrlOverride } from './provider-hosts.js';
import { cleanResponseHeaders, headerValue } from './headers.js';
import { paceKeyOf, type Pacer, type Slot } from './pacer.js';
import { decideRetry, type RetryDecision, type RetrySettings } from './retry-policy.js';
import { sleep } from './sleep.js';
import type { Target, TargetResolver } from './target.js';
import type { AttemptRecord, BodySource, ProxyCall, ProxyResult } from './types.js';
import { NOT_READ, requestUpstream, StreamSource, type UpstreamHeaders, type UpstreamResponse } from './upstream.js';

const NO_SECRETS = createRedactor([]);
const ignoreError = () => undefined;

export interface SendDeps {
  dispatcher: Dispatcher;
  targets: TargetResolver;
  pacer: Pacer;
  logs: LogWriter;
  allowPrivateEgress: boolean;
  maxWaitMs: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  rateLimitRetries: number;
  defaultConcurrency: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  now: () => number;
  random: () => number;
}

// A Map, not an object literal: `Content-Encoding: constructor` must not find Object.prototype's.
const DECODERS = new Map<string, () => NodeJS.ReadWriteStream>([
  ['gzip', () => zlib.createGunzip()],
  ['x-gzip', () => zlib.createGunzip()],
  ['deflate', () => zlib.createInflate()],
  ['br', () => zlib.createBrotliDecompress()],
]);

/** The body decompressed: its stream, fed from the provider's. */
function decoded(source: Readable, decoder: () => NodeJS.ReadWriteStream): Readable {
  const output = decoder();
  pipeline(source, output, () => undefined);
  return output as unknown as Readable;
}

/** The system or undici code of a failed call or body: ECONNRESET, UND_ERR_BODY_TIMEOUT, Z_DATA_ERROR… */
export function networkCode(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const causeCode = (error as { cause?: { code?: unknown } })?.cause?.code;
  if (typeof causeCode === 'string' && (code === 'UND_ERR_SOCKET' || code === undefined)) return causeCode;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

// ---------------------------------------------------------------- the loop

export async function sendCall(deps: SendDeps, call: ProxyCall): Promise<ProxyResult> {
  const state = startCall(deps, call);
  try {
    const resolved = deps.targets.resolve(call.providerConfigKey, call.connectionId);
    let target = (state.target = resolved instanceof Promise ? await resolved : resolved);
    const plan = planCall(deps, call, target);
    let refreshedAfter401 = false;
    let waitedMs = 0;
    for (let attempt = 0; ; attempt++) {
      const paceKey = buildAttempt(deps, state, plan, target);
      const acquired = deps.pacer.acquire(paceKey, { concurrency: target.provider.proxy.maxConcurrency ?? deps.defaultConcurrency, maxWaitMs: deps.maxWaitMs }, call.signal);
      const slot = acquired instanceof Promise ? await acquired : acquired;
      const record = startAttempt(deps, state, attempt, waitedMs + slot.waitedMs);
      let response: UpstreamResponse;
      try {
        response = await dispatch(deps, state);
      } catch (error) {
        slot.release();
        waitedMs = await afterNetworkError(deps, state, plan, record, error);
        continue;
      }
      const next = afterResponse(deps, state, plan, record, response, paceKey, target, !refreshedAfter401);
      if (next.action === 'stop') return answer(deps, state, plan, response, slot);
      await response.body.dump();
      slot.release();
      if (next.action === 'refresh') {
        // A 401 on a token we believed valid: one forced refresh and one more try (contract §2).
        refreshedAfter401 = true;
        target = state.target = await deps.targets.forceRefresh(target);
        waitedMs = 0;
        continue;
      }
      waitedMs = await waitToRetry(deps, call, next);
    }
  } catch (error) {
    writeLog(deps, state, null, failureOf(error, call), null);
    throw error;
  }
}

// ---------------------------------------------------------------- the call and its target

/** One call as it goes: what its steps share, and what its log operation is assembled from. */
interface CallState {
  readonly call: ProxyCall;
  readonly method: string;
  readonly logId: string;
  readonly startedAt: number;
  readonly attempts: AttemptRecord[];
  /** Once resolved; a forced refresh replaces it. Its redactor redacts the log. */
  target: Target | undefined;
  /** The latest attempt's request, as sent and as logged. */
  url: UpstreamUrl | undefined;
  requestHeaders: Record<string, string>;
  attemptStartedAt: number;
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function startCall(deps: SendDeps, call: ProxyCall): CallState {
  return {
    call,
    method: call.method.toUpperCase(),
    logId: newLogId(),
    startedAt: deps.now(),
    attempts: [],
    target: undefined,
    url: undefined,
    requestHeaders: NO_HEADERS,
    attemptStartedAt: 0,
  };
}

/** What stays the same for every attempt of one call: the retry settings and the call's options. */
interface CallPlan extends RetrySettings {
  readonly override: string | undefined;
  /** A Buffer (or no body) can be sent again; a stream only once. */
  readonly replayable: boolean;
  readonly decompress: boolean;
}

function planCall(deps: SendDeps, call: ProxyCall, target: Target): CallPlan {
  const override = call.options.baseUrlOverride !== undefined && call.options.baseUrlOverride !== '' ? call.options.baseUrlOverride : undefined;
  if (override !== undefined) checkOverride(target, override, deps.allowPrivateEgress);
  return {
    retries: call.options.retries,
    retryOn: call.options.retryOn,
    provider: target.provider.proxy.retry,
    maxWaitMs: deps.maxWaitMs,
    baseBackoffMs: deps.baseBackoffMs,
    maxBackoffMs: deps.maxBackoffMs,
    rateLimitRetries: deps.rateLimitRetries,
    override,
    replayable: call.body === undefined || Buffer.isBuffer(call.body),
    decompress: call.options.decompress || target.provider.proxy.decompress,
  };
}

/** What every call to one target works out the same way, worked out by its first call. */
interface Prepared {
  /** The provider base URL for this connection; undefined when it has none (resolveBaseUrl says why). */
  readonly baseUrl: URL | undefined;
  /** The provider's headers and query for this connection. */
  readonly providerParts: ProviderParts;
  /** The pacer's key for calls to the base URL's host. */
  readonly paceKey: string | undefined;
}

// Keyed by the target object, never stored in it: a refreshed or reloaded target is a new object
// with an entry of its own, and an entry goes away with its target.
const preparedTargets = new WeakMap<Target, Prepared>();

function prepared(target: Target): Prepared {
  let found = preparedTargets.get(target);
  if (found === undefined) {
    let baseUrl: URL | undefined;
    try {
      baseUrl = resolveBaseUrl(target.provider, target.values, undefined);
    } catch {
      baseUrl = undefined; // buildRequest resolves it again and throws why, for every call that needs it
    }
    found = {
      baseUrl,
      providerParts: renderProviderParts(target.provider, target.values),
      paceKey: baseUrl === undefined ? undefined : paceKeyOf(target.key, baseUrl.hostname),
    };
    preparedTargets.set(target, found);
  }
  return found;
}

/** An override must be an http(s) URL, public, and one of the provider's hosts: credentials go nowhere else. */
function checkOverride(target: Target, override: string, allowPrivateEgress: boolean): void {
  const url = parseBaseUrlOverride(override);
  assertBaseUrlOverrideAllowed(url, allowPrivateEgress);
  // Nothing secret travels (auth mode NONE, Nango's `unauthenticated`, has no base URL at all):
  // the egress guard is the only rule.
  if (target.connection.credentials.type === 'NONE' && target.integration.credentials === null) return;
  // Without a base URL of its own, only the catalog's allowed_hosts can admit the override.
  assertOverrideOnProviderHosts(target.provider, target.values, prepared(target).baseUrl, url);
}

// ---------------------------------------------------------------- one attempt

/** The attempt's URL and headers (into `state`), checked by the egress guard. Returns its pace key. */
function buildAttempt(deps: SendDeps, state: CallState, plan: CallPlan, target: Target): string {
  const { baseUrl, providerParts, paceKey } = prepared(target);
  const built = buildRequest({
    resolvedBase: baseUrl,
    providerParts,
    provider: target.provider,
    values: target.values,
    authorization: target.authorization,
    endpoint: state.call.endpoint,
    baseUrlOverride: plan.override,
    callerHeaders: state.call.headers,
  });
  state.url = built.url;
  state.requestHeaders = built.headers;
  assertHostAllowed(built.url.hostname, deps.allowPrivateEgress);
  // Pacing is per (connection, host): an override's 429 says nothing of the provider's quota.
  return plan.override === undefined && paceKey !== undefined ? paceKey : paceKeyOf(target.key, built.url.hostname);
}

function startAttempt(deps: SendDeps, state: CallState, attempt: number, waitedMs: number): AttemptRecord {
  state.attemptStartedAt = deps.now();
  const record: AttemptRecord = { attempt, status: null, error: null, durationMs: 0, waitedMs };
  state.attempts.push(record);
  return record;
}

function dispatch(deps: SendDeps, state: CallState): Promise<UpstreamResponse> {
  const url = state.url as UpstreamUrl;
  const method = state.method;
  return requestUpstream(deps.dispatcher, {
    origin: url.origin,
    path: url.path,
    method: method as Dispatcher.HttpMethod,
    headers: state.requestHeaders,
    body: method === 'GET' || method === 'HEAD' ? undefined : state.call.body,
    signal: state.call.signal,
    headersTimeout: deps.headersTimeoutMs,
    bodyTimeout: deps.bodyTimeoutMs,
  });
}

const STOP: RetryDecision = { action: 'stop' };
const REFRESH = { action: 'refresh' } as const;

/** No answer: waits and returns the wait when the policy retries, else throws. */
async function afterNetworkError(deps: SendDeps, state: CallState, plan: CallPlan, record: AttemptRecord, error: unknown): Promise<number> {
  record.durationMs = deps.now() - state.attemptStartedAt;
  const signal = state.call.signal;
  if (signal?.aborted) throw signal.reason ?? error;
  const code = networkCode(error);
  record.error = code;
  if (code === 'EGRESS_DENIED') throw new PatchbayError('egress_denied', { message: `Calls to ${(state.url as UpstreamUrl).hostname} are not allowed.` });
  const decision = plan.replayable ? decideRetry({ kind: 'network', code }, record.attempt, plan, deps.now(), deps.random) : STOP;
  if (decision.action !== 'retry') {
    throw new PatchbayError('upstream_network_error', {
      message: `The call to the provider failed: ${code}`,
      fields: { networkCode: code, method: state.method },
      cause: error,
    });
  }
  await sleep(decision.waitMs, signal);
  return decision.waitMs;
}

/** An answer: recorded, shown to the pacer, then refresh (a first 401), retry, rate limit or stop (answer it). */
function afterResponse(
  deps: SendDeps,
  state: CallState,
  plan: CallPlan,
  record: AttemptRecord,
  response: UpstreamResponse,
  paceKey: string,
  target: Target,
  mayRefresh: boolean,
): RetryDecision | typeof REFRESH {
  const status = response.statusCode;
  record.status = status;
  record.durationMs = deps.now() - state.attemptStartedAt;
  deps.pacer.observe(paceKey, status, response.headers, target.provider.proxy.retry);
  if (status === 401 && mayRefresh && plan.replayable && deps.targets.canRefresh(target)) return REFRESH;
  if (!plan.replayable) return STOP;
  return decideRetry({ kind: 'response', status, headers: response.headers }, record.attempt, plan, deps.now(), deps.random);
}

/** Waits a retry's wait and returns it; a rate limit asking more than the maximum wait fails. */
async function waitToRetry(deps: SendDeps, call: ProxyCall, decision: Exclude<RetryDecision, { action: 'stop' }>): Promise<number> {
  if (decision.action === 'rate_limited') {
    throw new PatchbayError('rate_limited', {
      message: `The provider asked to wait ${decision.retryAfterMs} ms, more than the configured maximum of ${deps.maxWaitMs} ms.`,
      fields: { retry_after_ms: decision.retryAfterMs },
    });
  }
  await sleep(decision.waitMs, call.signal);
  return decision.waitMs;
}

// ---------------------------------------------------------------- the answer and the log

/** The final answer, streamed back (decompressed when asked); the slot and the log wait until its body is done. */
function answer(deps: SendDeps, state: CallState, plan: CallPlan, response: UpstreamResponse, slot: Slot): ProxyResult {
  const status = response.statusCode;
  const responseHeaders = response.headers;
  const encoding = plan.decompress ? headerValue(responseHeaders, 'content-encoding')?.trim().toLowerCase() : undefined;
  const decoder = encoding !== undefined ? DECODERS.get(encoding) : undefined;
  const done = (error: Error | null) => {
    slot.release();
    writeLog(deps, state, status, error ? { code: 'upstream_body_error', message: error.message } : null, responseHeaders);
  };
  let source: BodySource;
  // An answer without a body has nothing to decode (zlib fails on an empty stream); its headers
  // are still those of the decoded representation.
  if (decoder === undefined || isBodiless(state.method, status, responseHeaders)) {
    response.body.onDone(done);
    source = response.body;
  } else {
    const body = decoded(response.body.toReadable(), decoder);
    // Until its taker comes, nothing else listens: a failure in that gap must not be an
    // unhandled 'error' event. The error stays in `body.errored` for the close listener.
    body.on('error', ignoreError);
    // The decoded stream is done when it closes: after its end, a failure (a body that does not
    // decompress) or its taker's destroy.
    body.once('close', () => done(body.errored ?? (body.readableEnded ? null : new Error(NOT_READ))));
    source = new StreamSource(body);
  }
  return new Answer(status, cleanResponseHeaders(responseHeaders, decoder !== undefined, status), source, state.attempts, state.logId);
}

/** A ProxyResult whose body stream is made only when read (the /proxy route takes `source`). */
class Answer implements ProxyResult {
  private stream: Readable | undefined;

  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[]>,
    readonly source: BodySource,
    readonly attempts: AttemptRecord[],
    readonly logId: string,
  ) {}

  get body(): Readable {
    return (this.stream ??= this.source.toReadable());
  }
}

function isBodiless(method: string, status: number, headers: UpstreamHeaders): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || headerValue(headers, 'content-length')?.trim() === '0';
}

/** What the log says of a call that failed before its answer: its own code, else aborted, database or internal. */
function failureOf(error: unknown, call: ProxyCall): { code: string; message: string } {
  if (isPatchbayError(error)) return { code: error.code, message: error.message };
  if (call.signal?.aborted) return { code: 'aborted', message: String((error as Error)?.message ?? error) };
  if (isConnectionError(error)) return { code: 'database_unavailable', message: 'The database could not be reached.' };
  return { code: 'internal_error', message: String((error as Error)?.message ?? error) };
}

function writeLog(deps: SendDeps, state: CallState, status: number | null, error: { code: string; message: string } | null, responseHeaders: UpstreamHeaders | null): void {
  deps.logs.write(logOperation(state, status, error, responseHeaders, deps.now()));
}

/** The call's one log operation, every text redacted against the connection's secrets. */
function logOperation(state: CallState, status: number | null, error: { code: string; message: string } | null, responseHeaders: UpstreamHeaders | null, endedAt: number): LogOperation {
  const redactor = state.target?.redactor ?? NO_SECRETS;
  const failed = error !== null || status === null || status >= 400;
  return {
    id: state.logId,
    parentId: state.call.logParentId ?? null,
    type: 'proxy',
    action: 'call',
    state: failed ? 'failed' : 'success',
    level: error !== null || (status !== null && status >= 500) ? 'error' : status !== null && status >= 400 ? 'warn' : 'info',
    integrationKey: state.call.providerConfigKey,
    connectionId: state.call.connectionId,
    method: state.method,
    url: redactor.text(state.url ? state.url.href : state.call.endpoint),
    status,
    error: error === null ? null : { code: error.code, message: redactor.text(error.message) },
    attempts: state.attempts,
    // Headers are kept for failed calls, where they explain what happened; a success row stays
    // small, because a busy proxy writes thousands of them a second.
    request: failed ? { headers: redactor.headers(state.requestHeaders) } : null,
    response: failed && responseHeaders !== null ? { headers: redactor.headers(responseHeaders) } : null,
    messages: [],
    startedAt: new Date(state.startedAt),
    endedAt: new Date(endedAt),
    durationMs: endedAt - state.startedAt,
  };
}
