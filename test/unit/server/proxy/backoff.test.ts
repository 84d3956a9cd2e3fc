import { describe, expect, it } from 'vitest';
import { backoffMs, MAX_RETRY_AFTER_MS, parseRetryAfter } from '../../../../server/proxy/backoff.js';

/** 2024-01-01T00:00:00Z. */
const NOW = 1_704_067_200_000;
const at = (offsetMs: number) => new Date(NOW + offsetMs).toUTCString();

describe('backoffMs', () => {
  const bounds = { baseMs: 100, maxMs: 10_000 };

  it.each([
    [1, 0, 50],
    [1, 1, 100],
    [2, 0, 100],
    [4, 0, 400],
    [4, 1, 800],
    [31, 0, 5000],
    [31, 1, 10_000],
  ])('attempt %i with jitter %s waits %i ms', (attempt, random, expected) => {
    expect(backoffMs(attempt, { ...bounds, jitter: () => random })).toBe(expected);
  });

  it('doubles from baseMs without jitter, up to maxMs', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffMs(attempt, bounds))).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000]);
    expect(backoffMs(4, { baseMs: 2000, maxMs: Infinity })).toBe(16_000);
  });

  it('never waits less than half the step with jitter, so waits never collapse to 0', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      expect(backoffMs(attempt, { ...bounds, jitter: () => 0 })).toBeGreaterThanOrEqual(Math.min(10_000, 100 * 2 ** (attempt - 1)) / 2);
    }
  });

  it('stays a whole number of ms in [0, maxMs] on garbage', () => {
    const cases: [number, { baseMs: number; maxMs: number; jitter?: () => number }][] = [
      [0, bounds],
      [-3, bounds],
      [Number.NaN, bounds],
      [Number.POSITIVE_INFINITY, bounds],
      [1e6, bounds],
      [2.5, bounds],
      [3, { ...bounds, jitter: () => 7 }],
      [3, { ...bounds, jitter: () => -1 }],
      [3, { ...bounds, jitter: () => Number.NaN }],
      [3, { baseMs: -100, maxMs: 10_000 }],
      [3, { baseMs: Number.NaN, maxMs: 10_000 }],
      [3, { baseMs: 100, maxMs: 0 }],
      [3, { baseMs: 0.3, maxMs: 10_000, jitter: () => 0.5 }],
    ];
    for (const [attempt, options] of cases) {
      const wait = backoffMs(attempt, options);
      expect(Number.isInteger(wait), `${attempt} ${JSON.stringify(options)}`).toBe(true);
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThanOrEqual(Math.max(0, options.maxMs));
    }
    expect(backoffMs(0, bounds)).toBe(100); // below 1: the first attempt
    expect(backoffMs(Number.NaN, bounds)).toBe(100);
    expect(backoffMs(Number.POSITIVE_INFINITY, bounds)).toBe(10_000);
  });

  // The three formulas it replaced, kept here to show that every caller waits exactly as before.
  const randoms = [0, 1e-9, 0.1, 0.25, 1 / 3, 0.5, 0.7, 0.999_999, 1 - 2 ** -53];

  it('gives the proxy the waits of its former formula (attempt from 0, equal jitter)', () => {
    const former = (attempt: number, base: number, max: number, random: number) => {
      const exponential = Math.min(max, base * 2 ** attempt);
      return Math.round(exponential / 2 + (random * exponential) / 2);
    };
    const bounds: [number, number][] = [[500, 10_000], [100, 10_000], [7, 1234], [1, 1]];
    for (const [base, max] of bounds) {
      for (let attempt = 0; attempt <= 40; attempt++) {
        for (const random of randoms) {
          expect(backoffMs(attempt + 1, { baseMs: base, maxMs: max, jitter: () => random })).toBe(former(attempt, base, max, random));
        }
      }
    }
  });

  it('gives webhooks the waits of their former formula (attempt from 1, equal jitter, capped at 30 min)', () => {
    const former = (attempt: number, base: number, max: number, random: number) => {
      const backoff = Math.min(base * 2 ** (attempt - 1), max);
      return Math.round(backoff / 2 + random * (backoff / 2));
    };
    for (const base of [10, 60_000, 3_600_000, 12_345]) {
      for (let attempt = 1; attempt <= 20; attempt++) {
        for (const random of randoms) {
          expect(backoffMs(attempt, { baseMs: base, maxMs: 30 * 60_000, jitter: () => random })).toBe(former(attempt, base, 30 * 60_000, random));
        }
      }
    }
  });

  it("gives the runner the waits of its former formula (RETRY_BASE_SECONDS * 2 ** (attempt - 1), in seconds)", () => {
    for (let attempt = 1; attempt <= 40; attempt++) {
      expect(backoffMs(attempt, { baseMs: 2 * 1000, maxMs: Infinity }) / 1000).toBe(2 * 2 ** (attempt - 1));
    }
  });
});

describe('parseRetryAfter', () => {
  it.each([
    ['delay-seconds', '2', 2000],
    ['delay-seconds with spaces', ' 30 ', 30_000],
    ['zero', '0', 0],
    ['leading zeros', '007', 7000],
    ['an IMF-fixdate', at(5000), 5000],
    ['an ISO date', new Date(NOW + 45_000).toISOString(), 45_000],
    ['an RFC 850 date', 'Monday, 01-Jan-24 00:01:00 GMT', 60_000],
    ['a date exactly now', at(0), 0],
    ['a date already past (RFC 9110: go ahead)', at(-60_000), 0],
  ])('reads %s', (_name, value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });

  it.each([
    ['nothing', undefined],
    ['empty', ''],
    ['blank', '   '],
    ['a word', 'soon'],
    ['another word', 'tomorrow'],
    ['a negative number', '-5'],
    ['a fractional number', '1.5'],
    ['an exponent', '1e3'],
    ['a hexadecimal number', '0x10'],
    ['a duration', '1m30s'],
    ['Infinity', 'Infinity'],
    ['NaN', 'NaN'],
    ['a date without a day or month name', '2030-01-01'],
    ['digits and garbage', '12 apples'],
    ['a list', '1, 2'],
  ])('refuses %s', (_name, value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it("with past: 'ignore' gives undefined for a date already past (the caller's backoff applies), 0 for one exactly now", () => {
    expect(parseRetryAfter(at(-60_000), NOW, { past: 'ignore' })).toBeUndefined();
    expect(parseRetryAfter(at(0), NOW, { past: 'ignore' })).toBe(0);
    expect(parseRetryAfter(at(1000), NOW, { past: 'ignore' })).toBe(1000);
    expect(parseRetryAfter('0', NOW, { past: 'ignore' })).toBe(0);
  });

  it('is bounded: never above MAX_RETRY_AFTER_MS, never Infinity or NaN', () => {
    expect(parseRetryAfter('86400', NOW)).toBe(86_400_000);
    expect(parseRetryAfter(String(MAX_RETRY_AFTER_MS / 1000), NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter(String(MAX_RETRY_AFTER_MS / 1000 + 1), NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('9'.repeat(400), NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT', NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(MAX_RETRY_AFTER_MS).toBeGreaterThan(86_400_000); // above the longest pacing hold the config allows
  });

  it('reads what the webhook parser it replaced read, value for value', () => {
    const former = (value: string | undefined, nowMs: number) => {
      if (value === undefined) return undefined;
      const trimmed = value.trim();
      if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
      const parsed = Date.parse(trimmed);
      if (Number.isNaN(parsed) || !/[a-z]/i.test(trimmed)) return undefined;
      return Math.max(0, parsed - nowMs);
    };
    const values = [undefined, '', ' ', '0', '3', ' 3 ', '120', '007', '1.5', '-5', '1e3', 'soon', 'Jan 5', at(5000), at(-5000), at(0), at(1_000_000)];
    values.push(new Date(NOW + 9000).toISOString(), 'Sunday, 06-Nov-94 08:49:37 GMT', 'Sunday, 06-Nov-30 08:49:37 GMT', '2030-01-01', '1m30s');
    for (const value of values) {
      const before = former(value, NOW);
      // The webhook policy caps every wait at 30 min; below that cap the values are the same.
      expect(parseRetryAfter(value, NOW), JSON.stringify(value)).toBe(before === undefined ? undefined : Math.min(before, MAX_RETRY_AFTER_MS));
    }
  });
});
