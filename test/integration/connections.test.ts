import { Nango } from '@nangohq/node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const SECRET_TOKEN = 'gho_SuperSecretAccessToken_123456';
const SECRET_REFRESH = 'ghr_SuperSecretRefreshToken_654321';
const SECRET_API_KEY = 'sk-SuperSecretOpenAIKey_abcdef';
const SECRET_PASSWORD = 'SuperSecretZendeskPassword!';

describe('connections API', () => {
  let patchbay: TestPatchbay;
  let nango: Nango;
  // GitHub's and OpenAI's API, for proxy calls with imported credentials (echoes each request).
  let api: Upstream;

  beforeAll(async () => {
    api = await startUpstream();
    patchbay = await startPatchbay({ label: 'connections', providers: { github: { proxy: { base_url: api.url } }, openai: { proxy: { base_url: api.url } } } });
    nango = new Nango({ secretKey: patchbay.secretKey, host: patchbay.url });
    for (const [provider, unique_key] of [
      ['github', 'github'],
      ['openai', 'openai'],
      ['zendesk-api-key', 'zendesk'],
    ]) {
      const res = await patchbay.request('POST', '/integrations', { body: { provider, unique_key } });
      expect(res.status).toBe(200);
    }
  });
  afterAll(async () => {
    await patchbay?.stop();
    await api?.close();
  });

  it('imports an OAUTH2 connection and reads it back (refresh token only when asked)', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const created = await patchbay.request('POST', '/connections', {
      body: {
        provider_config_key: 'github',
        connection_id: 'user-1',
        credentials: { type: 'OAUTH2', access_token: SECRET_TOKEN, refresh_token: SECRET_REFRESH, expires_at: expiresAt },
        metadata: { plan: 'pro' },
        tags: { team: 'core' },
        end_user: { id: 'u-1', email: 'ann@example.com' },
      },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      connection_id: 'user-1',
      provider_config_key: 'github',
      provider: 'github',
      metadata: { plan: 'pro' },
      tags: { team: 'core' },
      end_user: { id: 'u-1', email: 'ann@example.com' },
      credentials: { type: 'OAUTH2', access_token: SECRET_TOKEN, refresh_token: SECRET_REFRESH, expires_at: expiresAt },
    });

    const read = await patchbay.request('GET', '/connections/user-1?provider_config_key=github');
    expect(read.status).toBe(200);
    expect(read.json.credentials.access_token).toBe(SECRET_TOKEN);
    expect(read.json.credentials.refresh_token).toBeUndefined();
    const withRefresh = await patchbay.request('GET', '/connections/user-1?provider_config_key=github&refresh_token=true');
    expect(withRefresh.json.credentials.refresh_token).toBe(SECRET_REFRESH);
    expect(withRefresh.json.last_fetched_at).not.toBeNull();
  });

  // Imports of existing keys skip the provider call (`verify: false`); connections-verify.test.ts covers the call.
  it('imports API_KEY and BASIC connections', async () => {
    const apiKey = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'openai', connection_id: 'org-1', credentials: { type: 'API_KEY', apiKey: SECRET_API_KEY }, verify: false },
    });
    expect(apiKey.status).toBe(201);
    expect(apiKey.json.credentials).toEqual({ type: 'API_KEY', apiKey: SECRET_API_KEY });
    const basic = await patchbay.request('POST', '/connections', {
      body: {
        provider_config_key: 'zendesk',
        connection_id: 'desk-1',
        connection_config: { subdomain: 'acme' },
        credentials: { type: 'BASIC', username: 'agent@acme.com', password: SECRET_PASSWORD },
        verify: false,
      },
    });
    expect(basic.status).toBe(201);
    expect(basic.json.connection_config).toEqual({ subdomain: 'acme' });
  });

  it('generates a connection id when none is given, and upserts on the same id', async () => {
    const first = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'openai', credentials: { type: 'API_KEY', apiKey: 'sk-one' }, verify: false },
    });
    expect(first.json.connection_id).toMatch(/^[0-9a-f-]{36}$/);
    const again = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'openai', connection_id: first.json.connection_id, credentials: { type: 'API_KEY', apiKey: 'sk-two' }, verify: false },
    });
    expect(again.status).toBe(201);
    expect(again.json.id).toBe(first.json.id);
    expect(again.json.credentials.apiKey).toBe('sk-two');
  });

  it('stores no credential text in the database', async () => {
    const client = new pg.Client({ connectionString: patchbay.database.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT * FROM connections');
      const { rows: integrations } = await client.query('SELECT * FROM integrations');
      const dump = JSON.stringify([rows, integrations], (_key, value) =>
        value?.type === 'Buffer' ? Buffer.from(value.data).toString('latin1') : value,
      );
      expect(rows.length).toBeGreaterThanOrEqual(3);
      for (const secret of [SECRET_TOKEN, SECRET_REFRESH, SECRET_API_KEY, SECRET_PASSWORD, 'SuperSecret']) {
        expect(dump).not.toContain(secret);
      }
    } finally {
      await client.end();
    }
  });

  it.each([
    [{ provider_config_key: 'github', credentials: { type: 'API_KEY', apiKey: 'x' } }, ['credentials', 'type']],
    [{ provider_config_key: 'github', credentials: { type: 'OAUTH2' } }, ['credentials', 'access_token']],
    [{ provider_config_key: 'openai', credentials: { type: 'API_KEY' } }, ['credentials', 'apiKey']],
    [{ provider_config_key: 'zendesk', credentials: { type: 'BASIC', username: 'a' } }, ['credentials', 'password']],
    [{ provider_config_key: 'github', credentials: { type: 'OAUTH2', access_token: 't', expires_at: 'soon' } }, ['credentials', 'expires_at']],
    [{ provider_config_key: 'github', credentials: { type: 'OAUTH2', access_token: 't' }, extra: true }, []],
    [{ credentials: { type: 'NONE' } }, ['provider_config_key']],
  ])('answers 400 invalid_body naming the field for %j', async (body, path) => {
    const res = await patchbay.request('POST', '/connections', { body });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_body');
    expect(res.json.error.errors[0].path).toEqual(path);
  });

  // undici refuses such a header value: stored, the connection answered 502 UND_ERR_INVALID_ARG on every proxy call.
  const TOKEN_RULE = 'must contain only printable ASCII characters, without spaces (it is sent in an HTTP header)';
  const KEY_RULE = 'must contain only printable ASCII characters, and no space at either end (it is sent in an HTTP header)';
  it.each([
    ['an access token cut with a Unicode ellipsis', 'github', { type: 'OAUTH2', access_token: 'gho_16C7e42F292c6912E7710c8…' }, 'access_token', TOKEN_RULE],
    ['an access token with a newline', 'github', { type: 'OAUTH2', access_token: 'gho_first\ngho_second' }, 'access_token', TOKEN_RULE],
    ['an access token with a space', 'github', { type: 'OAUTH2', access_token: 'gho_abc def' }, 'access_token', TOKEN_RULE],
    ['an API key with a non-ASCII letter', 'openai', { type: 'API_KEY', apiKey: 'sk-clé-secrète' }, 'apiKey', KEY_RULE],
    ['an API key with a header injected after it', 'openai', { type: 'API_KEY', apiKey: 'sk-abc\r\nx-injected: 1' }, 'apiKey', KEY_RULE],
    ['an API key with a trailing space', 'openai', { type: 'API_KEY', apiKey: 'sk-abc ' }, 'apiKey', KEY_RULE],
  ])('refuses %s at import with 400 invalid_body, and nothing is stored', async (_name, key, credentials, field, rule) => {
    const connectionId = `unsafe-${field}`;
    const res = await patchbay.request('POST', '/connections', { body: { provider_config_key: key, connection_id: connectionId, credentials, verify: false } });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'invalid_body', message: `Invalid request body. credentials.${field}: ${rule}` });
    expect(res.json.error.errors).toEqual([{ code: 'invalid_format', message: rule, path: ['credentials', field] }]);
    expect(res.text).not.toContain(String(Object.values(credentials)[1]));
    // Nothing stored: the proxy answers that there is no such connection, not a 502.
    const proxied = await patchbay.request('GET', '/proxy/user', { headers: { 'provider-config-key': key, 'connection-id': connectionId } });
    expect([proxied.status, proxied.json.error?.code]).toEqual([404, 'unknown_connection']);
  });

  it('accepts every printable ASCII character where a header holds it, and proxies with it', async () => {
    const token = 'gho_' + Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
    const oauth = await patchbay.request('POST', '/connections', { body: { provider_config_key: 'github', connection_id: 'ascii-token', credentials: { type: 'OAUTH2', access_token: token } } });
    expect(oauth.status).toBe(201);
    const withToken = await patchbay.request('GET', '/proxy/user', { headers: { 'provider-config-key': 'github', 'connection-id': 'ascii-token' } });
    expect(withToken.status).toBe(200);
    expect(withToken.json.headers.authorization).toBe(`Bearer ${token}`);
    // An API key may hold spaces inside (never at either end).
    const apiKey = 'sk-key with spaces ~!';
    const keyed = await patchbay.request('POST', '/connections', { body: { provider_config_key: 'openai', connection_id: 'spaced-key', credentials: { type: 'API_KEY', apiKey }, verify: false } });
    expect(keyed.status).toBe(201);
    const withKey = await patchbay.request('GET', '/proxy/v1/models', { headers: { 'provider-config-key': 'openai', 'connection-id': 'spaced-key' } });
    expect(withKey.status).toBe(200);
    expect(withKey.json.headers.authorization).toBe(`Bearer ${apiKey}`);
    // Basic credentials go out base64-encoded: any text is fine there.
    const basic = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'zendesk', connection_id: 'desk-unicode', connection_config: { subdomain: 'acme' }, credentials: { type: 'BASIC', username: 'agent@acme.com', password: 'pässwörd…' }, verify: false },
    });
    expect(basic.status).toBe(201);
    // The tests below count the connections of these integrations.
    for (const [key, id] of [['github', 'ascii-token'], ['openai', 'spaced-key'], ['zendesk', 'desk-unicode']]) {
      expect((await patchbay.request('DELETE', `/connections/${id}?provider_config_key=${key}`)).status).toBe(200);
    }
  });

  it('answers 404 for an unknown integration or connection', async () => {
    const noIntegration = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'nope', credentials: { type: 'API_KEY', apiKey: 'x' } },
    });
    expect(noIntegration.status).toBe(404);
    expect(noIntegration.json.error).toMatchObject({ code: 'not_found', message: 'Integration does not exist' });
    const noConnection = await patchbay.request('GET', '/connections/ghost?provider_config_key=github');
    expect(noConnection.status).toBe(404);
    expect(noConnection.json.error.code).toBe('unknown_connection');
    const noConfig = await patchbay.request('GET', '/connections/ghost?provider_config_key=nope');
    expect(noConfig.status).toBe(404);
    expect(noConfig.json.error.code).toBe('unknown_provider_config');
    const missingKey = await patchbay.request('GET', '/connections/ghost');
    expect(missingKey.status).toBe(400);
    expect(missingKey.json.error.code).toBe('invalid_query_params');
    expect(missingKey.json.error.errors[0].path).toEqual(['provider_config_key']);
  });

  it('patches tags and metadata', async () => {
    const res = await patchbay.request('PATCH', '/connections/org-1?provider_config_key=openai', { body: { tags: { tier: 'gold' } } });
    expect(res.status).toBe(200);
    expect(res.json.tags).toEqual({ tier: 'gold' });
  });

  it('works with @nangohq/node: listConnections, getConnection, metadata, deleteConnection', async () => {
    const list = await nango.listConnections();
    const ids = list.connections.map((c) => `${c.provider_config_key}/${c.connection_id}`);
    expect(ids).toEqual(expect.arrayContaining(['github/user-1', 'openai/org-1', 'zendesk/desk-1']));
    const filtered = await nango.listConnections({ integrationId: 'zendesk' });
    expect(filtered.connections.map((c) => c.connection_id)).toEqual(['desk-1']);
    const byTag = await nango.listConnections({ tags: { team: 'core' } });
    expect(byTag.connections.map((c) => c.connection_id)).toEqual(['user-1']);
    const byEndUser = await nango.listConnections({ userId: 'u-1' });
    expect(byEndUser.connections.map((c) => c.connection_id)).toEqual(['user-1']);

    const connection = await nango.getConnection('github', 'user-1');
    expect(connection.credentials).toMatchObject({ type: 'OAUTH2', access_token: SECRET_TOKEN });
    expect(await nango.getToken('github', 'user-1')).toBe(SECRET_TOKEN);

    await nango.setMetadata('github', 'user-1', { a: 1, b: { c: 2 } });
    expect(await nango.getMetadata('github', 'user-1')).toEqual({ a: 1, b: { c: 2 } });
    await nango.updateMetadata('github', 'user-1', { d: 4 });
    expect(await nango.getMetadata('github', 'user-1')).toEqual({ a: 1, b: { c: 2 }, d: 4 });
    await nango.setMetadata('github', 'user-1', { only: true });
    expect(await nango.getMetadata('github', 'user-1')).toEqual({ only: true });

    await nango.deleteConnection('zendesk', 'desk-1');
    const error = await nango.getConnection('zendesk', 'desk-1').catch((e: unknown) => e);
    expect((error as { response?: { status: number; data: unknown } }).response).toMatchObject({
      status: 404,
      data: { error: { code: 'unknown_connection' } },
    });
  });

  it('writes metadata to all named connections or none', async () => {
    const res = await patchbay.request('POST', '/connections/metadata', {
      body: { provider_config_key: 'github', connection_id: ['user-1', 'ghost'], metadata: { x: 1 } },
    });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('unknown_connection');
    const read = await patchbay.request('GET', '/connections/user-1?provider_config_key=github');
    expect(read.json.metadata).toEqual({ only: true });
  });

  it('deleting an integration deletes its connections', async () => {
    await patchbay.request('DELETE', '/integrations/openai');
    const res = await patchbay.request('GET', '/connections?integrationId=openai');
    expect(res.json.connections).toEqual([]);
  });
});
