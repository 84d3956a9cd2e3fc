// The attempt loop: pace → send → decide → (wait) → again. Owns the sockets and timers of the
// engine; every decision it takes comes from retry-policy.ts and pacer.ts.
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { Dispatcher } from 'undici';
import { isPatchbayError, PatchbayError } from '../errors.js';
import { isConnectionError } from '../store/db.js';
import { createRedactor } from '../logs/redact.js';
import { newLogId, type LogWriter } from '../logs/writer.js';
import { buildRequest, renderProviderParts, resolveBaseUrl, type UpstreamUrl } from './build-request.js';
import { assertBaseUrlOverrideAllowed, assertHostAllowed } from './egress.js';
import { assertOverrideOnProviderHosts, parseBaseUrlOverride } from './provider-hosts.js';
import { cleanResponseHeaders, headerValue } from './headers.js';
import { paceKeyOf, type Pacer } from './pacer.js';
import { decideRetry, type RetrySettings } from './retry-policy.js';
import { sleep } from './sleep.js';
import type { Target, TargetResolver } from './target.js';
import type { AttemptRecord, ProxyCall, ProxyResult } from './types.js';

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

const DECODERS: Record<string, () => NodeJS.ReadWriteStream> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

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

/** An override must be an http(s) URL, public, and one of the provider's hosts: credentials go nowhere else. */
function checkOverride(target: Target, override: string, allowPrivateEgress: boolean): void {
  const url = parseBaseUrlOverride(override);
  assertBaseUrlOverrideAllowed(url, allowPrivateEgress);
  // Nothing secret travels (auth mode NONE, Nango's `unauthenticated`, has no base URL at all):
  // the egress guard is the only rule.
  if (target.connection.credentials.type === 'NONE' && target.integration.credentials === null) return;
  let base: URL | undefined;
  try {
    base = target.baseUrl ??= resolveBaseUrl(target.provider, target.values, undefined);
  } catch {
    base = undefined; // no base URL of its own: only the catalog's allowed_hosts can admit the override
  }
  assertOverrideOnProviderHosts(target.provider, target.values, base, url);
}

export async function sendCall(deps: SendDeps, call: ProxyCall): Promise<ProxyResult> {
  const startedAt = deps.now();
  const logId = newLogId();
  const attempts: AttemptRecord[] = [];
  const method = call.method.toUpperCase();
  let target: Target | undefined;
  let url: UpstreamUrl | undefined;
  let requestHeaders: Record<string, string> = {};

  const writeLog = (status: number | null, error: { code: string; message: string } | null, responseHeaders: Record<string, string | string[] | undefined> | null) => {
    const redactor = target?.redactor ?? NO_SECRETS;
    const endedAt = deps.now();
    const failed = error !== null || status === null || status >= 400;
    deps.logs.write({
      id: logId,
      parentId: call.logParentId ?? null,
      type: 'proxy',
      action: 'call',
      state: failed ? 'failed' : 'success',
      level: error !== null || (status !== null && status >= 500) ? 'error' : status !== null && status >= 400 ? 'warn' : 'info',
      integrationKey: call.providerConfigKey,
      connectionId: call.connectionId,
      method,
      url: url ? redactor.text(url.href) : redactor.text(call.endpoint),
      status,
      error: error === null ? null : { code: error.code, message: redactor.text(error.message) },
      attempts,
      // Headers are kept for failed calls, where they explain what happened; a success row stays
      // small, because a busy proxy writes thousands of them a second.
      request: failed ? { headers: redactor.headers(requestHeaders) } : null,
      response: failed && responseHeaders !== null ? { headers: redactor.headers(responseHeaders) } : null,
      messages: [],
      startedAt: new Date(startedAt),
      endedAt: new Date(endedAt),
      durationMs: endedAt - startedAt,
    });
  };

  try {
    const resolved = deps.targets.resolve(call.providerConfigKey, call.connectionId);
    target = resolved instanceof Promise ? await resolved : resolved;
    const override = call.options.baseUrlOverride !== undefined && call.options.baseUrlOverride !== '' ? call.options.baseUrlOverride : undefined;
    if (override !== undefined) checkOverride(target, override, deps.allowPrivateEgress);
    const settings: RetrySettings = {
      retries: call.options.retries,
      retryOn: call.options.retryOn,
      provider: target.provider.proxy.retry,
      maxWaitMs: deps.maxWaitMs,
      baseBackoffMs: deps.baseBackoffMs,
      maxBackoffMs: deps.maxBackoffMs,
      rateLimitRetries: deps.rateLimitRetries,
    };
    const replayable = call.body === undefined || Buffer.isBuffer(call.body);
    const decompress = call.options.decompress || target.provider.proxy.decompress;
    let refreshedAfter401 = false;
    let waitedMs = 0;

    for (let attempt = 0; ; attempt++) {
      if (!override && target.baseUrl === undefined) target.baseUrl = resolveBaseUrl(target.provider, target.values, undefined);
      target.providerParts ??= renderProviderParts(target.provider, target.values);
      const built = buildRequest({
        resolvedBase: override ? undefined : target.baseUrl,
        providerParts: target.providerParts,
        provider: target.provider,
        values: target.values,
        authorization: target.authorization,
        endpoint: call.endpoint,
        baseUrlOverride: override,
        callerHeaders: call.headers,
      });
      url = built.url;
      requestHeaders = built.headers;
      assertHostAllowed(built.url.hostname, deps.allowPrivateEgress);

      // Pacing is per (connection, host): an override's 429 says nothing of the provider's quota.
      const paceKey = override === undefined ? (target.paceKey ??= paceKeyOf(target.key, built.url.hostname)) : paceKeyOf(target.key, built.url.hostname);
      const acquired = deps.pacer.acquire(
        paceKey,
        { concurrency: target.provider.proxy.maxConcurrency ?? deps.defaultConcurrency, maxWaitMs: deps.maxWaitMs },
        call.signal,
      );
      const slot = acquired instanceof Promise ? await acquired : acquired;
      const attemptStarted = deps.now();
      const record: AttemptRecord = { attempt, status: null, error: null, durationMs: 0, waitedMs: waitedMs + slot.waitedMs };
      attempts.push(record);
      let response: Dispatcher.ResponseData;
      try {
        response = await deps.dispatcher.request({
          origin: built.url.origin,
          path: built.url.path,
          method: method as Dispatcher.HttpMethod,
          headers: built.headers,
          body: method === 'GET' || method === 'HEAD' ? undefined : call.body,
          signal: call.signal as Dispatcher.RequestOptions['signal'],
          headersTimeout: deps.headersTimeoutMs,
          bodyTimeout: deps.bodyTimeoutMs,
        });
      } catch (error) {
        slot.release();
        record.durationMs = deps.now() - attemptStarted;
        if (call.signal?.aborted) throw call.signal.reason ?? error;
        const code = networkCode(error);
        record.error = code;
        if (code === 'EGRESS_DENIED') throw new PatchbayError('egress_denied', { message: `Calls to ${built.url.hostname} are not allowed.` });
        const decision = replayable ? decideRetry({ kind: 'network', code }, attempt, settings, deps.now(), deps.random) : { action: 'stop' as const };
        if (decision.action === 'retry') {
          waitedMs = decision.waitMs;
          await sleep(decision.waitMs, call.signal);
          continue;
        }
        throw new PatchbayError('upstream_network_error', {
          message: `The call to the provider failed: ${code}`,
          fields: { networkCode: code, method },
          cause: error,
        });
      }
      record.status = response.statusCode;
      record.durationMs = deps.now() - attemptStarted;
      deps.pacer.observe(paceKey, response.statusCode, response.headers, target.provider.proxy.retry);

      // A 401 on a token we believed valid: one forced refresh and one more try (contract §2).
      if (response.statusCode === 401 && !refreshedAfter401 && replayable && deps.targets.canRefresh(target)) {
        refreshedAfter401 = true;
        await response.body.dump();
        slot.release();
        target = await deps.targets.forceRefresh(target);
        waitedMs = 0;
        continue;
      }

      const decision = replayable
        ? decideRetry({ kind: 'response', status: response.statusCode, headers: response.headers }, attempt, settings, deps.now(), deps.random)
        : ({ action: 'stop' } as const);
      if (decision.action === 'retry') {
        await response.body.dump();
        slot.release();
        waitedMs = decision.waitMs;
        await sleep(decision.waitMs, call.signal);
        continue;
      }
      if (decision.action === 'rate_limited') {
        await response.body.dump();
        slot.release();
        throw new PatchbayError('rate_limited', {
          message: `The provider asked to wait ${decision.retryAfterMs} ms, more than the configured maximum of ${deps.maxWaitMs} ms.`,
          fields: { retry_after_ms: decision.retryAfterMs },
        });
      }

      // Final answer: stream it back; the slot and the log wait until the body is done.
      const status = response.statusCode;
      const encoding = decompress ? headerValue(response.headers, 'content-encoding')?.trim().toLowerCase() : undefined;
      const decoder = encoding !== undefined ? DECODERS[encoding] : undefined;
      // An answer without a body has nothing to decode (zlib fails on an empty stream); its
      // headers are still those of the decoded representation.
      const bodiless =
        decoder !== undefined && (method === 'HEAD' || status === 204 || status === 304 || headerValue(response.headers, 'content-length')?.trim() === '0');
      const body = decoder === undefined || bodiless ? response.body : decoded(response.body, decoder);
      const responseHeaders = response.headers;
      // Until the route hands the body to the reply, nothing else listens: an upstream failure in
      // that gap must not be an unhandled 'error' event. The error stays in `body.errored`, where
      // the reply's own stream handling and the listener below find it.
      body.on('error', ignoreError);
      // One 'close' listener rather than finished(): the body stream destroys itself once it
      // ended, failed or was abandoned, and says which.
      body.once('close', () => {
        slot.release();
        const error = body.errored ?? (body.readableEnded ? null : new Error('the response body was not read to its end'));
        writeLog(status, error ? { code: 'upstream_body_error', message: error.message } : null, responseHeaders);
      });
      return {
        status,
        headers: cleanResponseHeaders(response.headers, decoder !== undefined, status),
        body,
        attempts,
        logId,
      };
    }
  } catch (error) {
    const wire = isPatchbayError(error)
      ? { code: error.code, message: error.message }
      : call.signal?.aborted
        ? { code: 'aborted', message: String((error as Error)?.message ?? error) }
        : isConnectionError(error)
          ? { code: 'database_unavailable', message: 'The database could not be reached.' }
          : { code: 'internal_error', message: String((error as Error)?.message ?? error) };
    writeLog(null, wire, null);
    throw error;
  }
}

