// Decides whether an attempt is retried and after how long. Pure: no timers, no I/O; the
// clock and the jitter source are arguments, so every branch is table-testable. The backoff
// formula and the Retry-After reading are backoff.ts's, shared with webhooks and the runner.
import type { ProviderRetry } from '../providers/catalog.js';
import { backoffMs, parseRetryAfter, type RetryAfterOptions } from './backoff.js';
import { headerValue } from './headers.js';

export type AttemptOutcome =
  | { kind: 'response'; status: number; headers: Record<string, string | string[] | undefined> }
  | { kind: 'network'; code: string };

export interface RetrySettings {
  /** Extra attempts the caller allowed for 5xx, network errors and `retryOn` statuses. */
  retries: number;
  retryOn: readonly number[];
  provider: ProviderRetry;
  /** No single wait may exceed this; a rate limit asking for more fails with `rate_limited`. */
  maxWaitMs: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Attempts granted to rate-limited (429) responses even when `retries` is 0. */
  rateLimitRetries: number;
}

export type RetryDecision =
  | { action: 'stop' }
  | { action: 'retry'; waitMs: number; reason: string }
  | { action: 'rate_limited'; retryAfterMs: number };

/** Network failures worth another attempt: the request may never have reached the provider. */
const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_CLOSED',
]);

export function isRetryableNetworkCode(code: string): boolean {
  return RETRYABLE_NETWORK_CODES.has(code);
}

/** `403`, `5xx` or `500-502`, as in the catalog's `proxy.retry.error_code`. */
export function matchesStatusPattern(status: number, pattern: string): boolean {
  const text = pattern.trim().toLowerCase();
  if (/^\dxx$/.test(text)) return Math.floor(status / 100) === Number(text[0]);
  const range = /^(\d{3})\s*-\s*(\d{3})$/.exec(text);
  if (range) return status >= Number(range[1]) && status <= Number(range[2]);
  return Number(text) === status;
}

/** The backoff after attempt `attempt` (0 = the first), with equal jitter (backoff.ts). */
function backoffAfter(attempt: number, settings: RetrySettings, random: () => number): number {
  return backoffMs(attempt + 1, { baseMs: settings.baseBackoffMs, maxMs: settings.maxBackoffMs, jitter: random });
}

/** Seconds ("30", "1.5") or a Go-style duration ("1m30s", "250ms") as OpenAI sends: ms or undefined. */
export function parseDelaySeconds(value: string): number | undefined {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const match = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(text);
  if (match && text !== '') {
    const [, h, m, s, ms] = match;
    return (Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0)) * 1000 + Number(ms ?? 0);
  }
  return undefined;
}

/**
 * A reset moment: epoch seconds, epoch milliseconds, an HTTP date, or (small numbers) seconds
 * from now, as some APIs send in `x-ratelimit-reset`. Returns ms to wait, or undefined if the
 * value is garbage or in the past.
 */
export function parseResetAt(value: string, nowMs: number): number | undefined {
  const text = value.trim();
  let atMs: number;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const number = Number(text);
    if (number < 1e9) return Math.ceil(number * 1000); // before 2001 as epoch: a relative value
    atMs = number > 1e12 ? number : number * 1000;
  } else {
    atMs = Date.parse(text);
    if (Number.isNaN(atMs)) return undefined;
  }
  const wait = Math.ceil(atMs - nowMs);
  return wait >= 0 ? wait : undefined;
}

/** A Retry-After date already past (the clocks disagree) says nothing: the backoff applies. */
const PAST_DATE_IGNORED: RetryAfterOptions = { past: 'ignore' };

/** The longest wait any rate-limit header asks for, or undefined when none says anything valid. */
export function headerWaitMs(
  headers: Record<string, string | string[] | undefined>,
  provider: ProviderRetry,
  nowMs: number,
): number | undefined {
  let longest: number | undefined;
  const consider = (wait: number | undefined) => {
    if (wait !== undefined && Number.isFinite(wait) && wait >= 0 && (longest === undefined || wait > longest)) longest = wait;
  };
  // Retry-After (RFC 9110 §10.2.3), else the fractional seconds or durations some providers send.
  const retryAfter = headerValue(headers, 'retry-after');
  if (retryAfter !== undefined) consider(parseRetryAfter(retryAfter, nowMs, PAST_DATE_IGNORED) ?? parseDelaySeconds(retryAfter));
  for (const name of provider.after) {
    const value = headerValue(headers, name);
    if (value !== undefined) consider(parseDelaySeconds(value));
  }
  for (const name of provider.at) {
    const value = headerValue(headers, name);
    if (value !== undefined) consider(parseResetAt(value, nowMs));
  }
  return longest;
}

export function isRateLimited(status: number, headers: Record<string, string | string[] | undefined>, provider: ProviderRetry): boolean {
  if (status === 429) return true;
  // GitHub answers 403 (not 429) when the quota is spent; its remaining header says so.
  return status >= 400 && provider.remaining !== undefined && headerValue(headers, provider.remaining)?.trim() === '0';
}

/**
 * @param attempt index of the attempt that just ended (0 = the first)
 */
export function decideRetry(
  outcome: AttemptOutcome,
  attempt: number,
  settings: RetrySettings,
  nowMs: number,
  random: () => number = Math.random,
): RetryDecision {
  if (outcome.kind === 'network') {
    if (attempt >= settings.retries || !isRetryableNetworkCode(outcome.code)) return { action: 'stop' };
    return { action: 'retry', waitMs: backoffAfter(attempt, settings, random), reason: outcome.code };
  }
  const { status, headers } = outcome;
  if (isRateLimited(status, headers, settings.provider)) {
    if (attempt >= Math.max(settings.retries, settings.rateLimitRetries)) return { action: 'stop' };
    const wait = headerWaitMs(headers, settings.provider, nowMs) ?? backoffAfter(attempt, settings, random);
    if (wait > settings.maxWaitMs) return { action: 'rate_limited', retryAfterMs: wait };
    return { action: 'retry', waitMs: wait, reason: `status ${status} (rate limited)` };
  }
  if (attempt >= settings.retries) return { action: 'stop' };
  const codes = settings.provider.errorCodes;
  const retryable =
    (codes === undefined ? status >= 500 : codes.some((pattern) => matchesStatusPattern(status, pattern))) ||
    settings.retryOn.includes(status);
  if (!retryable) return { action: 'stop' };
  const wait = headerWaitMs(headers, settings.provider, nowMs) ?? backoffAfter(attempt, settings, random);
  // A 5xx asking for a wait beyond the bound is answered as is: the caller sees the real error.
  if (wait > settings.maxWaitMs) return { action: 'stop' };
  return { action: 'retry', waitMs: wait, reason: `status ${status}` };
}
