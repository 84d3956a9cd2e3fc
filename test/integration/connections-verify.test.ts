import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { hang, reply, reset, startUpstream, type Upstream } from '../harness/upstream.js';

const GOOD_KEY = 'sk-live-GoodKey-0123456789';
const BAD_KEY = 'sk-live-RefusedKey-9876543210';
const PASSWORD = 'Basic-Password-Secret-42';
const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('connections: API_KEY and BASIC credentials are verified with the provider before they are stored', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;

  const create = (provider: string, connectionId: string, credentials: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    patchbay.request('POST', '/connections', { body: { provider_config_key: provider, connection_id: connectionId, credentials, ...extra } });
  const stored = async (provider: string, connectionId: string) =>
    (await patchbay.request('GET', `/connections?connectionId=${connectionId}&integrationId=${provider}`)).json.connections;

  beforeAll(async () => {
    upstream = await startUpstream();
    const keyInHeader = { 'x-api-key': '${apiKey}' };
    patchbay = await startPatchbay({
      label: 'connections-verify',
      proxyTuning: { headersTimeoutMs: 1000 },
      providers: {
        'header-key': { auth_mode: 'API_KEY', proxy: { base_url: `${upstream.url}/api`, headers: keyInHeader, verification: { method: 'GET', endpoints: ['/v1/me'] } } },
        'query-key': { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, query: { api_key: '${apiKey}' }, verification: { endpoints: ['/check?scope=all'] } } },
        'basic-auth': { auth_mode: 'BASIC', proxy: { base_url: upstream.url, verification: { method: 'GET', endpoints: ['/accounts/${credentials.username}.json'] } } },
        'two-endpoints': {
          auth_mode: 'API_KEY',
          proxy: { base_url: upstream.url, headers: { authorization: 'Bearer ${apiKey}' }, verification: { method: 'GET', endpoints: ['/v1/old', '/v2/new'] } },
        },
        'post-check': {
          auth_mode: 'API_KEY',
          proxy: { base_url: upstream.url, headers: keyInHeader, verification: { method: 'POST', endpoints: ['/search'], headers: { accept: 'application/json' }, data: { limit: 1 } } },
        },
        'own-verify-host': {
          auth_mode: 'API_KEY',
          proxy: { base_url: 'https://api.example.com', headers: keyInHeader, verification: { endpoints: ['/me'], base_url_override: `${upstream.url}/verify` } },
        },
        'tenant-key': { auth_mode: 'API_KEY', proxy: { base_url: 'http://${connectionConfig.tenant}.tenants.example', headers: keyInHeader, verification: { endpoints: ['/me'] } } },
        'no-check': { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, headers: keyInHeader } },
      },
    });
    for (const provider of ['header-key', 'query-key', 'basic-auth', 'two-endpoints', 'post-check', 'own-verify-host', 'tenant-key', 'no-check']) {
      expect((await patchbay.request('POST', '/integrations', { body: { provider, unique_key: provider } })).status).toBe(200);
    }
  });
  beforeEach(() => upstream.clear());
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
  });

  it("stores a key the provider accepts, after one call with the key in the provider's header", async () => {
    const res = await create('header-key', 'good', { type: 'API_KEY', apiKey: GOOD_KEY });
    expect(res.status).toBe(201);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]).toMatchObject({ method: 'GET', path: '/api/v1/me' });
    expect(upstream.requests[0]?.headers['x-api-key']).toBe(GOOD_KEY);
    expect(await stored('header-key', 'good')).toHaveLength(1);
  });

  it('refuses a key the provider answers 401 to: 400 connection_test_failed with the status, and nothing stored', async () => {
    upstream.script(reply(401, { error: `invalid api key ${BAD_KEY}` }));
    const res = await create('header-key', 'refused', { type: 'API_KEY', apiKey: BAD_KEY });
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({
      code: 'connection_test_failed',
      message: 'The provider did not accept the credentials: GET /v1/me answered 401.',
      payload: { status: 401, attempts: [{ endpoint: '/v1/me', status: 401 }] },
    });
    expect(res.text).not.toContain(BAD_KEY);
    expect(await stored('header-key', 'refused')).toEqual([]);
  });

  it.each([403, 404, 500])('refuses a key the provider answers %i to', async (status) => {
    upstream.script(reply(status));
    const res = await create('header-key', `refused-${status}`, { type: 'API_KEY', apiKey: BAD_KEY });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'connection_test_failed', payload: { status } });
    expect(await stored('header-key', `refused-${status}`)).toEqual([]);
  });

  it('keeps a stored connection when a new key for it is refused', async () => {
    expect((await create('header-key', 'rotate', { type: 'API_KEY', apiKey: GOOD_KEY })).status).toBe(201);
    upstream.script(reply(401));
    expect((await create('header-key', 'rotate', { type: 'API_KEY', apiKey: BAD_KEY })).status).toBe(400);
    const read = await patchbay.request('GET', '/connections/rotate?provider_config_key=header-key');
    expect(read.json.credentials.apiKey).toBe(GOOD_KEY);
  });

  it('tries the endpoints in order and accepts the first 2xx, as Nango does', async () => {
    upstream.script(reply(404), reply(200, { id: 'me' }));
    expect((await create('two-endpoints', 'second', { type: 'API_KEY', apiKey: GOOD_KEY })).status).toBe(201);
    expect(upstream.requests.map((r) => [r.path, r.headers.authorization])).toEqual([
      ['/v1/old', `Bearer ${GOOD_KEY}`],
      ['/v2/new', `Bearer ${GOOD_KEY}`],
    ]);
  });

  it('fails when no endpoint answers 2xx, listing each answer', async () => {
    upstream.script(reply(404), reply(401));
    const res = await create('two-endpoints', 'neither', { type: 'API_KEY', apiKey: BAD_KEY });
    expect(res.json.error).toMatchObject({
      code: 'connection_test_failed',
      payload: { status: 401, attempts: [{ endpoint: '/v1/old', status: 404 }, { endpoint: '/v2/new', status: 401 }] },
    });
  });

  it("puts the key in the query when the provider's template says so", async () => {
    expect((await create('query-key', 'q', { type: 'API_KEY', apiKey: GOOD_KEY })).status).toBe(201);
    expect(upstream.requests[0]?.path).toBe('/check');
    expect(Object.fromEntries(upstream.requests[0]?.query ?? [])).toEqual({ scope: 'all', api_key: GOOD_KEY });
  });

  it('sends BASIC credentials as a Basic header, and fills the endpoint template from them', async () => {
    expect((await create('basic-auth', 'b', { type: 'BASIC', username: 'AC123', password: PASSWORD })).status).toBe(201);
    expect(upstream.requests[0]?.path).toBe('/accounts/AC123.json');
    expect(upstream.requests[0]?.headers.authorization).toBe(`Basic ${base64(`AC123:${PASSWORD}`)}`);
  });

  it("sends the verification's method, headers and JSON body", async () => {
    expect((await create('post-check', 'p', { type: 'API_KEY', apiKey: GOOD_KEY })).status).toBe(201);
    const [seen] = upstream.requests;
    expect(seen).toMatchObject({ method: 'POST', path: '/search' });
    expect(seen?.headers).toMatchObject({ 'x-api-key': GOOD_KEY, accept: 'application/json', 'content-type': 'application/json' });
    expect(JSON.parse(seen?.body.toString() ?? '')).toEqual({ limit: 1 });
  });

  it("calls the verification's own base URL when the catalog gives one", async () => {
    expect((await create('own-verify-host', 'o', { type: 'API_KEY', apiKey: GOOD_KEY })).status).toBe(201);
    expect(upstream.requests.map((r) => r.path)).toEqual(['/verify/me']);
  });

  it('stores without calling the provider when the body says "verify": false', async () => {
    const res = await create('header-key', 'imported', { type: 'API_KEY', apiKey: BAD_KEY }, { verify: false });
    expect(res.status).toBe(201);
    expect(upstream.requests).toEqual([]);
  });

  it('stores without calling a provider whose catalog entry has no verification', async () => {
    expect((await create('no-check', 'n', { type: 'API_KEY', apiKey: GOOD_KEY })).status).toBe(201);
    expect(upstream.requests).toEqual([]);
  });

  it('refuses a "verify" that is not a boolean', async () => {
    const res = await create('header-key', 'v', { type: 'API_KEY', apiKey: GOOD_KEY }, { verify: 'no' });
    expect(res.status).toBe(400);
    expect(res.json.error.errors[0].path).toEqual(['verify']);
  });

  it('answers a network failure with connection_test_failed and the network code', async () => {
    upstream.script(reset());
    const res = await create('header-key', 'reset', { type: 'API_KEY', apiKey: GOOD_KEY });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'connection_test_failed', payload: { status: null, network_code: expect.stringMatching(/^(ECONNRESET|UND_ERR_SOCKET|EPIPE)$/) } });
    expect(res.json.error.message).toMatch(/^The provider could not be reached to verify the credentials: GET \/v1\/me failed with /);
    expect(await stored('header-key', 'reset')).toEqual([]);
  });

  it('gives up on a provider that does not answer within the timeout', async () => {
    upstream.script(hang());
    const startedMs = Date.now();
    const res = await create('header-key', 'slow', { type: 'API_KEY', apiKey: GOOD_KEY });
    const elapsedMs = Date.now() - startedMs;
    // The configured headers timeout (1 s) ended it: the default (2 min) would outlast the test.
    expect(res.json.error).toMatchObject({ code: 'connection_test_failed', payload: { status: null, network_code: 'UND_ERR_HEADERS_TIMEOUT' } });
    expect(elapsedMs).toBeGreaterThanOrEqual(900);
  });

  it("never sends the key outside the provider's hosts", async () => {
    const res = await create('tenant-key', 't', { type: 'API_KEY', apiKey: GOOD_KEY }, { connection_config: { tenant: 'attacker.example/x?' } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_connection_config');
    expect(await stored('tenant-key', 't')).toEqual([]);
  });

  it('logs each verification without the key, the password or the error body', async () => {
    upstream.script(reply(401, { echoed: BAD_KEY }));
    await create('query-key', 'logged-refused', { type: 'API_KEY', apiKey: BAD_KEY });
    await create('basic-auth', 'logged-basic', { type: 'BASIC', username: 'AC123', password: PASSWORD });
    await patchbay.system.logs.flush();
    const logs = await patchbay.request('GET', '/logs?type=auth&limit=100');
    expect(logs.status).toBe(200);
    const refused = logs.json.data.find((op: { connection_id: string }) => op.connection_id === 'logged-refused');
    expect(refused).toMatchObject({ provider_config_key: 'query-key', action: 'verify', state: 'failed', status: 401 });
    expect(refused.url).toBe(`${upstream.url}/check?scope=all&api_key=REDACTED`);
    expect(logs.json.data.some((op: { state: string; action: string }) => op.action === 'verify' && op.state === 'success')).toBe(true);
    for (const secret of [GOOD_KEY, BAD_KEY, PASSWORD, base64(`AC123:${PASSWORD}`)]) expect(logs.text).not.toContain(secret);
  });
});

describe('connections: credential verification goes through the egress guard', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;

  beforeAll(async () => {
    upstream = await startUpstream();
    patchbay = await startPatchbay({
      label: 'connections-verify-egress',
      roles: ['server'],
      env: { PATCHBAY_ALLOW_PRIVATE_EGRESS: 'false' },
      providers: { loopback: { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, headers: { 'x-api-key': '${apiKey}' }, verification: { endpoints: ['/me'] } } } },
    });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'loopback', unique_key: 'loopback' } })).status).toBe(200);
  });
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
  });

  it('refuses a verification call to a private address with egress_denied, and sends nothing', async () => {
    const res = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'loopback', connection_id: 'l', credentials: { type: 'API_KEY', apiKey: GOOD_KEY } },
    });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('egress_denied');
    expect(upstream.requests).toEqual([]);
  });
});
