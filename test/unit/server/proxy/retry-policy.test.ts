import { describe, expect, it } from 'vitest';
import { loadCatalog, type ProviderRetry } from '../../../../server/providers/catalog.js';
import {
  decideRetry,
  headerWaitMs,
  isRateLimited,
  matchesStatusPattern,
  parseDelaySeconds,
  parseResetAt,
  type AttemptOutcome,
  type RetryDecision,
  type RetrySettings,
} from '../../../../server/proxy/retry-policy.js';

const catalog = loadCatalog();

function retryOf(key: string): ProviderRetry {
  const provider = catalog.get(key);
  if (provider === undefined) throw new Error(`provider ${key} is not in the catalog`);
  return provider.proxy.retry;
}

const NO_RULES: ProviderRetry = { at: [], after: [], remaining: undefined, errorCodes: undefined };
const github = retryOf('github');
const openai = retryOf('openai');

/** 2024-01-01T00:00:00Z, a moment whose epoch seconds and ms are easy to write. */
const NOW = 1_704_067_200_000;
const NOW_S = NOW / 1000;

function settings(overrides: Partial<RetrySettings> = {}): RetrySettings {
  return {
    retries: 0,
    retryOn: [],
    provider: NO_RULES,
    maxWaitMs: 60_000,
    baseBackoffMs: 100,
    maxBackoffMs: 10_000,
    rateLimitRetries: 3,
    ...overrides,
  };
}

const response = (status: number, headers: Record<string, string | string[]> = {}): AttemptOutcome => ({ kind: 'response', status, headers });
const network = (code: string): AttemptOutcome => ({ kind: 'network', code });
/** With random() = 0 the first backoff is half of baseBackoffMs: 50 ms. */
const FIRST_BACKOFF = 50;

describe('decideRetry', () => {
  const cases: { name: string; outcome: AttemptOutcome; attempt: number; settings: RetrySettings; expected: RetryDecision }[] = [
    // 429: retried even with retries 0, up to rateLimitRetries
    { name: '429 with retries 0 is retried after a backoff', outcome: response(429), attempt: 0, settings: settings(), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'status 429 (rate limited)' } },
    { name: '429 is retried while attempts < rateLimitRetries', outcome: response(429), attempt: 2, settings: settings(), expected: { action: 'retry', waitMs: 200, reason: 'status 429 (rate limited)' } },
    { name: '429 stops once rateLimitRetries attempts were retried', outcome: response(429), attempt: 3, settings: settings(), expected: { action: 'stop' } },
    { name: '429 gets `retries` attempts when that is more than rateLimitRetries', outcome: response(429), attempt: 4, settings: settings({ retries: 5 }), expected: { action: 'retry', waitMs: 800, reason: 'status 429 (rate limited)' } },
    // Retry-After
    { name: 'Retry-After in seconds', outcome: response(429, { 'retry-after': '2' }), attempt: 0, settings: settings(), expected: { action: 'retry', waitMs: 2000, reason: 'status 429 (rate limited)' } },
    { name: 'Retry-After in fractional seconds', outcome: response(429, { 'retry-after': '1.5' }), attempt: 0, settings: settings(), expected: { action: 'retry', waitMs: 1500, reason: 'status 429 (rate limited)' } },
    { name: 'Retry-After as an HTTP-date', outcome: response(429, { 'retry-after': new Date(NOW + 5000).toUTCString() }), attempt: 0, settings: settings(), expected: { action: 'retry', waitMs: 5000, reason: 'status 429 (rate limited)' } },
    { name: 'Retry-After above maxWaitMs is rate_limited', outcome: response(429, { 'retry-after': '120' }), attempt: 0, settings: settings(), expected: { action: 'rate_limited', retryAfterMs: 120_000 } },
    { name: 'Retry-After HTTP-date above maxWaitMs is rate_limited', outcome: response(429, { 'retry-after': new Date(NOW + 3_600_000).toUTCString() }), attempt: 0, settings: settings(), expected: { action: 'rate_limited', retryAfterMs: 3_600_000 } },
    { name: 'garbage Retry-After falls back to backoff', outcome: response(429, { 'retry-after': 'soon' }), attempt: 0, settings: settings(), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'status 429 (rate limited)' } },
    { name: 'negative Retry-After falls back to backoff', outcome: response(429, { 'retry-after': '-5' }), attempt: 0, settings: settings(), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'status 429 (rate limited)' } },
    { name: 'Retry-After date in the past falls back to backoff', outcome: response(429, { 'retry-after': new Date(NOW - 60_000).toUTCString() }), attempt: 0, settings: settings(), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'status 429 (rate limited)' } },
    // GitHub: 403 with x-ratelimit-remaining 0
    { name: 'GitHub 403 with remaining 0 waits until x-ratelimit-reset (epoch s)', outcome: response(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_S + 30) }), attempt: 0, settings: settings({ provider: github }), expected: { action: 'retry', waitMs: 30_000, reason: 'status 403 (rate limited)' } },
    { name: 'GitHub 403 with a reset an hour away is rate_limited', outcome: response(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_S + 3600) }), attempt: 0, settings: settings({ provider: github }), expected: { action: 'rate_limited', retryAfterMs: 3_600_000 } },
    { name: 'GitHub 403 with quota left and retries 0 stops', outcome: response(403, { 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': String(NOW_S + 30) }), attempt: 0, settings: settings({ provider: github }), expected: { action: 'stop' } },
    { name: 'GitHub 403 with quota left is retried by its error_code when retries allow', outcome: response(403, { 'x-ratelimit-remaining': '4999' }), attempt: 0, settings: settings({ provider: github, retries: 1 }), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'status 403' } },
    { name: '403 with remaining 0 is not a rate limit for a provider without a remaining header', outcome: response(403, { 'x-ratelimit-remaining': '0' }), attempt: 0, settings: settings(), expected: { action: 'stop' } },
    // OpenAI durations
    { name: "OpenAI 429 waits x-ratelimit-reset-requests '1m30s'", outcome: response(429, { 'x-ratelimit-reset-requests': '1m30s' }), attempt: 0, settings: settings({ provider: openai, maxWaitMs: 120_000 }), expected: { action: 'retry', waitMs: 90_000, reason: 'status 429 (rate limited)' } },
    { name: "OpenAI 429 waits x-ratelimit-reset-requests '250ms'", outcome: response(429, { 'x-ratelimit-reset-requests': '250ms' }), attempt: 0, settings: settings({ provider: openai }), expected: { action: 'retry', waitMs: 250, reason: 'status 429 (rate limited)' } },
    // 5xx and provider error codes
    { name: '500 with retries 1 is retried', outcome: response(500), attempt: 0, settings: settings({ retries: 1 }), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'status 500' } },
    { name: '500 with retries 0 stops', outcome: response(500), attempt: 0, settings: settings(), expected: { action: 'stop' } },
    { name: '500 stops once `retries` attempts were retried', outcome: response(500), attempt: 2, settings: settings({ retries: 2 }), expected: { action: 'stop' } },
    { name: '404 is not retried by default', outcome: response(404), attempt: 0, settings: settings({ retries: 3 }), expected: { action: 'stop' } },
    { name: '503 with a Retry-After waits that long', outcome: response(503, { 'retry-after': '3' }), attempt: 0, settings: settings({ retries: 1 }), expected: { action: 'retry', waitMs: 3000, reason: 'status 503' } },
    { name: '503 asking for more than maxWaitMs is answered as is', outcome: response(503, { 'retry-after': '7200' }), attempt: 0, settings: settings({ retries: 1 }), expected: { action: 'stop' } },
    { name: "error_code '5xx' retries 503", outcome: response(503), attempt: 0, settings: settings({ retries: 1, provider: { ...NO_RULES, errorCodes: ['5xx'] } }), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'status 503' } },
    { name: "error_code '500-502' retries 502", outcome: response(502), attempt: 0, settings: settings({ retries: 1, provider: { ...NO_RULES, errorCodes: ['500-502'] } }), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'status 502' } },
    { name: "error_code '500-502' does not retry 503", outcome: response(503), attempt: 0, settings: settings({ retries: 1, provider: { ...NO_RULES, errorCodes: ['500-502'] } }), expected: { action: 'stop' } },
    { name: "error_code '403' retries 403", outcome: response(403), attempt: 0, settings: settings({ retries: 1, provider: { ...NO_RULES, errorCodes: ['403'] } }), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'status 403' } },
    // retryOn
    { name: 'retryOn retries a listed status', outcome: response(409), attempt: 0, settings: settings({ retries: 1, retryOn: [409] }), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'status 409' } },
    { name: 'retryOn needs retries > 0', outcome: response(409), attempt: 0, settings: settings({ retryOn: [409] }), expected: { action: 'stop' } },
    { name: 'retryOn does not retry an unlisted status', outcome: response(404), attempt: 0, settings: settings({ retries: 1, retryOn: [409] }), expected: { action: 'stop' } },
    // network errors
    { name: 'ECONNRESET with retries 1 is retried', outcome: network('ECONNRESET'), attempt: 0, settings: settings({ retries: 1 }), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'ECONNRESET' } },
    { name: 'UND_ERR_CONNECT_TIMEOUT with retries 1 is retried', outcome: network('UND_ERR_CONNECT_TIMEOUT'), attempt: 0, settings: settings({ retries: 1 }), expected: { action: 'retry', waitMs: FIRST_BACKOFF, reason: 'UND_ERR_CONNECT_TIMEOUT' } },
    { name: 'ECONNRESET with retries 0 stops', outcome: network('ECONNRESET'), attempt: 0, settings: settings(), expected: { action: 'stop' } },
    { name: 'ECONNRESET stops once `retries` attempts were retried', outcome: network('ECONNRESET'), attempt: 1, settings: settings({ retries: 1 }), expected: { action: 'stop' } },
    { name: 'an unknown network code is not retried', outcome: network('ENOTFOUND'), attempt: 0, settings: settings({ retries: 3 }), expected: { action: 'stop' } },
    { name: 'a refused egress is not retried', outcome: network('EGRESS_DENIED'), attempt: 0, settings: settings({ retries: 3 }), expected: { action: 'stop' } },
  ];

  it.each(cases)('$name', ({ outcome, attempt, settings: s, expected }) => {
    expect(decideRetry(outcome, attempt, s, NOW, () => 0)).toEqual(expected);
  });
});

describe('headerWaitMs', () => {
  it.each([
    ['nothing', {}, NO_RULES, undefined],
    ['Retry-After seconds', { 'retry-after': '2' }, NO_RULES, 2000],
    ['Retry-After HTTP-date', { 'retry-after': new Date(NOW + 10_000).toUTCString() }, NO_RULES, 10_000],
    ['garbage Retry-After', { 'retry-after': 'tomorrow' }, NO_RULES, undefined],
    ['the first of repeated Retry-After values', { 'retry-after': ['3', '10'] }, NO_RULES, 3000],
    ['a reset header the provider does not name', { 'x-ratelimit-reset': String(NOW_S + 30) }, NO_RULES, undefined],
    ['the provider reset header (epoch s)', { 'x-ratelimit-reset': String(NOW_S + 30) }, github, 30_000],
    ['the longest of Retry-After and the reset header', { 'retry-after': '60', 'x-ratelimit-reset': String(NOW_S + 30) }, github, 60_000],
    ['the longest of the provider after headers', { 'retry-after': '2', 'x-ratelimit-reset-requests': '6m0s' }, openai, 360_000],
  ])('reads %s', (_name, headers, provider, expected) => {
    expect(headerWaitMs(headers, provider, NOW)).toBe(expected);
  });
});

describe('headerWaitMs reads Retry-After as before the shared parser (backoff.ts)', () => {
  // The proxy's former reading: its own delay parser, else a date with a four-digit year, a past one ignored.
  const former = (value: string) => parseDelaySeconds(value) ?? (/\d{4}/.test(value) ? parseResetAt(value, NOW) : undefined);
  const at = (offsetMs: number) => new Date(NOW + offsetMs).toUTCString();

  it.each(['0', '2', ' 30 ', '007', '1.5', '0.0001', '1m30s', '250ms', '1h', '-5', '1e3', 'soon', '', 'Jan 5', at(5000), at(0), at(-5000), at(3_600_000), new Date(NOW + 9000).toISOString(), 'Sunday, 06-Nov-94 08:49:37 GMT'])(
    'Retry-After %j',
    (value) => {
      const before = former(value);
      expect(headerWaitMs({ 'retry-after': value }, NO_RULES, NOW)).toBe(before !== undefined && Number.isFinite(before) ? before : undefined);
    },
  );
});

describe('parseDelaySeconds', () => {
  it.each([
    ['30', 30_000],
    [' 30 ', 30_000],
    ['0', 0],
    ['1.5', 1500],
    ['0.0001', 1],
    ['1m30s', 90_000],
    ['6m0s', 360_000],
    ['250ms', 250],
    ['17.28s', 17_280],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1h2m3s', 3_723_000],
    ['1s500ms', 1500],
    ['', undefined],
    ['soon', undefined],
    ['-5', undefined],
    ['1e3', undefined],
    ['1m30', undefined],
  ])('reads %j as %s ms', (value, expected) => {
    expect(parseDelaySeconds(value)).toBe(expected);
  });
});

describe('parseResetAt', () => {
  it.each([
    ['epoch seconds', String(NOW_S + 30), 30_000],
    ['fractional epoch seconds', String(NOW_S + 30.5), 30_500],
    ['epoch milliseconds', String(NOW + 30_000), 30_000],
    ['small relative seconds', '30', 30_000],
    ['zero relative seconds', '0', 0],
    ['an HTTP-date', new Date(NOW + 45_000).toUTCString(), 45_000],
    ['an ISO date', new Date(NOW + 45_000).toISOString(), 45_000],
    ['epoch seconds in the past', String(NOW_S - 30), undefined],
    ['epoch milliseconds in the past', String(NOW - 30_000), undefined],
    ['an HTTP-date in the past', new Date(NOW - 45_000).toUTCString(), undefined],
    ['garbage', 'whenever', undefined],
    ['a negative number', '-5', undefined],
  ])('reads %s', (_name, value, expected) => {
    expect(parseResetAt(value, NOW)).toBe(expected);
  });
});

describe('matchesStatusPattern', () => {
  it.each([
    [503, '5xx', true],
    [500, '5XX', true],
    [499, '5xx', false],
    [429, '4xx', true],
    [500, '500-502', true],
    [502, '500-502', true],
    [503, '500-502', false],
    [499, '500-502', false],
    [501, '500 - 502', true],
    [403, '403', true],
    [404, '403', false],
    [429, ' 429 ', true],
    [500, 'garbage', false],
  ])('%i against %j is %s', (status, pattern, expected) => {
    expect(matchesStatusPattern(status, pattern)).toBe(expected);
  });
});

describe('isRateLimited', () => {
  it.each([
    ['429 without headers', 429, {}, NO_RULES, true],
    ['GitHub 403 with remaining 0', 403, { 'x-ratelimit-remaining': '0' }, github, true],
    ['GitHub 403 with remaining " 0 "', 403, { 'x-ratelimit-remaining': ' 0 ' }, github, true],
    ['GitHub 403 with remaining 12', 403, { 'x-ratelimit-remaining': '12' }, github, false],
    ['GitHub 403 without the header', 403, {}, github, false],
    ['GitHub 200 with remaining 0', 200, { 'x-ratelimit-remaining': '0' }, github, false],
    ['403 with remaining 0 for a provider naming no header', 403, { 'x-ratelimit-remaining': '0' }, NO_RULES, false],
    ['500 without headers', 500, {}, NO_RULES, false],
  ])('%s: %s', (_name, status, headers, provider, expected) => {
    expect(isRateLimited(status, headers, provider)).toBe(expected);
  });
});
