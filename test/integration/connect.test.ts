// Connect without a browser: the server side of what @nangohq/frontend does (WebSocket, popup
// URL, provider redirect, callback), driven step by step with real HTTP against a fake OAuth2
// authorization server, and the api-auth routes. connect-browser.test.ts drives the same
// through Chromium.
import { Nango } from '@nangohq/node';
import { getGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import pg from 'pg';
import pino from 'pino';
import { Writable } from 'node:stream';
import { startOAuthProvider, type OAuthProvider } from '../harness/oauth-provider.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const WEBHOOK_SECRET = 'connect-webhook-secret-123456';

interface Browser {
  socket: WebSocket;
  wsClientId: string;
  messages: Record<string, unknown>[];
}

describe('Connect: sessions, OAuth2 with PKCE, API keys', () => {
  let provider: OAuthProvider;
  let keyApi: Upstream;
  let receiver: Upstream;
  let patchbay: TestPatchbay;
  let nango: Nango;
  // Everything the process would print, at debug level: no secret may be in it.
  const printed: string[] = [];

  beforeAll(async () => {
    provider = await startOAuthProvider();
    keyApi = await startUpstream();
    receiver = await startUpstream();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        printed.push(chunk.toString());
        done();
      },
    });
    patchbay = await startPatchbay({
      label: 'connect',
      logger: pino({ level: 'debug' }, sink),
      env: { PATCHBAY_WEBHOOK_URL: `${receiver.url}/hooks`, PATCHBAY_WEBHOOK_SECRET: WEBHOOK_SECRET },
      providers: {
        'fake-oauth': provider.catalogEntry({ authorization_params: { prompt: 'consent' }, default_scopes: ['read'] }),
        // Nango's other knobs: placeholders filled from what the end user enters, client
        // authentication as Basic, connection config read from the token response.
        'fake-tenant': {
          display_name: 'Fake Tenant',
          auth_mode: 'OAUTH2',
          authorization_url: `${provider.authorizeUrl}?tenant=\${connectionConfig.tenant}`,
          token_url: provider.tokenUrl,
          token_request_auth_method: 'basic',
          token_response_metadata: ['instance_url'],
          connection_config: { tenant: { type: 'string', title: 'Tenant', pattern: '^[a-z]+$' } },
          proxy: { base_url: `${provider.url}/api` },
        },
        'fake-basic': {
          display_name: 'Fake Basic',
          auth_mode: 'BASIC',
          proxy: { base_url: keyApi.url, verification: { method: 'GET', endpoints: ['/me'] } },
        },
        'fake-key': {
          display_name: 'Fake Key',
          auth_mode: 'API_KEY',
          proxy: { base_url: keyApi.url, headers: { 'x-api-key': '${apiKey}' }, verification: { method: 'GET', endpoints: ['/me'] } },
        },
      },
    });
    nango = new Nango({ secretKey: patchbay.secretKey, host: patchbay.url });
    const oauth = { type: 'OAUTH2', client_id: 'client-abc', client_secret: 'client-secret-xyz', scopes: 'read,write' };
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'fake-oauth', unique_key: 'fake', credentials: oauth } })).status).toBe(200);
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'fake-key', unique_key: 'keyed' } })).status).toBe(200);
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'fake-oauth', unique_key: 'other', credentials: oauth } })).status).toBe(200);
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'fake-tenant', unique_key: 'tenant', credentials: oauth } })).status).toBe(200);
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'fake-basic', unique_key: 'basic' } })).status).toBe(200);
  });
  beforeEach(() => {
    provider.mode = 'approve';
    provider.behaviour = { format: 'json', refreshToken: true, failWith: undefined, extra: {} };
    keyApi.clear();
  });
  afterAll(async () => {
    await patchbay?.stop();
    await Promise.all([provider?.close(), keyApi?.close(), receiver?.close()]);
  });

  const newSession = async (extra: Record<string, unknown> = {}) =>
    (
      await nango.createConnectSession({
        end_user: { id: 'user-42', email: 'ada@example.com', display_name: 'Ada', tags: { plan: 'pro' } },
        organization: { id: 'org-7', display_name: 'Acme' },
        allowed_integrations: ['fake', 'keyed'],
        tags: { origin: 'test' },
        ...extra,
      } as never)
    ).data;

  const openSocket = async (): Promise<Browser> => {
    const socket = new WebSocket(patchbay.url.replace('http', 'ws') + '/', { headers: { origin: 'http://app.example' } });
    const messages: Record<string, unknown>[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0]?.message_type).toBe('connection_ack');
    return { socket, wsClientId: messages[0]?.ws_client_id as string, messages };
  };

  /** What the popup does: GET /oauth/connect → provider → back to the callback, following redirects by hand. */
  const popup = async (path: string) => {
    const hop = async (url: string) => {
      const response = await getGlobalDispatcher().request({ origin: new URL(url).origin, path: `${new URL(url).pathname}${new URL(url).search}`, method: 'GET' });
      const body = await response.body.text();
      return { status: response.statusCode, location: response.headers.location as string | undefined, body, headers: response.headers };
    };
    const first = await hop(`${patchbay.url}${path}`);
    if (first.status !== 302 || first.location === undefined) return { first, authorize: undefined, callback: first };
    const authorize = await hop(first.location);
    const callback = authorize.location === undefined ? authorize : await hop(authorize.location);
    return { first, authorize, callback };
  };

  /** Moves a session's clock: the database is the only place its expiry lives. */
  const sql = async (text: string) => {
    const client = new pg.Client({ connectionString: patchbay.database.url });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };

  const connectionsOf = async (endUserId: string) => (await patchbay.request('GET', `/connections?endUserId=${endUserId}`)).json.connections as Record<string, any>[];

  it('creates a session with @nangohq/node and reads it back with the session token', async () => {
    const session = await newSession();
    expect(session.token).toMatch(/^nango_connect_session_[0-9a-f]{64}$/);
    expect(session.connect_link).toBe(`${patchbay.url}/connect/?session_token=${session.token}`);
    expect(Date.parse(session.expires_at) - Date.now()).toBeGreaterThan(25 * 60_000);
    const read = await patchbay.request('GET', '/connect/session', { auth: session.token });
    expect(read.status).toBe(200);
    expect(read.json.data).toMatchObject({
      allowed_integrations: ['fake', 'keyed'],
      endUser: { id: 'user-42', email: 'ada@example.com', display_name: 'Ada', tags: { plan: 'pro' }, organization: { id: 'org-7', display_name: 'Acme' } },
      isReconnecting: false,
    });
    const integrations = await patchbay.request('GET', '/connect/integrations', { auth: session.token });
    expect(integrations.json.data.map((i: { unique_key: string }) => i.unique_key).sort()).toEqual(['fake', 'keyed']);
    expect(integrations.json.data.find((i: { unique_key: string }) => i.unique_key === 'keyed').credentials).toHaveProperty('apiKey');
  });

  it('answers CORS preflights and requests from another origin on the session routes', async () => {
    const session = await newSession();
    const preflight = await patchbay.request('OPTIONS', '/connect/session', {
      auth: false,
      headers: { origin: 'http://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('*');
    expect(String(preflight.headers['access-control-allow-headers'])).toContain('authorization');
    const read = await patchbay.request('GET', '/connect/session', { auth: session.token, headers: { origin: 'http://app.example' } });
    expect(read.headers['access-control-allow-origin']).toBe('*');
  });

  it('refuses a wrong, a deleted or an expired session token with 401', async () => {
    expect((await patchbay.request('GET', '/connect/session', { auth: 'nango_connect_session_' + '0'.repeat(64) })).json.error.code).toBe('invalid_connect_session_token');
    expect((await patchbay.request('GET', '/connect/session', { auth: patchbay.secretKey })).json.error.code).toBe('invalid_connect_session_token');
    const deleted = await newSession();
    expect((await patchbay.request('DELETE', '/connect/session', { auth: deleted.token })).status).toBe(204);
    expect((await patchbay.request('GET', '/connect/session', { auth: deleted.token })).status).toBe(401);
    const expired = await newSession();
    await sql("UPDATE connect_sessions SET expires_at = now() - interval '1 second'");
    const read = await patchbay.request('GET', '/connect/session', { auth: expired.token });
    expect(read.status).toBe(401);
    expect(read.json.error.code).toBe('expired_connect_session_token');
  });

  it('runs the OAuth2 flow with PKCE: the connection is stored with its end user and proxies with the granted token', async () => {
    const session = await newSession();
    const browser = await openSocket();
    const { first, authorize, callback } = await popup(`/oauth/connect/fake?connect_session_token=${session.token}&ws_client_id=${browser.wsClientId}&user_scope=chat:write&authorization_params[access_type]=offline`);
    expect(first.status).toBe(302);
    const sent = provider.authorizations.at(-1)?.params as URLSearchParams;
    expect(sent.get('client_id')).toBe('client-abc');
    expect(sent.get('scope')).toBe('read,write');
    expect(sent.get('user_scope')).toBe('chat:write');
    expect(sent.get('prompt')).toBe('consent');
    expect(sent.get('access_type')).toBe('offline');
    expect(sent.get('code_challenge_method')).toBe('S256');
    expect(sent.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sent.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sent.get('redirect_uri')).toMatch(/\/oauth\/callback$/);
    expect(authorize?.status).toBe(302);
    expect(callback.status).toBe(200);
    expect(callback.headers['content-security-policy']).toContain("script-src 'self'");
    expect(callback.body).toContain('Connected');

    await expect.poll(() => browser.messages.length).toBe(2);
    const success = browser.messages[1] as { message_type: string; provider_config_key: string; connection_id: string };
    expect(success).toMatchObject({ message_type: 'success', provider_config_key: 'fake', is_pending: false });
    browser.socket.close();

    const [connection] = (await connectionsOf('user-42')).filter((c) => c.connection_id === success.connection_id);
    expect(connection).toMatchObject({ provider_config_key: 'fake', end_user: { id: 'user-42', organization: { id: 'org-7' } }, tags: { origin: 'test' } });
    const proxied = await patchbay.request('GET', '/proxy/whoami', { headers: { 'provider-config-key': 'fake', 'connection-id': success.connection_id } });
    expect(proxied.json.authorization).toBe(`Bearer ${provider.issued.at(-1)}`);
    const stored = await patchbay.request('GET', `/connections/${success.connection_id}?provider_config_key=fake&refresh_token=true`);
    expect(stored.json.credentials.refresh_token).toMatch(/^rt-/);
  });

  it.each([
    ['form-encoded', { format: 'form' as const, refreshToken: true }],
    ['without a refresh token', { format: 'json' as const, refreshToken: false }],
  ])('accepts a %s token answer', async (_name, behaviour) => {
    provider.behaviour = { ...provider.behaviour, ...behaviour };
    const session = await newSession();
    const browser = await openSocket();
    await popup(`/oauth/connect/fake?connect_session_token=${session.token}&ws_client_id=${browser.wsClientId}`);
    await expect.poll(() => browser.messages.at(-1)?.message_type).toBe('success');
    const connectionId = browser.messages.at(-1)?.connection_id as string;
    const stored = await patchbay.request('GET', `/connections/${connectionId}?provider_config_key=fake&refresh_token=true`);
    expect(stored.json.credentials.access_token).toBe(provider.issued.at(-1));
    expect(stored.json.credentials.refresh_token ?? null).toEqual(behaviour.refreshToken ? expect.stringMatching(/^rt-/) : null);
    browser.socket.close();
  });

  const failures: { name: string; arrange: () => void; errorType: string; status: number }[] = [
    { name: 'the end user denies consent', arrange: () => void (provider.mode = 'deny'), errorType: 'access_denied', status: 400 },
    { name: 'the token endpoint fails', arrange: () => void (provider.behaviour.failWith = 500), errorType: 'token_exchange_failed', status: 502 },
  ];
  it.each(failures)('$name: an error message, a readable page, nothing created', async ({ arrange, errorType, status }) => {
    arrange();
    const session = await newSession({ end_user: { id: `failing-${errorType}` } });
    const browser = await openSocket();
    const { callback } = await popup(`/oauth/connect/fake?connect_session_token=${session.token}&ws_client_id=${browser.wsClientId}`);
    expect(callback.status).toBe(status);
    expect(callback.body).toContain('Could not connect');
    expect(callback.body).not.toContain('<b>');
    await expect.poll(() => browser.messages.at(-1)?.message_type).toBe('error');
    expect(browser.messages.at(-1)?.error_type).toBe(errorType);
    expect(await connectionsOf(`failing-${errorType}`)).toEqual([]);
    browser.socket.close();
  });

  it('refuses a replayed or unknown state', async () => {
    const session = await newSession({ end_user: { id: 'replay' } });
    const { authorize } = await popup(`/oauth/connect/fake?connect_session_token=${session.token}`);
    const again = await getGlobalDispatcher().request({ origin: patchbay.url, path: new URL(authorize?.location as string).pathname + new URL(authorize?.location as string).search, method: 'GET' });
    expect(again.statusCode).toBe(400);
    expect(await again.body.text()).toContain('already used');
    const unknown = await patchbay.request('GET', '/oauth/callback?state=forged&code=x', { auth: false });
    expect(unknown.status).toBe(400);
    expect(await connectionsOf('replay')).toHaveLength(1);
  });

  it('refuses an integration the session does not allow, and an expired session, on the socket too', async () => {
    const session = await newSession();
    const browser = await openSocket();
    const { callback } = await popup(`/oauth/connect/other?connect_session_token=${session.token}&ws_client_id=${browser.wsClientId}`);
    expect(callback.status).toBe(403);
    await expect.poll(() => browser.messages.at(-1)?.error_type).toBe('integration_not_allowed');
    await sql("UPDATE connect_sessions SET expires_at = now() - interval '1 second'");
    const expired = await popup(`/oauth/connect/fake?connect_session_token=${session.token}&ws_client_id=${browser.wsClientId}`);
    expect(expired.callback.status).toBe(401);
    await expect.poll(() => browser.messages.at(-1)?.error_type).toBe('expired_connect_session_token');
    browser.socket.close();
  });

  it('bounds the authorizations one session token can start (a script in a loop fills no table)', async () => {
    const session = await newSession({ end_user: { id: 'looping' } });
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      const response = await getGlobalDispatcher().request({ origin: patchbay.url, path: `/oauth/connect/fake?connect_session_token=${session.token}`, method: 'GET' });
      await response.body.dump();
      statuses.push(response.statusCode);
    }
    expect(statuses.slice(0, 20).every((status) => status === 302)).toBe(true);
    expect(statuses[20]).toBe(429);
  });

  it("fills the catalog's placeholders from the end user's values, authenticates the client with Basic, reads connection config from the token answer", async () => {
    provider.behaviour.extra = { instance_url: 'https://acme.example.com' };
    const session = await newSession({ end_user: { id: 'tenant-user' }, allowed_integrations: ['tenant'] });
    const refused = await popup(`/oauth/connect/tenant?connect_session_token=${session.token}&params[tenant]=Not-Valid`);
    expect(refused.callback.status).toBe(400);
    expect(refused.callback.body).toContain('Tenant does not have the expected format');
    const browser = await openSocket();
    await popup(`/oauth/connect/tenant?connect_session_token=${session.token}&ws_client_id=${browser.wsClientId}&params[tenant]=acme`);
    await expect.poll(() => browser.messages.at(-1)?.message_type).toBe('success');
    browser.socket.close();
    expect(provider.authorizations.at(-1)?.params.get('tenant')).toBe('acme');
    const tokenRequest = provider.tokenRequests.at(-1);
    expect(tokenRequest?.authorization).toBe(`Basic ${Buffer.from('client-abc:client-secret-xyz').toString('base64')}`);
    expect(tokenRequest?.params.client_secret).toBeUndefined();
    const [connection] = await connectionsOf('tenant-user');
    const full = await patchbay.request('GET', `/connections/${connection?.connection_id}?provider_config_key=tenant`);
    expect(full.json.connection_config).toEqual({ tenant: 'acme', instance_url: 'https://acme.example.com' });
  });

  it('connects a username and password through /api-auth/basic after the provider accepted them', async () => {
    const session = await newSession({ end_user: { id: 'basic-user' }, allowed_integrations: ['basic'] });
    keyApi.setFallback((req, res) => {
      const ok = req.headers.authorization === `Basic ${Buffer.from('ada:pa55word').toString('base64')}`;
      res.writeHead(ok ? 200 : 401);
      res.end();
    });
    const refused = await patchbay.request('POST', `/api-auth/basic/basic?connect_session_token=${session.token}`, { auth: false, body: { username: 'ada', password: 'wrong' } });
    expect(refused.json.error.code).toBe('connection_test_failed');
    const accepted = await patchbay.request('POST', `/api-auth/basic/basic?connect_session_token=${session.token}`, { auth: false, body: { username: 'ada', password: 'pa55word' } });
    expect(accepted.status).toBe(200);
    expect(await connectionsOf('basic-user')).toHaveLength(1);
    const wrongMode = await patchbay.request('POST', `/api-auth/api-key/basic?connect_session_token=${session.token}`, { auth: false, body: { apiKey: 'x' } });
    expect(wrongMode.status).toBe(400);
  });

  it('reconnects an existing connection: same id, new token, end user kept', async () => {
    const first = await newSession({ end_user: { id: 'reconnecting' } });
    const browser = await openSocket();
    await popup(`/oauth/connect/fake?connect_session_token=${first.token}&ws_client_id=${browser.wsClientId}`);
    await expect.poll(() => browser.messages.at(-1)?.message_type).toBe('success');
    const connectionId = browser.messages.at(-1)?.connection_id as string;
    const reconnect = (await nango.createReconnectSession({ connection_id: connectionId, integration_id: 'fake' } as never)).data;
    expect((await patchbay.request('GET', '/connect/session', { auth: reconnect.token })).json.data).toMatchObject({ isReconnecting: true, connection_id: connectionId });
    await popup(`/oauth/connect/fake?connect_session_token=${reconnect.token}&ws_client_id=${browser.wsClientId}`);
    await expect.poll(() => browser.messages.filter((m) => m.message_type === 'success').length).toBe(2);
    expect(browser.messages.at(-1)?.connection_id).toBe(connectionId);
    const connections = await connectionsOf('reconnecting');
    expect(connections).toHaveLength(1);
    const proxied = await patchbay.request('GET', '/proxy/whoami', { headers: { 'provider-config-key': 'fake', 'connection-id': connectionId } });
    expect(proxied.json.authorization).toBe(`Bearer ${provider.issued.at(-1)}`);
    browser.socket.close();
  });

  it('connects an API key after the provider accepted it, and refuses one it does not', async () => {
    const session = await newSession({ end_user: { id: 'keyed-user' } });
    keyApi.setFallback((req, res) => {
      const ok = req.headers['x-api-key'] === 'good-key-123';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? '{"me":true}' : '{"error":"bad key"}');
    });
    const refused = await patchbay.request('POST', `/api-auth/api-key/keyed?connect_session_token=${session.token}`, { auth: false, body: { apiKey: 'bad-key-456' } });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe('connection_test_failed');
    expect(refused.text).not.toContain('bad-key-456');
    expect(await connectionsOf('keyed-user')).toEqual([]);
    const accepted = await patchbay.request('POST', `/api-auth/api-key/keyed?connect_session_token=${session.token}`, { auth: false, body: { apiKey: 'good-key-123' } });
    expect(accepted.status).toBe(200);
    expect(accepted.json).toEqual({ providerConfigKey: 'keyed', connectionId: expect.any(String) });
    expect(await connectionsOf('keyed-user')).toHaveLength(1);
  });

  it('refuses an API key no HTTP header can hold before asking the provider, and stores nothing', async () => {
    const session = await newSession({ end_user: { id: 'unsafe-key-user' } });
    const rule = 'must contain only printable ASCII characters, and no space at either end (it is sent in an HTTP header)';
    for (const apiKey of ['good-key-123…', 'good-key-123\n', ' good-key-123', 'clé-123']) {
      const refused = await patchbay.request('POST', `/api-auth/api-key/keyed?connect_session_token=${session.token}`, { auth: false, body: { apiKey } });
      expect(refused.status).toBe(400);
      expect(refused.json.error).toMatchObject({ code: 'invalid_body', message: `Invalid request body. apiKey: ${rule}`, errors: [{ path: ['apiKey'], message: rule }] });
    }
    expect(keyApi.requests).toEqual([]);
    expect(await connectionsOf('unsafe-key-user')).toEqual([]);
  });

  it('takes any text as a username and password: they go out base64-encoded', async () => {
    const session = await newSession({ end_user: { id: 'unicode-basic-user' }, allowed_integrations: ['basic'] });
    const expected = `Basic ${Buffer.from('adà:pä55wörd…').toString('base64')}`;
    keyApi.setFallback((req, res) => {
      res.writeHead(req.headers.authorization === expected ? 200 : 401);
      res.end();
    });
    const accepted = await patchbay.request('POST', `/api-auth/basic/basic?connect_session_token=${session.token}`, { auth: false, body: { username: 'adà', password: 'pä55wörd…' } });
    expect(accepted.status).toBe(200);
    const [connection] = await connectionsOf('unicode-basic-user');
    keyApi.clear();
    const proxied = await patchbay.request('GET', '/proxy/me', { headers: { 'provider-config-key': 'basic', 'connection-id': connection?.connection_id } });
    expect(proxied.status).toBe(200);
    expect(keyApi.requests.at(-1)?.headers.authorization).toBe(expected);
  });

  it('refuses an access token no HTTP header can hold from the token endpoint: a clear error, nothing created', async () => {
    provider.behaviour.extra = { access_token: 'gho_16C7e42F292c6912E7710c8…' };
    const session = await newSession({ end_user: { id: 'unsafe-token-user' } });
    const browser = await openSocket();
    const { callback } = await popup(`/oauth/connect/fake?connect_session_token=${session.token}&ws_client_id=${browser.wsClientId}`);
    const message = 'The token endpoint answered an access token with characters that cannot be sent in an HTTP header (only printable ASCII, without spaces).';
    expect(callback.status).toBe(502);
    expect(callback.body).toContain('Could not connect');
    expect(callback.body).toContain('cannot be sent in an HTTP header');
    expect(callback.body).not.toContain('gho_16C7e42F292c6912E7710c8');
    await expect.poll(() => browser.messages.at(-1)?.message_type).toBe('error');
    expect(browser.messages.at(-1)).toMatchObject({ error_type: 'token_exchange_failed', error_desc: message });
    expect(await connectionsOf('unsafe-token-user')).toEqual([]);
    expect(printed.join('')).not.toContain('gho_16C7e42F292c6912E7710c8');
    browser.socket.close();
  });

  it('sends an auth webhook with operation refresh when a refresh fails', async () => {
    const session = await newSession({ end_user: { id: 'refresh-fails' } });
    const browser = await openSocket();
    await popup(`/oauth/connect/fake?connect_session_token=${session.token}&ws_client_id=${browser.wsClientId}`);
    await expect.poll(() => browser.messages.at(-1)?.message_type).toBe('success');
    browser.socket.close();
    const connectionId = browser.messages.at(-1)?.connection_id as string;
    // The fake provider refuses refresh grants (it only knows authorization codes).
    const refreshed = await patchbay.request('GET', `/connections/${connectionId}?provider_config_key=fake&force_refresh=true`);
    expect(refreshed.status).toBe(424);
    await expect
      .poll(
        () =>
          receiver.requests
            .map((r) => JSON.parse(r.body.toString()))
            .find((b) => b.type === 'auth' && b.operation === 'refresh' && b.connectionId === connectionId),
        { timeout: 20_000 },
      )
      .toMatchObject({ success: false, providerConfigKey: 'fake', endUser: { endUserId: 'refresh-fails' }, error: { type: 'refresh_token_external_error' } });
  });

  it('sends signed auth webhooks without credentials, verified by @nangohq/node', async () => {
    await expect.poll(() => receiver.requests.filter((r) => JSON.parse(r.body.toString()).type === 'auth').length, { timeout: 20_000 }).toBeGreaterThan(0);
    const hooks = receiver.requests.filter((r) => JSON.parse(r.body.toString()).type === 'auth');
    const verifier = new Nango({ secretKey: patchbay.secretKey, host: patchbay.url, webhookSigningKey: WEBHOOK_SECRET } as never);
    for (const hook of hooks) {
      expect(verifier.verifyIncomingWebhookRequest(hook.body.toString(), hook.headers as Record<string, string>)).toBe(true);
      const body = JSON.parse(hook.body.toString());
      expect(body).toMatchObject({ from: 'nango', type: 'auth', environment: 'prod' });
      expect(hook.body.toString()).not.toMatch(/at-[0-9a-f]{16}|rt-[0-9a-f]{16}|client-secret-xyz|good-key-123/);
    }
    expect(hooks.map((h) => JSON.parse(h.body.toString())).some((b) => b.success === true && b.operation === 'creation' && b.endUser?.endUserId === 'user-42')).toBe(true);
  });

  it('keeps tokens, client secrets and session tokens out of /logs and of what the process prints', async () => {
    const logs = await patchbay.request('GET', '/logs?limit=500');
    const secrets = /at-[0-9a-f]{16}|rt-[0-9a-f]{16}|client-secret-xyz|nango_connect_session_[0-9a-f]{64}|good-key-123|bad-key-456/;
    expect(logs.text).not.toMatch(secrets);
    expect(printed.length).toBeGreaterThan(0);
    expect(printed.join('')).not.toMatch(secrets);
  });
});
