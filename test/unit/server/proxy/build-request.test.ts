import { describe, expect, it } from 'vitest';
import { isPatchbayError } from '../../../../server/errors.js';
import { buildRequest, joinUrl, resolveBaseUrl, type RequestParts } from '../../../../server/proxy/build-request.js';
import { buildTemplateValues, defaultAuthorization } from '../../../../server/proxy/inject-credentials.js';
import { loadCatalog, type Provider } from '../../../../server/providers/catalog.js';
import { parseProvider } from '../../../../server/providers/provider.js';
import type { Connection } from '../../../../server/store/index.js';
import { connectionFixture } from '../../../harness/fixtures.js';

const catalog = loadCatalog();

function provider(key: string): Provider {
  const found = catalog.get(key);
  if (found === undefined) throw new Error(`provider ${key} is not in the catalog`);
  return found;
}

/** A provider written by hand, for rules no catalog entry shows (e.g. a provider user-agent). */
function handMadeProvider(proxy: Partial<Provider['proxy']>): Provider {
  const parsed = parseProvider('hand-made', { display_name: 'Hand made', auth_mode: 'OAUTH2', proxy: { base_url: 'https://api.example.com' } });
  if (!parsed.ok) throw new Error(parsed.reason);
  return { ...parsed.provider, proxy: { ...parsed.provider.proxy, ...proxy } };
}

const connection = connectionFixture;

/** The parts of a call as the engine assembles them from a connection. */
function partsFor(providerKey: string, conn: Connection, overrides: Partial<RequestParts> = {}): RequestParts {
  return {
    provider: provider(providerKey),
    values: buildTemplateValues(conn, undefined),
    authorization: defaultAuthorization(conn),
    endpoint: '/',
    baseUrlOverride: undefined,
    callerHeaders: {},
    ...overrides,
  };
}

/** The error a call throws; fails the test when it does not throw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, got a value');
}

function codeOf(fn: () => unknown): string {
  const error = thrown(fn);
  if (!isPatchbayError(error)) throw new Error(`expected a PatchbayError, got ${String(error)}`);
  return error.code;
}

const oauth2 = connection({ type: 'OAUTH2', access_token: 'gho_access_token_1', raw: {} });

describe('joinUrl', () => {
  it.each([
    ['https://api.github.com', '/user', 'https://api.github.com/user'],
    ['https://api.github.com', 'user', 'https://api.github.com/user'],
    ['https://api.github.com/', '/user', 'https://api.github.com/user'],
    ['https://api.github.com/', '///user', 'https://api.github.com/user'],
    ['https://h/v1', '/users', 'https://h/v1/users'],
    ['https://h/v1/', '/users', 'https://h/v1/users'],
    ['https://h/v1', 'users', 'https://h/v1/users'],
    ['https://h/v1', '/users/', 'https://h/v1/users/'],
    ['https://h/v1', '', 'https://h/v1/'],
    ['https://h:8443/v1', '/x', 'https://h:8443/v1/x'],
    ['https://h/v1', 'https://h/v1/users', 'https://h/v1/users'],
    ['https://h/v1', 'https://h/v1', 'https://h/v1/'],
    ['https://api.github.com', 'https://api.github.com/repos/a/b', 'https://api.github.com/repos/a/b'],
    ['https://h/v1', '/search?q=a%20b&tags[]=x&flag', 'https://h/v1/search?q=a%20b&tags[]=x&flag'],
    ['https://h/v1', '/search?q=a+b&redirect=https://x.io/../y', 'https://h/v1/search?q=a+b&redirect=https://x.io/../y'],
    ['https://h/v1', '/files/a%2Fb', 'https://h/v1/files/a%2Fb'],
    ['https://h/v1', '/items/urn:li:person:1', 'https://h/v1/items/urn:li:person:1'],
  ])('joins %s and %j into %s', (base, endpoint, expected) => {
    expect(joinUrl(new URL(base), endpoint).href).toBe(expected);
  });

  it.each([
    'http://evil.com',
    'https://evil.com/x',
    'HTTPS://evil.com/x',
    'https://api.github.com.evil.com/x',
    'https://api.github.com@evil.com/x',
    '/../admin',
    '../admin',
    '/repos/../../admin',
    '/./admin',
    '%2e%2e/admin',
    '%2E%2E/admin',
    '.%2e/admin',
    '%252e%252e/',
    '%252e%252e/admin',
    '..%2f',
    '..%2fadmin',
    '..%5cadmin',
    '/a\\b',
    '\\\\evil.com\\x',
    '/x\r\nHost: evil.com',
    '/x%0d%0aHost:%20evil.com',
    '/x%0D%0A',
    '/x\u0000',
    '/x%00',
    '/x\ty',
    'https://api.github.com/../admin',
  ])('refuses the endpoint %j with invalid_endpoint', (endpoint) => {
    expect(codeOf(() => joinUrl(new URL('https://api.github.com'), endpoint))).toBe('invalid_endpoint');
  });

  it.each(['//evil.com/x', '///evil.com', '@evil.com', '/@evil.com/x', ':@evil.com', '%2F%2Fevil.com', '%40evil.com', '.evil.com'])(
    'keeps %j on the base host and under the base path',
    (endpoint) => {
      const url = new URL(joinUrl(new URL('https://h.example/v1'), endpoint).href);
      expect(url.host).toBe('h.example');
      expect(url.username).toBe('');
      expect(url.pathname.startsWith('/v1/')).toBe(true);
    },
  );

  // Most endpoints skip the URL parser: what they give must be what it would have made of them.
  it('gives canonical URLs: origin + path is href, and a URL parser changes nothing', () => {
    const alphabet = ['a', 'Z', '0', '-', '.', '_', '~', '!', '$', '&', "'", '(', ')', '*', '+', ',', ';', '=', ':', '@', '/', '%', '%2e', '%41', '?', '#', ' ', '"', '<', '>', '`', '{', '}', '|', '^', '[', ']', 'é', '😀', '..'];
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const bases = ['https://h.example', 'https://h.example/', 'https://h.example:8443/v1/', 'http://10.0.0.1/api/v2', 'https://h.example/a%20b'];
    let joined = 0;
    // Checked with plain comparisons and asserted once: 20,000 expect() calls take seconds on a busy machine.
    const wrong: unknown[] = [];
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(random() * 12);
      let endpoint = '/';
      for (let j = 0; j < length; j++) endpoint += alphabet[Math.floor(random() * alphabet.length)];
      const base = new URL(bases[i % bases.length] as string);
      let url;
      try {
        url = joinUrl(base, endpoint);
      } catch (error) {
        if ((error as { code?: string }).code !== 'invalid_endpoint') wrong.push({ endpoint, error: String(error) });
        continue;
      }
      joined++;
      const parsed = new URL(url.href);
      const ok =
        parsed.href === url.href &&
        parsed.origin === url.origin &&
        parsed.hostname === url.hostname &&
        `${parsed.pathname}${parsed.search}` === url.path &&
        `${url.origin}${url.path}` === url.href &&
        url.origin === base.origin &&
        parsed.pathname.startsWith(base.pathname.replace(/\/+$/, ''));
      if (!ok && wrong.length < 5) wrong.push({ base: base.href, endpoint, href: url.href, path: url.path, parsed: parsed.href });
    }
    expect(wrong).toEqual([]);
    expect(joined).toBeGreaterThan(5000);
  });

  it('refuses an endpoint that climbs out of a base path', () => {
    expect(codeOf(() => joinUrl(new URL('https://api.atlassian.com/ex/jira/cloud-1'), '/../../other/rest'))).toBe('invalid_endpoint');
  });
});

describe('resolveBaseUrl', () => {
  it('renders a templated base URL from the connection config', () => {
    const conn = connection({ type: 'BASIC', username: 'ann@acme.com', password: 'zendesk-token-1' }, { subdomain: 'acme' });
    expect(resolveBaseUrl(provider('zendesk-api-key'), buildTemplateValues(conn, undefined), undefined).href).toBe('https://acme.zendesk.com/');
  });

  it('answers missing_api_url naming the value when the connection config lacks it', () => {
    const conn = connection({ type: 'BASIC', username: 'ann@acme.com', password: 'zendesk-token-1' });
    const error = thrown(() => resolveBaseUrl(provider('zendesk-api-key'), buildTemplateValues(conn, undefined), undefined));
    expect(error).toMatchObject({ code: 'missing_api_url' });
    expect((error as Error).message).toContain('connectionConfig.subdomain');
  });

  it('uses the fallback of an `A || B` base URL when A is incomplete', () => {
    const conn = connection({ type: 'OAUTH2', access_token: 'pd-token-1', raw: {} });
    expect(resolveBaseUrl(provider('pipedrive'), buildTemplateValues(conn, undefined), undefined).href).toBe('https://api.pipedrive.com/api');
  });

  it('prefers a Base-Url-Override to the provider base URL', () => {
    expect(resolveBaseUrl(provider('github'), {}, 'https://github.acme.internal/api/v3').href).toBe('https://github.acme.internal/api/v3');
  });

  it('treats an empty Base-Url-Override as absent', () => {
    expect(resolveBaseUrl(provider('github'), {}, '').href).toBe('https://api.github.com/');
  });

  it.each([
    ['a provider without base URL and no override', handMadeProvider({ baseUrl: undefined }), undefined],
    ['an override that is not a URL', provider('github'), 'not a url'],
    ['an override with another scheme', provider('github'), 'ftp://files.example.com'],
    ['an override with a javascript: scheme', provider('github'), 'javascript:alert(1)'],
  ])('answers missing_api_url for %s', (_name, target, override) => {
    expect(codeOf(() => resolveBaseUrl(target, {}, override))).toBe('missing_api_url');
  });
});

describe('buildRequest', () => {
  it('sends an OAuth2 call to the provider base with the bearer token and the provider headers', () => {
    const built = buildRequest(partsFor('github', oauth2, { endpoint: '/user/repos?per_page=100' }));
    expect(built.url.href).toBe('https://api.github.com/user/repos?per_page=100');
    expect(built.headers).toEqual({ authorization: 'Bearer gho_access_token_1', 'x-github-api-version': '2022-11-28' });
  });

  it('lets provider headers replace the default authorization (Zendesk API token)', () => {
    const conn = connection({ type: 'BASIC', username: 'ann@acme.com', password: 'zendesk-token-1' }, { subdomain: 'acme' });
    const built = buildRequest(partsFor('zendesk-api-key', conn, { endpoint: '/api/v2/users/me.json' }));
    expect(built.url.href).toBe('https://acme.zendesk.com/api/v2/users/me.json');
    expect(built.headers.authorization).toBe(`Basic ${Buffer.from('ann@acme.com/token:zendesk-token-1').toString('base64')}`);
  });

  it('places an API key through the provider header template (OpenAI)', () => {
    const conn = connection({ type: 'API_KEY', apiKey: 'sk-openai-key-1' });
    expect(buildRequest(partsFor('openai', conn, { endpoint: '/v1/models' })).headers).toEqual({ authorization: 'Bearer sk-openai-key-1' });
  });

  it('lets caller headers replace provider headers and the default authorization', () => {
    const built = buildRequest(
      partsFor('notion', oauth2, { callerHeaders: { 'notion-version': '2025-09-03', authorization: 'Bearer caller-token', accept: 'application/json' } }),
    );
    expect(built.headers).toEqual({ authorization: 'Bearer caller-token', 'notion-version': '2025-09-03', accept: 'application/json' });
  });

  it("keeps the provider's user-agent over the caller's", () => {
    const built = buildRequest({
      ...partsFor('github', oauth2),
      provider: handMadeProvider({ headers: { 'user-agent': 'Acme-Integration/1.0' } }),
      callerHeaders: { 'user-agent': 'curl/8.0', 'x-request-id': 'r-1' },
    });
    expect(built.headers['user-agent']).toBe('Acme-Integration/1.0');
    expect(built.headers['x-request-id']).toBe('r-1');
  });

  it("forwards the caller's user-agent when the provider sets none", () => {
    expect(buildRequest(partsFor('github', oauth2, { callerHeaders: { 'user-agent': 'curl/8.0' } })).headers['user-agent']).toBe('curl/8.0');
  });

  it('leaves out a provider header whose template is incomplete', () => {
    const built = buildRequest({ ...partsFor('github', oauth2), provider: handMadeProvider({ headers: { 'x-tenant': '${connectionConfig.tenant}' } }) });
    expect(built.headers).toEqual({ authorization: 'Bearer gho_access_token_1' });
  });

  it('adds the provider query parameters (Trello key and token)', () => {
    const conn = connection({ type: 'API_KEY', apiKey: 'trello-user-token' }, { key: 'trello-app-key' });
    const built = buildRequest(partsFor('trello', conn, { endpoint: '/1/members/me' }));
    expect(built.url.href).toBe('https://api.trello.com/1/members/me?key=trello-app-key&token=trello-user-token');
  });

  it('adds only the provider query parameters whose template is complete', () => {
    const conn = connection({ type: 'API_KEY', apiKey: 'trello-user-token' });
    const built = buildRequest(partsFor('trello', conn, { endpoint: '/1/members/me' }));
    expect([...new URL(built.url.href).searchParams.keys()]).toEqual(['token']);
    expect(built.url.href).not.toContain('connectionConfig');
  });

  // Regression: url.searchParams.set re-serialised the whole query as form encoding
  // ('%20' → '+', a bare 'partial' → 'partial=', ',' → '%2C') whenever the provider had query templates.
  it("keeps the caller's query string as written when provider query parameters are added", () => {
    const conn = connection({ type: 'API_KEY', apiKey: 'trello-user-token' }, { key: 'trello-app-key' });
    const built = buildRequest(partsFor('trello', conn, { endpoint: '/1/search?query=a%20b&partial&modelTypes=cards,boards' }));
    expect(built.url.path).toBe('/1/search?query=a%20b&partial&modelTypes=cards,boards&key=trello-app-key&token=trello-user-token');
  });

  it('accepts a colon in the first path segment (Google: /people:batchGet) and keeps it on the base host', () => {
    expect(joinUrl(new URL('https://people.googleapis.com/v1'), '/people:batchGet').href).toBe('https://people.googleapis.com/v1/people:batchGet');
    expect(joinUrl(new URL('https://api.github.com'), 'https:evil.com').origin).toBe('https://api.github.com');
  });

  it('refuses a traversal endpoint', () => {
    expect(codeOf(() => buildRequest(partsFor('github', oauth2, { endpoint: '/%2e%2e/admin' })))).toBe('invalid_endpoint');
  });

  it('answers missing_api_url for a templated base URL the connection cannot fill', () => {
    const conn = connection({ type: 'BASIC', username: 'ann@acme.com', password: 'zendesk-token-1' });
    expect(codeOf(() => buildRequest(partsFor('zendesk-api-key', conn, { endpoint: '/api/v2/users/me.json' })))).toBe('missing_api_url');
  });

  it('joins the endpoint under a Base-Url-Override with a path', () => {
    const built = buildRequest(partsFor('github', oauth2, { endpoint: '/user', baseUrlOverride: 'https://github.acme.com/api/v3' }));
    expect(built.url.href).toBe('https://github.acme.com/api/v3/user');
  });
});
