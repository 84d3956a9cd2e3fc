// The one backoff formula and the one Retry-After parser, for every retry Patchbay makes: proxy
// attempts (retry-policy.ts), webhook deliveries (server/webhooks/retry-policy.ts) and function
// runs (runner/worker.ts). Each caller keeps its own constants. Pure: the clock and the random
// source are arguments.

export interface BackoffOptions {
  /** The wait after the first failed attempt; each later attempt doubles it. */
  baseMs: number;
  /** No wait is longer (Infinity: no cap). */
  maxMs: number;
  /**
   * A random source in [0, 1) for "equal jitter": half the wait fixed, half random, so that calls
   * that failed together do not all come back at the same moment and no wait collapses to 0.
   * Without it the wait is the whole step.
   */
  jitter?: (() => number) | undefined;
}

/**
 * How long to wait after the `attempt`-th failed attempt (counted from 1): baseMs, 2 × baseMs,
 * 4 × baseMs… never more than maxMs. A whole number of ms in [0, maxMs]; an attempt below 1 (or
 * NaN) counts as the first, and a jitter source outside [0, 1] is held to it.
 */
export function backoffMs(attempt: number, options: BackoffOptions): number {
  const step = Math.min(options.maxMs, options.baseMs * 2 ** ((attempt >= 1 ? attempt : 1) - 1));
  if (!(step > 0)) return 0;
  const jitter = options.jitter;
  if (jitter === undefined) return Math.round(step);
  const random = jitter();
  const share = random > 0 ? (random < 1 ? random : 1) : 0;
  return Math.round(step / 2 + (share * step) / 2);
}

/**
 * The longest wait a Retry-After is read as: far beyond every cap its callers apply (the proxy's
 * longest wait and pacing hold are at most a day, a webhook's 30 min), so reading a longer one as
 * this changes no decision; it only keeps an absurd value ("Retry-After: 1e400 seconds") finite.
 */
export const MAX_RETRY_AFTER_MS = 365 * 24 * 3600_000;

export interface RetryAfterOptions {
  /**
   * What a date already past means: `'now'` (the default, RFC 9110: go ahead at once) gives 0;
   * `'ignore'` gives undefined, so that the caller falls back to its backoff (the clocks may disagree).
   */
  past?: 'now' | 'ignore';
}

const DELAY_SECONDS = /^\d+$/;
const HAS_LETTER = /[a-z]/i;

/**
 * Retry-After (RFC 9110 §10.2.3) as ms to wait from `nowMs`: delay-seconds ("120") or an
 * HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", and the obsolete RFC 850 and asctime forms).
 * undefined for anything else: empty, negative, fractional or exponent numbers, words, dates
 * without a day or month name. Bounded: a whole number of ms in [0, MAX_RETRY_AFTER_MS].
 */
export function parseRetryAfter(value: string | undefined, nowMs: number, options?: RetryAfterOptions): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (DELAY_SECONDS.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  // Every HTTP-date names its day or month; Date.parse alone also takes "1.5" or "-5" as dates.
  if (!HAS_LETTER.test(text)) return undefined;
  const atMs = Date.parse(text);
  if (Number.isNaN(atMs)) return undefined;
  const waitMs = Math.ceil(atMs - nowMs);
  if (waitMs < 0) return options?.past === 'ignore' ? undefined : 0;
  return Math.min(waitMs, MAX_RETRY_AFTER_MS);
}
