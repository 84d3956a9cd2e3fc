// Decides what happens after one webhook attempt: done, retry after how long, or give up.
// Pure: no timers, no I/O; the attempt number and a random source come in.
import { backoffMs, parseRetryAfter } from '../proxy/backoff.js';

export type AttemptOutcome =
  | { kind: 'response'; status: number; retryAfter?: string | undefined }
  | { kind: 'network'; code: string };

export type DeliveryDecision =
  | { action: 'done' }
  | { action: 'retry'; waitMs: number; reason: string }
  | { action: 'give_up'; reason: string };

export interface DeliveryPolicy {
  maxAttempts: number;
  baseBackoffMs: number;
  /** Caps the backoff and any Retry-After: a receiver asking for a day waits this long. */
  maxWaitMs: number;
}

// 30 min: the whole default schedule (1+2+4+8+16 min) fits under it, and a receiver's
// "Retry-After: 86400" does not park a webhook for a day.
export const MAX_RETRY_WAIT_MS = 30 * 60_000;

/** `attempt` is the number of the attempt that just ended, from 1; `random` returns [0, 1). */
export function decideDelivery(outcome: AttemptOutcome, attempt: number, policy: DeliveryPolicy, nowMs: number, random: () => number = Math.random): DeliveryDecision {
  const reason = outcome.kind === 'network' ? `network_error:${outcome.code}` : `status_${outcome.status}`;
  if (outcome.kind === 'response') {
    if (outcome.status >= 200 && outcome.status < 300) return { action: 'done' };
    // 4xx (the app refused the payload) and 3xx (redirects are never followed) will not change
    // on a retry; 429 and 5xx are the receiver asking for time.
    if (outcome.status !== 429 && outcome.status < 500) return { action: 'give_up', reason };
  }
  if (attempt >= policy.maxAttempts) return { action: 'give_up', reason: `${reason}, after ${attempt} attempts` };
  // Retry-After: delay-seconds or an HTTP-date (a date already past: at once).
  const retryAfterMs = outcome.kind === 'response' ? parseRetryAfter(outcome.retryAfter, nowMs) : undefined;
  if (retryAfterMs !== undefined) return { action: 'retry', waitMs: Math.min(retryAfterMs, policy.maxWaitMs), reason };
  // Equal jitter: half the backoff fixed, half random, so deliveries that failed together
  // (an app restarting) do not all come back at the same moment.
  return { action: 'retry', waitMs: backoffMs(attempt, { baseMs: policy.baseBackoffMs, maxMs: policy.maxWaitMs, jitter: random }), reason };
}
