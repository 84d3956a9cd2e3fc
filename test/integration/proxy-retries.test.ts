import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, reset, startUpstream, type Upstream } from '../harness/upstream.js';

// No stopwatch: a wait is read from the call's log operation (each attempt's `waited_ms`, the wait
// the engine decided plus any pacing) and from when the provider received each attempt.

/**
 * The configured maximum wait (PATCHBAY_PROXY_MAX_WAIT_MS): longer than any test's timeout, so a call
 * that waited it out instead of failing at once fails its test by timing out, with no stopwatch.
 */
const MAX_WAIT_MS = 120_000;
/** The harness's proxy tuning (test/harness/patchbay.ts): backoffs start at 40 ms and stop at 400 ms. */
const MAX_BACKOFF_MS = 400;

describe('proxy: retries and rate limits', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  const github = { 'provider-config-key': 'github', 'connection-id': 'c1' };
  // Each test gets its own connection: pacing state (a 429's Retry-After) is per connection.
  let slack: Record<string, string>;
  let next = 0;

  beforeAll(async () => {
    upstream = await startUpstream();
    patchbay = await startPatchbay({
      label: 'proxy-retries',
      env: { PATCHBAY_PROXY_MAX_WAIT_MS: String(MAX_WAIT_MS) },
      providers: { github: { proxy: { base_url: upstream.url } }, slack: { proxy: { base_url: upstream.url } } },
    });
    for (const provider of ['github', 'slack']) {
      await patchbay.request('POST', '/integrations', { body: { provider, unique_key: provider } });
    }
    const ids = ['c1', ...Array.from({ length: 20 }, (_, i) => `s${i}`)];
    for (const id of ids) {
      await patchbay.request('POST', '/connections', {
        body: { provider_config_key: id === 'c1' ? 'github' : 'slack', connection_id: id, credentials: { type: 'OAUTH2', access_token: `tok-${id}` } },
      });
    }
  });
  beforeEach(() => {
    upstream.clear();
    slack = { 'provider-config-key': 'slack', 'connection-id': `s${next++}` };
  });
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
  });
  /** The attempts of a connection's latest proxy call, as its log operation shows them. */
  const attemptsOf = async (headers: Record<string, string>) => {
    await patchbay.system.logs.flush();
    const res = await patchbay.request('GET', `/logs?type=proxy&provider_config_key=${headers['provider-config-key']}&connection_id=${headers['connection-id']}&limit=1`);
    expect(res.status).toBe(200);
    return res.json.data[0].attempts as { attempt: number; status: number | null; error: string | null; waited_ms: number }[];
  };

  it('retries a burst of 5xx with Retries: 3 and returns the success', async () => {
    upstream.script(reply(500), reply(502), reply(503));
    const res = await patchbay.request('GET', '/proxy/things', { headers: { ...slack, retries: '3' } });
    expect(res.status).toBe(200);
    expect(upstream.requests).toHaveLength(4);
  });

  it('returns the upstream error (status, body, headers) when no retries are asked', async () => {
    upstream.script(reply(500, { error: 'boom' }, { 'x-request-id': 'req-42' }));
    const res = await patchbay.request('GET', '/proxy/things', { headers: slack });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ error: 'boom' });
    expect(res.headers['x-request-id']).toBe('req-42');
    expect(upstream.requests).toHaveLength(1);
  });

  it('gives up after Retries and returns the last upstream answer', async () => {
    upstream.script(reply(503, { n: 1 }), reply(503, { n: 2 }), reply(503, { n: 3 }));
    const res = await patchbay.request('GET', '/proxy/things', { headers: { ...slack, retries: '2' } });
    expect(res.status).toBe(503);
    expect(res.json).toEqual({ n: 3 });
    expect(upstream.requests).toHaveLength(3);
  });

  it('waits out Retry-After: 1 on a 429 without being asked to retry, then returns the second response', async () => {
    upstream.script(reply(429, { error: 'slow down' }, { 'retry-after': '1' }));
    const res = await patchbay.request('GET', '/proxy/things', { headers: slack });
    expect(res.status).toBe(200);
    expect(upstream.requests).toHaveLength(2);
    // The second attempt reached the provider a second after the first…
    const [first, second] = upstream.requests;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(990);
    // …having waited the Retry-After once: the pacer holds the connection for the same second, and
    // that hold is spent during the retry's own wait, not after it (at most a millisecond of it is left).
    const attempts = await attemptsOf(slack);
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([[0, 429], [1, 200]]);
    expect(attempts[1]?.waited_ms).toBeGreaterThanOrEqual(1000);
    expect(attempts[1]?.waited_ms).toBeLessThan(2000);
  });

  it('fails fast with 429 rate_limited when the provider asks for Retry-After: 3600', async () => {
    upstream.script(reply(429, {}, { 'retry-after': '3600' }));
    const res = await patchbay.request('GET', '/proxy/things', { headers: slack });
    expect(await attemptsOf(slack)).toEqual([expect.objectContaining({ attempt: 0, status: 429, waited_ms: 0 })]);
    expect(res.status).toBe(429);
    expect(res.json.error.code).toBe('rate_limited');
    expect(res.json.error.retry_after_ms).toBe(3_600_000);
    // and the connection is paced: the next call fails fast too, without reaching the provider
    const paced = await patchbay.request('GET', '/proxy/things', { headers: slack });
    expect(paced.status).toBe(429);
    expect(paced.json.error.code).toBe('rate_limited');
    expect(paced.json.error.retry_after_ms).toBeGreaterThan(3_500_000);
    expect(upstream.requests).toHaveLength(1);
  });

  it.each(['soon', '-5', '1e9999', ''])('falls back to backoff for a garbage Retry-After (%j)', async (value) => {
    upstream.script(reply(429, {}, { 'retry-after': value }));
    const res = await patchbay.request('GET', '/proxy/things', { headers: slack });
    expect(res.status).toBe(200);
    // The retry waited a backoff (40 ms and up in the tests' tuning), not a wait read from the header.
    const attempts = await attemptsOf(slack);
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([[0, 429], [1, 200]]);
    expect(attempts[1]?.waited_ms).toBeGreaterThan(0);
    expect(attempts[1]?.waited_ms).toBeLessThanOrEqual(MAX_BACKOFF_MS);
  });

  it('waits for a GitHub 403 with x-ratelimit-remaining: 0 until x-ratelimit-reset', async () => {
    const resetAt = Math.ceil(Date.now() / 1000) + 1;
    upstream.script(reply(403, { message: 'API rate limit exceeded' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetAt) }));
    const res = await patchbay.request('GET', '/proxy/user', { headers: github });
    expect(res.status).toBe(200);
    // The retry reached the provider once its window had reset, after a wait its log shows.
    expect(upstream.requests).toHaveLength(2);
    expect(upstream.requests[1]?.at).toBeGreaterThanOrEqual(resetAt * 1000 - 50);
    const attempts = await attemptsOf(github);
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([[0, 403], [1, 200]]);
    expect(attempts[1]?.waited_ms).toBeGreaterThan(0);
  });

  it('retries network resets with Retries and answers the contract network-error shape without', async () => {
    upstream.script(reset());
    const retried = await patchbay.request('GET', '/proxy/things', { headers: { ...slack, retries: '2' } });
    expect(retried.status).toBe(200);
    upstream.script(reset());
    const failed = await patchbay.request('GET', '/proxy/things', { headers: slack });
    expect(failed.status).toBe(502);
    expect(failed.json).toEqual({ message: expect.stringContaining('failed'), code: expect.stringMatching(/^(ECONNRESET|UND_ERR_SOCKET|EPIPE)$/), status: 502, method: 'GET' });
  });

  it('answers the network-error shape when the provider refuses connections', async () => {
    const res = await patchbay.request('GET', '/proxy/things', {
      headers: { ...slack, 'base-url-override': 'http://127.0.0.1:1' },
    });
    expect(res.status).toBe(502);
    expect(res.json.code).toBe('ECONNREFUSED');
  });

  it('retries the statuses named in Retry-On', async () => {
    upstream.script(reply(404), reply(409));
    const res = await patchbay.request('GET', '/proxy/things', { headers: { ...slack, retries: '2', 'retry-on': '404,409' } });
    expect(res.status).toBe(200);
    expect(upstream.requests).toHaveLength(3);
  });

  it('does not retry a 4xx that is not named', async () => {
    upstream.script(reply(404, { message: 'Not Found' }));
    const res = await patchbay.request('GET', '/proxy/things', { headers: { ...slack, retries: '3' } });
    expect(res.status).toBe(404);
    expect(upstream.requests).toHaveLength(1);
  });

  it('sends the same request body again on a retry', async () => {
    upstream.script(reply(500));
    const res = await patchbay.request('POST', '/proxy/chat.postMessage', {
      headers: { ...slack, retries: '1' },
      body: { channel: 'C1', text: 'hello' },
    });
    expect(res.status).toBe(200);
    expect(upstream.requests.map((r) => r.body.toString())).toEqual([
      '{"channel":"C1","text":"hello"}',
      '{"channel":"C1","text":"hello"}',
    ]);
  });
});
