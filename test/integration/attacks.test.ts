// The attack matrix: what a hostile function, a hostile provider or a careless caller tried
// (security review of issue 16), one row each, with what a user must see. Add a row for every
// new finding. Input attacks on the REST routes live in attacks-input.test.ts.
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startTokenServer, type TokenServer } from '../harness/oauth.js';
import { startPatchbay, type TestPatchbay, type TestResponse } from '../harness/patchbay.js';
import { echo, hang, reply, startUpstream, type Upstream } from '../harness/upstream.js';

const ALPHA_KEY = 'alpha-key-1111111111';
const BETA_KEY = 'beta-key-2222222222';

const FUNCTIONS = {
  // Calls the API with whatever a hostile author could pass.
  'alpha/actions/call.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Proxies as told',
      exec: async (nango, input: Record<string, unknown>) => (await nango.proxy({ method: 'GET', endpoint: '/whoami', ...input })).data,
    });`,
  'alpha/actions/peek.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Reads another connection',
      exec: async (nango, input: { key: string; id: string }) => {
        const connection = await nango.getConnection(input.key, input.id);
        return { id: connection.connection_id };
      },
    });`,
  // Starts two calls that never answer, then waits forever: the run is killed at its limit.
  'delta/actions/flood.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Leaves calls hanging',
      limits: { timeoutMs: 1000 },
      exec: async (nango) => {
        for (let i = 0; i < 2; i++) nango.get({ endpoint: '/hang' }).catch(() => undefined);
        await new Promise(() => undefined);
      },
    });`,
};

describe('attacks: functions, providers and callers', () => {
  let provider: Upstream;
  let attacker: Upstream;
  let slow: Upstream;
  let endlessToken: Upstream;
  let patchbay: TestPatchbay;
  let functions: FunctionsFolder;

  beforeAll(async () => {
    provider = await startUpstream();
    // Another machine on the network, as far as the host names go.
    attacker = await startUpstream({ host: '127.0.0.2' });
    slow = await startUpstream();
    // A token endpoint that never stops sending.
    endlessToken = await startUpstream();
    endlessToken.setFallback(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      while (!res.destroyed) {
        if (res.write(chunk)) continue;
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off('drain', go).off('close', go);
            resolve();
          };
          res.on('drain', go).on('close', go);
        });
      }
    });
    functions = await writeFunctions(FUNCTIONS);
    const apiKey = (base: string, extra: Record<string, unknown> = {}) => ({
      auth_mode: 'API_KEY',
      proxy: { base_url: base, headers: { 'x-api-key': '${apiKey}' }, ...extra },
    });
    patchbay = await startPatchbay({
      label: 'attacks',
      functionsDir: functions.dir,
      env: { PATCHBAY_PROXY_MAX_WAIT_MS: '1500' },
      providers: {
        alpha: apiKey(provider.url),
        beta: apiKey(provider.url),
        // Lists the attacker's machine as one of its own hosts: pacing per host is checked there.
        gamma: apiKey(provider.url, { allowed_hosts: ['127.0.0.2'] }),
        delta: apiKey(slow.url, { max_concurrency: 2 }),
        epsilon: { auth_mode: 'OAUTH2', token_url: `${endlessToken.url}/token`, proxy: { base_url: provider.url } },
        // Zendesk-style: the token URL is filled from connection config.
        zeta: { auth_mode: 'OAUTH2', token_url: 'http://${connectionConfig.subdomain}.zendesk.test/token', proxy: { base_url: provider.url } },
        // Nango's `unauthenticated`: no credentials, no base URL; an override is the only way.
        open: { auth_mode: 'NONE' },
      },
    });
    for (const [key, id, secret] of [
      ['alpha', 'a-1', ALPHA_KEY],
      ['beta', 'b-1', BETA_KEY],
      ['gamma', 'g-1', 'gamma-key'],
      ['delta', 'd-1', 'delta-key'],
    ] as const) {
      expect((await patchbay.request('POST', '/integrations', { body: { provider: key, unique_key: key } })).status).toBe(200);
      const created = await patchbay.request('POST', '/connections', {
        body: { provider_config_key: key, connection_id: id, credentials: { type: 'API_KEY', apiKey: secret } },
      });
      expect(created.status).toBe(201);
    }
    const oauth = { type: 'OAUTH2', client_id: 'client-1', client_secret: 'client-secret-xyz' };
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'epsilon', unique_key: 'epsilon', credentials: oauth } })).status).toBe(200);
    const expired = await patchbay.request('POST', '/connections', {
      body: {
        provider_config_key: 'epsilon',
        connection_id: 'e-1',
        credentials: { type: 'OAUTH2', access_token: 'expired', refresh_token: 'refresh-1', expires_at: '2020-01-01T00:00:00Z' },
      },
    });
    expect(expired.status).toBe(201);
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'zeta', unique_key: 'zeta', credentials: oauth } })).status).toBe(200);
    const steered = await patchbay.request('POST', '/connections', {
      body: {
        provider_config_key: 'zeta',
        connection_id: 'z-1',
        connection_config: { subdomain: `${new URL(attacker.url).host}/steal?` },
        credentials: { type: 'OAUTH2', access_token: 'expired', refresh_token: 'refresh-secret-zeta', expires_at: '2020-01-01T00:00:00Z' },
        verify: false,
      },
    });
    expect(steered.status).toBe(201);
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'open', unique_key: 'open' } })).status).toBe(200);
    expect((await patchbay.request('POST', '/connections', { body: { provider_config_key: 'open', connection_id: 'n-1', credentials: { type: 'NONE' } } })).status).toBe(201);
  });
  afterAll(async () => {
    await patchbay?.stop();
    await Promise.all([provider?.close(), attacker?.close(), slow?.close(), endlessToken?.close(), functions?.remove()]);
  });

  const trigger = (action: string, input: unknown, integration = 'alpha', connection = 'a-1') =>
    patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': integration, 'connection-id': connection },
      body: { action_name: action, input },
    });
  const proxy = (key: string, id: string, path: string, headers: Record<string, string> = {}) =>
    patchbay.request('GET', `/proxy${path}`, { headers: { 'provider-config-key': key, 'connection-id': id, ...headers } });

  interface Attack {
    name: string;
    attempt: () => Promise<TestResponse>;
    status: number;
    code?: string;
    /** What else a user must see, beyond the status and code. */
    check?: (response: TestResponse) => void | Promise<void>;
  }

  const attacks: Attack[] = [
    {
      name: "a function sends another integration's credentials to the attacker's host",
      attempt: () => trigger('call', { providerConfigKey: 'beta', connectionId: 'b-1', baseUrlOverride: attacker.url }),
      status: 403,
      code: 'integration_not_allowed',
    },
    {
      name: "a function calls the provider with another integration's connection",
      attempt: () => trigger('call', { providerConfigKey: 'beta', connectionId: 'b-1' }),
      status: 403,
      code: 'integration_not_allowed',
    },
    {
      name: "a function reads another integration's connection",
      attempt: () => trigger('peek', { key: 'beta', id: 'b-1' }),
      status: 403,
      code: 'integration_not_allowed',
    },
    {
      name: "a function sends its own credentials to a host that is not the provider's",
      attempt: () => trigger('call', { baseUrlOverride: `${attacker.url}/collect` }),
      status: 400,
      code: 'base_url_override_not_allowed',
    },
    {
      name: 'a function passes a base URL override that is not a URL',
      attempt: () => trigger('call', { baseUrlOverride: 'not a url' }),
      status: 400,
      code: 'base_url_override_not_allowed',
    },
    {
      name: 'a function sets the Host header',
      attempt: () => trigger('call', { headers: { host: 'internal.admin.example', 'x-trace': 'kept' } }),
      status: 200,
      check: (response) => {
        expect(response.json.headers.host).toBe(new URL(provider.url).host);
        expect(response.json.headers['x-trace']).toBe('kept');
        expect(response.json.headers['x-api-key']).toBe(ALPHA_KEY);
      },
    },
    {
      name: 'a function sets a header value that would split the request',
      attempt: () => trigger('call', { headers: { 'x-evil': 'a\r\nx-injected: 1' } }),
      status: 400,
      code: 'invalid_headers',
    },
    {
      name: "/proxy with a Base-Url-Override to a host that is not the provider's",
      attempt: () => proxy('alpha', 'a-1', '/steal', { 'base-url-override': attacker.url }),
      status: 400,
      code: 'base_url_override_not_allowed',
    },
    {
      name: "/proxy with a Base-Url-Override on the provider's own host still works",
      attempt: () => proxy('alpha', 'a-1', '/whoami', { 'base-url-override': `${provider.url}/v2` }),
      status: 200,
      check: (response) => {
        expect(response.json.path).toBe('/v2/whoami');
        expect(response.json.headers['x-api-key']).toBe(ALPHA_KEY);
      },
    },
    {
      name: 'Retry-After: 2147483647 does not lock the connection',
      attempt: async () => {
        provider.script(reply(429, { error: 'slow down' }, { 'retry-after': '2147483647' }));
        const first = await proxy('alpha', 'a-1', '/limited');
        expect(first.status).toBe(429);
        expect(first.json.error.code).toBe('rate_limited');
        return proxy('alpha', 'a-1', '/after');
      },
      status: 200,
      check: (response) => expect(response.json.path).toBe('/after'),
    },
    {
      name: "a 429 from another of the provider's hosts does not hold calls to its base URL",
      attempt: async () => {
        attacker.script(reply(429, {}, { 'retry-after': '1800' }));
        const other = await proxy('gamma', 'g-1', '/x', { 'base-url-override': attacker.url });
        expect(other.json.error.code).toBe('rate_limited');
        return proxy('gamma', 'g-1', '/base');
      },
      status: 200,
    },
    {
      name: 'an operator clears a 30-minute hold',
      attempt: async () => {
        provider.script(reply(429, {}, { 'retry-after': '1800' }));
        expect((await proxy('gamma', 'g-1', '/limited')).status).toBe(429);
        const held = await proxy('gamma', 'g-1', '/held');
        expect(held.json.error.code).toBe('rate_limited');
        const state = await patchbay.request('GET', '/connections/g-1/rate-limit?provider_config_key=gamma');
        expect(state.json.hosts).toContainEqual(expect.objectContaining({ host: '127.0.0.1', held_until: expect.any(String) }));
        expect((await patchbay.request('DELETE', '/connections/g-1/rate-limit?provider_config_key=gamma')).json).toEqual({ success: true });
        await expect.poll(async () => (await proxy('gamma', 'g-1', '/released')).status).toBe(200);
        return patchbay.request('GET', '/connections/g-1/rate-limit?provider_config_key=gamma');
      },
      status: 200,
      check: (response) => expect(response.json.hosts.every((host: { held_until: unknown }) => host.held_until === null)).toBe(true),
    },
    {
      name: 'a run killed at its time limit leaves no calls holding the connection',
      attempt: async () => {
        slow.setFallback((req, res, received) => (received.path.startsWith('/hang') ? hang()(req, res, received) : echo()(req, res, received)));
        const killed = await trigger('flood', null, 'delta', 'd-1');
        expect(killed.json.error.code).toBe('execution_timeout');
        return proxy('delta', 'd-1', '/after-the-run');
      },
      status: 200,
      check: (response) => expect(response.json.path).toBe('/after-the-run'),
    },
    {
      name: 'a call waiting for a slot longer than PATCHBAY_PROXY_MAX_WAIT_MS answers 429',
      attempt: async () => {
        slow.setFallback((req, res, received) => (received.path.startsWith('/hang') ? hang()(req, res, received) : echo()(req, res, received)));
        const controller = new AbortController();
        const busy = ['/hang-1', '/hang-2'].map((path) =>
          fetch(`${patchbay.url}/proxy${path}`, {
            headers: { authorization: `Bearer ${patchbay.secretKey}`, 'provider-config-key': 'delta', 'connection-id': 'd-1' },
            signal: controller.signal,
          }).catch(() => undefined),
        );
        await expect.poll(() => slow.requests.filter((r) => r.path.startsWith('/hang-')).length).toBe(2);
        const waited = await proxy('delta', 'd-1', '/third');
        controller.abort();
        await Promise.all(busy);
        return waited;
      },
      status: 429,
      code: 'rate_limited',
      check: (response) => expect(response.json.error.retry_after_ms).toBeGreaterThan(0),
    },
    {
      name: "a connection config value cannot move the token URL off the provider's domain (refresh token and client secret stay home)",
      attempt: async () => {
        const response = await proxy('zeta', 'z-1', '/x');
        expect(attacker.requests).toEqual([]);
        return response;
      },
      status: 424,
      code: 'refresh_token_external_error',
    },
    {
      name: 'a provider without credentials or base URL (Nango\'s unauthenticated) still takes a Base-Url-Override',
      attempt: () => proxy('open', 'n-1', '/public', { 'base-url-override': provider.url }),
      status: 200,
      check: (response) => expect(response.json.path).toBe('/public'),
    },
    {
      name: 'a token endpoint that never stops sending is cut off, not read into memory',
      attempt: () => proxy('epsilon', 'e-1', '/x'),
      status: 424,
      code: 'refresh_token_external_error',
    },
  ];

  it.each(attacks)('$name', async (attack) => {
    attacker.clear();
    const response = await attack.attempt();
    expect({ status: response.status, code: response.json?.error?.code }).toEqual({ status: attack.status, code: attack.code });
    await attack.check?.(response);
    // Whatever happened, nothing reached the attacker's machine unless the row sent it there
    // on purpose, and no other integration's key came back.
    expect(attacker.requests.filter((r) => r.headers['x-api-key'] !== undefined && r.headers['x-api-key'] !== 'gamma-key')).toEqual([]);
    expect(response.text).not.toContain(BETA_KEY);
  });

  it('stores no credential in any run or log', async () => {
    const logs = await patchbay.request('GET', '/logs?limit=500');
    expect(logs.status).toBe(200);
    expect(logs.text).not.toContain(BETA_KEY);
    expect(logs.text).not.toContain(ALPHA_KEY);
  });
});

describe('attacks: egress with PATCHBAY_ALLOW_PRIVATE_EGRESS unset', () => {
  let patchbay: TestPatchbay;
  let tokens: TokenServer;
  const ownAddress = Object.values(os.networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .find((entry) => entry.family === 'IPv4' && !entry.internal)?.address;

  beforeAll(async () => {
    tokens = await startTokenServer();
    const port = new URL(tokens.url).port;
    const oauth = (tokenUrl: string) => ({
      auth_mode: 'OAUTH2',
      authorization_url: 'https://auth.example.com/authorize',
      token_url: tokenUrl,
      proxy: { base_url: 'https://api.example.com' },
    });
    patchbay = await startPatchbay({
      label: 'attacks-egress',
      env: { PATCHBAY_ALLOW_PRIVATE_EGRESS: 'false' },
      providers: {
        open: { auth_mode: 'API_KEY', proxy: { base_url: 'https://api.example.com', headers: { 'x-api-key': '${apiKey}' } } },
        'literal-token': oauth(`http://127.0.0.1:${port}/token`),
        'templated-token': oauth('http://${connectionConfig.host}/token'),
      },
    });
    for (const key of ['open', 'literal-token', 'templated-token']) {
      const credentials = key === 'open' ? undefined : { type: 'OAUTH2', client_id: 'client-1', client_secret: 'client-secret-xyz' };
      expect((await patchbay.request('POST', '/integrations', { body: { provider: key, unique_key: key, credentials } })).status).toBe(200);
    }
    expect(
      (await patchbay.request('POST', '/connections', { body: { provider_config_key: 'open', connection_id: 'o-1', credentials: { type: 'API_KEY', apiKey: 'k' } } })).status,
    ).toBe(201);
    for (const key of ['literal-token', 'templated-token']) {
      const created = await patchbay.request('POST', '/connections', {
        body: {
          provider_config_key: key,
          connection_id: 'c-1',
          connection_config: { host: `127.0.0.1:${port}` },
          credentials: { type: 'OAUTH2', access_token: 'expired', refresh_token: 'refresh-secret-xyz', expires_at: '2020-01-01T00:00:00Z' },
        },
      });
      expect(created.status).toBe(201);
    }
  });
  afterAll(async () => {
    await patchbay?.stop();
    await tokens?.close();
  });

  const proxy = (key: string, id: string, headers: Record<string, string> = {}) =>
    patchbay.request('GET', '/proxy/x', { headers: { 'provider-config-key': key, 'connection-id': id, ...headers } });

  const rows: { name: string; attempt: () => Promise<TestResponse>; status: number; code: string }[] = [
    ...[
      ['SIIT-embedded loopback', 'http://[::ffff:0:7f00:1]/'],
      ['6to4-embedded loopback', 'http://[2002:7f00:1::1]/'],
      ['Teredo', 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/'],
      ['IPv4-compatible loopback', 'http://[::7f00:1]/'],
      ['documentation range', 'http://192.0.2.10/'],
      ...(ownAddress === undefined ? [] : [["the machine's own interface address", `http://${ownAddress}/`]]),
    ].map(([what, url]) => ({
      name: `Base-Url-Override to ${what} (${url})`,
      attempt: () => proxy('open', 'o-1', { 'base-url-override': url as string }),
      status: 400,
      code: 'base_url_override_not_allowed',
    })),
    {
      name: 'a loopback token_url gets no refresh token or client secret',
      attempt: () => proxy('literal-token', 'c-1'),
      status: 424,
      code: 'refresh_token_external_error',
    },
    {
      name: 'a token_url filled from connection config gets no refresh token or client secret',
      attempt: () => proxy('templated-token', 'c-1'),
      status: 424,
      code: 'refresh_token_external_error',
    },
  ];

  it.each(rows)('$name', async (row) => {
    const response = await row.attempt();
    expect({ status: response.status, code: response.json?.error?.code }).toEqual({ status: row.status, code: row.code });
    expect(tokens.requests).toEqual([]);
    expect(response.text).not.toMatch(/refresh-secret-xyz|client-secret-xyz/);
  });
});

describe('attacks: PATCHBAY_FUNCTIONS_CROSS_INTEGRATION=true', () => {
  let provider: Upstream;
  let attacker: Upstream;
  let patchbay: TestPatchbay;
  let functions: FunctionsFolder;

  beforeAll(async () => {
    provider = await startUpstream();
    attacker = await startUpstream({ host: '127.0.0.2' });
    functions = await writeFunctions({ 'alpha/actions/call.ts': FUNCTIONS['alpha/actions/call.ts'] });
    const apiKey = { auth_mode: 'API_KEY', proxy: { base_url: provider.url, headers: { 'x-api-key': '${apiKey}' } } };
    patchbay = await startPatchbay({
      label: 'attacks-cross',
      functionsDir: functions.dir,
      env: { PATCHBAY_FUNCTIONS_CROSS_INTEGRATION: 'true' },
      providers: { alpha: apiKey, beta: apiKey },
    });
    for (const [key, id, secret] of [
      ['alpha', 'a-1', ALPHA_KEY],
      ['beta', 'b-1', BETA_KEY],
    ] as const) {
      await patchbay.request('POST', '/integrations', { body: { provider: key, unique_key: key } });
      await patchbay.request('POST', '/connections', { body: { provider_config_key: key, connection_id: id, credentials: { type: 'API_KEY', apiKey: secret } } });
    }
  });
  afterAll(async () => {
    await patchbay?.stop();
    await Promise.all([provider?.close(), attacker?.close(), functions?.remove()]);
  });

  const trigger = (input: unknown) =>
    patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'alpha', 'connection-id': 'a-1' },
      body: { action_name: 'call', input },
    });

  it("lets a function use another integration's connection when the operator allows it", async () => {
    const response = await trigger({ providerConfigKey: 'beta', connectionId: 'b-1' });
    expect(response.status).toBe(200);
    expect(response.json.headers['x-api-key']).toBe(BETA_KEY);
  });

  it("still never sends that integration's credentials to a host that is not its provider's", async () => {
    const response = await trigger({ providerConfigKey: 'beta', connectionId: 'b-1', baseUrlOverride: attacker.url });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('base_url_override_not_allowed');
    expect(attacker.requests).toEqual([]);
  });
});
