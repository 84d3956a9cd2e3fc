import { Nango } from '@nangohq/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

describe('proxy: credential injection and request forwarding', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  const proxy = (key: string, connection: string) => ({ 'provider-config-key': key, 'connection-id': connection });

  beforeAll(async () => {
    upstream = await startUpstream();
    patchbay = await startPatchbay({
      label: 'proxy-auth',
      providers: {
        github: { proxy: { base_url: upstream.url } },
        notion: { proxy: { base_url: `${upstream.url}/notion` } },
        openai: { proxy: { base_url: `${upstream.url}/v1` } },
        'zendesk-api-key': { proxy: { base_url: `${upstream.url}/zd/\${connectionConfig.subdomain}` } },
        'query-key': { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, query: { api_key: '${apiKey}' } } },
        'plain-basic': { auth_mode: 'BASIC', proxy: { base_url: upstream.url } },
      },
    });
    const setup: [string, string, unknown, Record<string, unknown>?][] = [
      ['github', 'gh-1', { type: 'OAUTH2', access_token: 'gho_token_one' }],
      ['notion', 'n-1', { type: 'OAUTH2', access_token: 'notion_token' }],
      ['openai', 'o-1', { type: 'API_KEY', apiKey: 'sk-openai-key' }],
      ['zendesk-api-key', 'z-1', { type: 'BASIC', username: 'agent@acme.com', password: 'zd-api-token' }, { subdomain: 'acme' }],
      ['query-key', 'q-1', { type: 'API_KEY', apiKey: 'key with space&amp' }],
      ['plain-basic', 'b-1', { type: 'BASIC', username: 'ann', password: 'pw' }],
    ];
    for (const [provider, connection, credentials, config] of setup) {
      expect((await patchbay.request('POST', '/integrations', { body: { provider, unique_key: provider } })).status).toBe(200);
      const res = await patchbay.request('POST', '/connections', {
        body: { provider_config_key: provider, connection_id: connection, credentials, connection_config: config },
      });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
  });

  it('injects an OAuth2 bearer token, keeps the query string and never forwards our secret key', async () => {
    const res = await patchbay.request('GET', '/proxy/user/repos?per_page=5&sort=updated', { headers: proxy('github', 'gh-1') });
    expect(res.status).toBe(200);
    const seen = upstream.requests.at(-1);
    expect(seen?.url).toBe('/user/repos?per_page=5&sort=updated');
    expect(seen?.headers.authorization).toBe('Bearer gho_token_one');
    expect(seen?.headers['x-github-api-version']).toBe('2022-11-28');
    expect(JSON.stringify(seen?.headers)).not.toContain(patchbay.secretKey);
    expect(seen?.headers['provider-config-key']).toBeUndefined();
  });

  it('adds the provider fixed headers (Notion-Version) and forwards Nango-Proxy-* without the prefix', async () => {
    await patchbay.request('GET', '/proxy/v1/users', {
      headers: { ...proxy('notion', 'n-1'), 'Nango-Proxy-X-Custom': 'abc', 'nango-proxy-accept': 'application/json' },
    });
    const seen = upstream.requests.at(-1);
    expect(seen?.path).toBe('/notion/v1/users');
    expect(seen?.headers['notion-version']).toBe('2022-06-28');
    expect(seen?.headers['x-custom']).toBe('abc');
    expect(seen?.headers.accept).toBe('application/json');
    expect(Object.keys(seen?.headers ?? {}).some((name) => name.startsWith('nango-proxy'))).toBe(false);
  });

  it('lets a Nango-Proxy header override the provider header (caller wins)', async () => {
    await patchbay.request('GET', '/proxy/v1/users', { headers: { ...proxy('notion', 'n-1'), 'Nango-Proxy-Notion-Version': '2025-01-01' } });
    expect(upstream.requests.at(-1)?.headers['notion-version']).toBe('2025-01-01');
  });

  it('places an API key in a header by the provider template', async () => {
    await patchbay.request('GET', '/proxy/models', { headers: proxy('openai', 'o-1') });
    const seen = upstream.requests.at(-1);
    expect(seen?.path).toBe('/v1/models');
    expect(seen?.headers.authorization).toBe('Bearer sk-openai-key');
  });

  it('places an API key in the query by the provider template, URL-encoded', async () => {
    await patchbay.request('GET', '/proxy/items?x=1', { headers: proxy('query-key', 'q-1') });
    const seen = upstream.requests.at(-1);
    expect(seen?.query.get('api_key')).toBe('key with space&amp');
    expect(seen?.query.get('x')).toBe('1');
  });

  it('builds Basic auth, plain and from a template with connection_config in the base URL', async () => {
    await patchbay.request('GET', '/proxy/api/v2/tickets', { headers: proxy('zendesk-api-key', 'z-1') });
    let seen = upstream.requests.at(-1);
    expect(seen?.path).toBe('/zd/acme/api/v2/tickets');
    expect(seen?.headers.authorization).toBe(`Basic ${Buffer.from('agent@acme.com/token:zd-api-token').toString('base64')}`);
    await patchbay.request('GET', '/proxy/me', { headers: proxy('plain-basic', 'b-1') });
    seen = upstream.requests.at(-1);
    expect(seen?.headers.authorization).toBe(`Basic ${Buffer.from('ann:pw').toString('base64')}`);
  });

  it('forwards the body with the caller Content-Type, for every method with a body', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const res = await patchbay.request(method, '/proxy/repos/acme/app/issues', {
        headers: { ...proxy('github', 'gh-1'), 'content-type': 'application/json' },
        body: { title: `Bug via ${method}` },
      });
      expect(res.status).toBe(200);
      const seen = upstream.requests.at(-1);
      expect(seen?.method).toBe(method);
      expect(seen?.headers['content-type']).toBe('application/json');
      expect(JSON.parse(seen?.body.toString() ?? '{}')).toEqual({ title: `Bug via ${method}` });
    }
  });

  it('lets Nango-Proxy-Content-Type win over the body Content-Type', async () => {
    await patchbay.request('POST', '/proxy/x', {
      headers: { ...proxy('github', 'gh-1'), 'content-type': 'text/plain', 'Nango-Proxy-Content-Type': 'application/xml' },
      body: '<a/>',
    });
    expect(upstream.requests.at(-1)?.headers['content-type']).toBe('application/xml');
  });

  it('passes HEAD and WebDAV methods through', async () => {
    const head = await patchbay.request('HEAD', '/proxy/files/a', { headers: proxy('github', 'gh-1') });
    expect(head.status).toBe(200);
    expect(upstream.requests.at(-1)?.method).toBe('HEAD');
    const propfind = await patchbay.request('PROPFIND', '/proxy/files/a', { headers: proxy('github', 'gh-1') });
    expect(propfind.status).toBe(200);
    expect(upstream.requests.at(-1)?.method).toBe('PROPFIND');
  });

  it('answers 404 unknown_connection / unknown_provider_config and 400 invalid_headers', async () => {
    const noConnection = await patchbay.request('GET', '/proxy/user', { headers: proxy('github', 'ghost') });
    expect(noConnection.status).toBe(404);
    expect(noConnection.json.error.code).toBe('unknown_connection');
    const noIntegration = await patchbay.request('GET', '/proxy/user', { headers: proxy('gitlab-x', 'gh-1') });
    expect(noIntegration.status).toBe(404);
    expect(noIntegration.json.error.code).toBe('unknown_provider_config');
    const missing = await patchbay.request('GET', '/proxy/user', { headers: { 'provider-config-key': 'github' } });
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe('invalid_headers');
    expect(missing.json.error.errors[0].path).toEqual(['connection-id']);
    const badRetries = await patchbay.request('GET', '/proxy/user', { headers: { ...proxy('github', 'gh-1'), retries: 'lots' } });
    expect(badRetries.status).toBe(400);
    expect(badRetries.json.error.errors[0].path).toEqual(['retries']);
  });

  it('works through @nangohq/node proxy/get/post/put/patch/delete', async () => {
    const nango = new Nango({ secretKey: patchbay.secretKey, host: patchbay.url });
    const got = await nango.get({ endpoint: '/user', providerConfigKey: 'github', connectionId: 'gh-1', params: { a: '1' } });
    expect(got.status).toBe(200);
    expect(got.data.headers.authorization).toBe('Bearer gho_token_one');
    expect(got.data.query).toEqual({ a: '1' });
    for (const method of ['post', 'put', 'patch'] as const) {
      const res = await nango[method]({ endpoint: '/things', providerConfigKey: 'github', connectionId: 'gh-1', data: { n: method } });
      expect(res.data.method).toBe(method.toUpperCase());
      expect(JSON.parse(res.data.body)).toEqual({ n: method });
      expect(res.data.headers['content-type']).toContain('application/json');
    }
    const deleted = await nango.delete({ endpoint: '/things/1', providerConfigKey: 'github', connectionId: 'gh-1' });
    expect(deleted.data.method).toBe('DELETE');
    const proxied = await nango.proxy({
      method: 'GET',
      endpoint: '/v1/users',
      providerConfigKey: 'notion',
      connectionId: 'n-1',
      headers: { 'X-Trace': 't-1' },
    });
    expect(proxied.data.headers['x-trace']).toBe('t-1');
    expect(proxied.data.headers['notion-version']).toBe('2022-06-28');
  });
});
