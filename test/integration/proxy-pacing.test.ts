import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { echo, reply, startUpstream, type Step, type Upstream } from '../harness/upstream.js';

// None of these tests reads a stopwatch: what a held call did is in what the provider received
// (how many calls in which of its windows), in the call's log operation (`waited_ms`) and in
// GET /connections/:id/rate-limit (what the pacer holds).

/**
 * The configured maximum wait (PATCHBAY_PROXY_MAX_WAIT_MS): longer than any test's timeout, so a call
 * that waited it out instead of failing at once fails its test by timing out, with no stopwatch.
 */
const MAX_WAIT_MS = 120_000;

/** A provider enforcing `limit` calls per wall-clock second, announcing its quota in headers. */
function quotaPerSecond(limit: number, counters: { served: number; rejected: number; windows: number[] }): Step {
  const used = new Map<number, number>();
  return (req, res, received) => {
    const window = Math.floor(Date.now() / 1000);
    const count = (used.get(window) ?? 0) + 1;
    used.set(window, count);
    const headers = {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - count)),
      'x-ratelimit-reset': String(window + 1),
    };
    if (count > limit) {
      counters.rejected++;
      return reply(429, { error: 'quota' }, { ...headers, 'retry-after': '1' })(req, res, received);
    }
    counters.served++;
    counters.windows.push(window);
    return echo(headers)(req, res, received);
  };
}

describe('proxy: per-connection pacing', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;

  beforeAll(async () => {
    upstream = await startUpstream();
    patchbay = await startPatchbay({
      label: 'proxy-pacing',
      env: { PATCHBAY_PROXY_MAX_WAIT_MS: String(MAX_WAIT_MS) },
      providers: {
        'quota-api': { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, headers: { 'x-key': '${apiKey}' } } },
        'narrow-api': { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, headers: { 'x-key': '${apiKey}' }, max_concurrency: 2 } },
      },
    });
    for (const provider of ['quota-api', 'narrow-api']) {
      await patchbay.request('POST', '/integrations', { body: { provider, unique_key: provider } });
      for (const id of ['a', 'b', 'c']) {
        await patchbay.request('POST', '/connections', {
          body: { provider_config_key: provider, connection_id: id, credentials: { type: 'API_KEY', apiKey: `key-${provider}-${id}` } },
        });
      }
    }
  });
  beforeEach(() => upstream.clear());
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
  });

  /** What the pacer holds for a connection, as an operator sees it. */
  const paceOf = async (provider: string, connectionId: string) => {
    const res = await patchbay.request('GET', `/connections/${connectionId}/rate-limit?provider_config_key=${provider}`);
    expect(res.status).toBe(200);
    return res.json.hosts as { host: string; in_flight: number; waiting: number; remaining: number | null; held_until: string | null }[];
  };
  /** The log operations of a connection's proxy calls, newest first. */
  const callsOf = async (provider: string, connectionId: string) => {
    await patchbay.system.logs.flush();
    const res = await patchbay.request('GET', `/logs?type=proxy&provider_config_key=${provider}&connection_id=${connectionId}`);
    expect(res.status).toBe(200);
    return res.json.data as { status: number | null; attempts: { attempt: number; status: number | null; waited_ms: number }[] }[];
  };

  it('holds calls until the quota resets instead of sending them into a 429', async () => {
    const counters = { served: 0, rejected: 0, windows: [] as number[] };
    upstream.setFallback(quotaPerSecond(4, counters));
    const headers = { 'provider-config-key': 'quota-api', 'connection-id': 'a' };
    // Aim for the start of a second, so that the warm-up and the burst likely share one window
    // and the burst has to be held (on a slow machine they may not: the assertions hold either way).
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
    expect((await patchbay.request('GET', '/proxy/warm-up', { headers })).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 9 }, () => patchbay.request('GET', '/proxy/items', { headers })));
    expect(results.map((r) => r.status)).toEqual(Array(9).fill(200));
    // The provider never had to refuse one: 10 calls at 4 a window went out over at least 3 of
    // its windows, each call once (none was sent into a 429 and retried).
    expect(counters.rejected).toBe(0);
    expect(upstream.requests).toHaveLength(10);
    const perWindow = [...new Set(counters.windows)].map((window) => counters.windows.filter((w) => w === window).length);
    expect(Math.max(...perWindow)).toBeLessThanOrEqual(4);
    expect(perWindow.length).toBeGreaterThanOrEqual(3);
    // The calls that waited for a window say so in their log, in their first (only) attempt.
    const calls = await callsOf('quota-api', 'a');
    expect(calls).toHaveLength(10);
    expect(calls.every((call) => call.status === 200 && call.attempts.length === 1)).toBe(true);
    expect(calls.filter((call) => (call.attempts[0]?.waited_ms ?? 0) > 0).length).toBeGreaterThanOrEqual(9 - 4); // at most 4 of the burst found quota left
  }, 30_000);

  it('paces each connection on its own', async () => {
    const counters = { served: 0, rejected: 0, windows: [] as number[] };
    upstream.setFallback(quotaPerSecond(100, counters));
    upstream.script(reply(200, {}, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3) }));
    await patchbay.request('GET', '/proxy/x', { headers: { 'provider-config-key': 'quota-api', 'connection-id': 'b' } });
    // b's quota is spent until its reset…
    expect((await paceOf('quota-api', 'b'))[0]).toMatchObject({ remaining: 0, held_until: expect.any(String) });
    const other = await patchbay.request('GET', '/proxy/x', { headers: { 'provider-config-key': 'quota-api', 'connection-id': 'c' } });
    expect(other.status).toBe(200);
    // …and c's call went out without waiting for it.
    const [call] = await callsOf('quota-api', 'c');
    expect(call?.attempts).toEqual([expect.objectContaining({ attempt: 0, status: 200, waited_ms: 0 })]);
    expect(upstream.requests.map((r) => r.headers['x-key'])).toEqual(['key-quota-api-b', 'key-quota-api-c']);
  });

  it('fails fast with rate_limited when the quota resets beyond the maximum wait', async () => {
    const resetAt = Math.floor(Date.now() / 1000) + 3600;
    upstream.script(reply(200, {}, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetAt) }));
    const headers = { 'provider-config-key': 'narrow-api', 'connection-id': 'c' };
    expect((await patchbay.request('GET', '/proxy/x', { headers })).status).toBe(200);
    const res = await patchbay.request('GET', '/proxy/x', { headers });
    expect(res.status).toBe(429);
    expect(res.json.error.code).toBe('rate_limited');
    expect(res.json.error.retry_after_ms).toBeGreaterThan(3_500_000);
    expect(upstream.requests).toHaveLength(1);
    // Refused by the pacer before any attempt: nothing was sent and nothing waited.
    const [refused] = await callsOf('narrow-api', 'c');
    expect(refused).toMatchObject({ status: null, attempts: [] });
  });

  it('keeps at most max_concurrency calls in flight per connection', async () => {
    let inFlight = 0;
    let peak = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // The provider holds every call until the test lets them go: no race with a timer.
    upstream.setFallback(async (req, res, received) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await released;
      await echo()(req, res, received);
      inFlight--;
    });
    const pending = Promise.all(
      Array.from({ length: 6 }, () => patchbay.request('GET', '/proxy/slow', { headers: { 'provider-config-key': 'narrow-api', 'connection-id': 'a' } })),
    );
    // Two calls reach the provider and stay there; the pacer holds the other four.
    await expect.poll(() => inFlight, { timeout: 20_000 }).toBe(2);
    await expect.poll(async () => (await paceOf('narrow-api', 'a'))[0], { timeout: 20_000 }).toMatchObject({ in_flight: 2, waiting: 4 });
    expect(upstream.requests).toHaveLength(2);
    release();
    const results = await pending;
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(upstream.requests).toHaveLength(6);
    expect(peak).toBe(2);
  });
});
