// Decides what happens after one webhook attempt: done, retry after how long, or give up.
// Pure: no timers, no I/O; the attempt number and a random source come in.

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
  const retryAfterMs = outcome.kind === 'response' ? parseRetryAfterMs(outcome.retryAfter, nowMs) : undefined;
  if (retryAfterMs !== undefined) return { action: 'retry', waitMs: Math.min(retryAfterMs, policy.maxWaitMs), reason };
  // Equal jitter: half the backoff fixed, half random, so deliveries that failed together
  // (an app restarting) do not all come back at the same moment.
  const backoffMs = Math.min(policy.baseBackoffMs * 2 ** (attempt - 1), policy.maxWaitMs);
  return { action: 'retry', waitMs: Math.round(backoffMs / 2 + random() * (backoffMs / 2)), reason };
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); garbage or negative → undefined. */
export function parseRetryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at) || !/[a-z]/i.test(trimmed)) return undefined;
  return Math.max(0, at - nowMs);
}
