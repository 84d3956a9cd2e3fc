import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { delayed, echo, reply, startUpstream, type Step, type Upstream } from '../harness/upstream.js';

/** A provider enforcing `limit` calls per wall-clock second, announcing its quota in headers. */
function quotaPerSecond(limit: number, counters: { served: number; rejected: number }): Step {
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
      env: { PATCHBAY_PROXY_MAX_WAIT_MS: '5000' },
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

  it('holds calls until the quota resets instead of sending them into a 429', async () => {
    const counters = { served: 0, rejected: 0 };
    upstream.setFallback(quotaPerSecond(4, counters));
    const headers = { 'provider-config-key': 'quota-api', 'connection-id': 'a' };
    // Start early in a second so the warm-up and the burst share one window.
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
    expect((await patchbay.request('GET', '/proxy/warm-up', { headers })).status).toBe(200);
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 9 }, () => patchbay.request('GET', '/proxy/items', { headers })));
    expect(results.map((r) => r.status)).toEqual(Array(9).fill(200));
    expect(counters.rejected).toBe(0);
    // 3 calls fit in the first window, 4 in the next, 2 in the one after
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(Date.now() - started).toBeLessThan(4500);
  }, 15_000);

  it('paces each connection on its own', async () => {
    const counters = { served: 0, rejected: 0 };
    upstream.setFallback(quotaPerSecond(100, counters));
    upstream.script(reply(200, {}, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3) }));
    await patchbay.request('GET', '/proxy/x', { headers: { 'provider-config-key': 'quota-api', 'connection-id': 'b' } });
    const started = Date.now();
    const other = await patchbay.request('GET', '/proxy/x', { headers: { 'provider-config-key': 'quota-api', 'connection-id': 'c' } });
    expect(other.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('fails fast with rate_limited when the quota resets beyond the maximum wait', async () => {
    const resetAt = Math.floor(Date.now() / 1000) + 3600;
    upstream.script(reply(200, {}, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetAt) }));
    const headers = { 'provider-config-key': 'narrow-api', 'connection-id': 'c' };
    expect((await patchbay.request('GET', '/proxy/x', { headers })).status).toBe(200);
    const started = Date.now();
    const res = await patchbay.request('GET', '/proxy/x', { headers });
    expect(Date.now() - started).toBeLessThan(500);
    expect(res.status).toBe(429);
    expect(res.json.error.code).toBe('rate_limited');
    expect(res.json.error.retry_after_ms).toBeGreaterThan(3_500_000);
    expect(upstream.requests).toHaveLength(1);
  });

  it('keeps at most max_concurrency calls in flight per connection', async () => {
    let inFlight = 0;
    let peak = 0;
    upstream.setFallback(async (req, res, received) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await delayed(200, echo())(req, res, received);
      inFlight--;
    });
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => patchbay.request('GET', '/proxy/slow', { headers: { 'provider-config-key': 'narrow-api', 'connection-id': 'a' } })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(peak).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(580);
  });
});
