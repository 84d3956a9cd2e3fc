import { describe, expect, it } from 'vitest';
import { decideDelivery, type AttemptOutcome } from '../../../../server/webhooks/retry-policy.js';

const policy = { maxAttempts: 6, baseBackoffMs: 60_000, maxWaitMs: 30 * 60_000 };
const NOW = Date.parse('2025-01-01T00:00:00Z');
const status = (code: number, retryAfter?: string): AttemptOutcome => ({ kind: 'response', status: code, retryAfter });

describe('decideDelivery', () => {
  it.each([200, 201, 204, 299])('is done on %i', (code) => {
    expect(decideDelivery(status(code), 1, policy, NOW)).toEqual({ action: 'done' });
  });

  it.each([500, 502, 503, 504, 429])('retries %i', (code) => {
    expect(decideDelivery(status(code), 1, policy, NOW).action).toBe('retry');
  });

  it('retries network errors', () => {
    expect(decideDelivery({ kind: 'network', code: 'ECONNRESET' }, 2, policy, NOW)).toMatchObject({ action: 'retry', reason: 'network_error:ECONNRESET' });
  });

  it.each([400, 401, 403, 404, 410, 422, 301, 302, 307])('never retries %i (4xx other than 429, and redirects)', (code) => {
    expect(decideDelivery(status(code), 1, policy, NOW)).toEqual({ action: 'give_up', reason: `status_${code}` });
  });

  it('gives up after the last attempt', () => {
    expect(decideDelivery(status(503), 6, policy, NOW)).toEqual({ action: 'give_up', reason: 'status_503, after 6 attempts' });
  });

  it('doubles the backoff from the base, with at most half of it as jitter', () => {
    const waits = [1, 2, 3, 4, 5].map((attempt) => [
      decideDelivery(status(500), attempt, policy, NOW, () => 0),
      decideDelivery(status(500), attempt, policy, NOW, () => 0.999_999),
    ]);
    expect(waits.map(([low]) => (low as { waitMs: number }).waitMs)).toEqual([30_000, 60_000, 120_000, 240_000, 480_000]);
    expect(waits.map(([, high]) => Math.round((high as { waitMs: number }).waitMs / 1000))).toEqual([60, 120, 240, 480, 960]);
  });

  it('caps the backoff at maxWaitMs', () => {
    const decision = decideDelivery(status(500), 12, { ...policy, maxAttempts: 20 }, NOW, () => 0.999_999);
    expect(decision).toMatchObject({ action: 'retry' });
    expect((decision as { waitMs: number }).waitMs).toBeLessThanOrEqual(policy.maxWaitMs);
  });

  it('waits out Retry-After in seconds or as a date, capped at maxWaitMs', () => {
    expect(decideDelivery(status(429, '2'), 1, policy, NOW)).toMatchObject({ action: 'retry', waitMs: 2000 });
    expect(decideDelivery(status(503, new Date(NOW + 5000).toUTCString()), 1, policy, NOW)).toMatchObject({ action: 'retry', waitMs: 5000 });
    expect(decideDelivery(status(429, '86400'), 1, policy, NOW)).toMatchObject({ action: 'retry', waitMs: policy.maxWaitMs });
  });

  it('waits no time on a Retry-After date already past (RFC 9110: go ahead)', () => {
    expect(decideDelivery(status(503, new Date(NOW - 60_000).toUTCString()), 1, policy, NOW)).toMatchObject({ action: 'retry', waitMs: 0 });
  });

  it('falls back to backoff on a garbage or negative Retry-After', () => {
    for (const value of ['soon', '-5', '1.5', '']) {
      const decision = decideDelivery(status(429, value), 1, policy, NOW, () => 0);
      expect(decision, value).toMatchObject({ action: 'retry', waitMs: 30_000 });
    }
  });
});
