import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProxyHeaders, buildProxyUrl, buildUserAgent, Nango, SDK_VERSION } from '../../../sdk/client.js';

const keys = { providerConfigKey: 'github', connectionId: 'u-1' };

describe('Nango constructor (as @nangohq/node validates it)', () => {
  it('defaults the host to Nango Cloud and strips a trailing slash', () => {
    expect(new Nango({ secretKey: 'k' }).serverUrl).toBe('https://api.nango.dev');
    expect(new Nango({ secretKey: 'k', host: 'http://localhost:3003/' }).serverUrl).toBe('http://localhost:3003');
  });

  it('needs exactly one of apiKey and secretKey, and a valid host', () => {
    expect(() => new Nango({} as never)).toThrow('You must specify an API key (cf. documentation).');
    expect(() => new Nango({ apiKey: 'a', secretKey: 'b' } as never)).toThrow('You must specify only one of apiKey or secretKey, not both (cf. documentation).');
    expect(() => new Nango({ apiKey: 'a', host: 'not a url' })).toThrow('Invalid URL provided for the Nango host: not a url');
    expect(new Nango({ apiKey: 'a' }).apiKey).toBe('a');
  });

  it('never shows the key when the client is serialised', () => {
    expect(JSON.stringify(new Nango({ secretKey: 'very-secret', host: 'http://h' }))).not.toContain('very-secret');
  });

  it('refuses a proxy call without endpoint, providerConfigKey or connectionId, before sending anything', async () => {
    const nango = new Nango({ secretKey: 'k', host: 'http://127.0.0.1:1' });
    await expect(nango.get({ endpoint: '/x', connectionId: 'u-1' })).rejects.toThrow('providerConfigKey is missing and is required to make a proxy call!');
    await expect(nango.get({ endpoint: '/x', providerConfigKey: 'github' })).rejects.toThrow('connectionId is missing and is required to make a proxy call!');
    await expect(nango.get({ ...keys } as never)).rejects.toThrow('endpoint is missing and is required to make a proxy call!');
  });
});

describe('buildUserAgent', () => {
  it('names patchbay-node, its version, the OS and Node, then the custom part', () => {
    expect(buildUserAgent()).toMatch(new RegExp(`^patchbay-node/${SDK_VERSION.replace(/\./g, '\\.')} \\([^/]+/[^;]+; node\\.js/${process.versions.node}\\)$`));
    expect(buildUserAgent('my-app/2')).toMatch(/\); my-app\/2$/);
  });

  it('reports the version in package.json', () => {
    const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string };
    expect(SDK_VERSION).toBe(pkg.version);
  });
});

describe('buildProxyUrl', () => {
  it.each([
    ['/user', undefined, undefined, 'http://h/proxy/user'],
    ['user', undefined, undefined, 'http://h/proxy/user'],
    ['/items', 'a=1&b=2', undefined, 'http://h/proxy/items?a=1&b=2'],
    ['/items', '?a=1', undefined, 'http://h/proxy/items?a=1'],
    ['/items?x=1', { a: [1, 2] }, undefined, 'http://h/proxy/items?x=1&a%5B%5D=1&a%5B%5D=2'],
    ['/items', { a: [1, 2] }, { indexes: null }, 'http://h/proxy/items?a=1&a=2'],
    ['/items', new URLSearchParams([['a', '1'], ['a', '2']]), undefined, 'http://h/proxy/items?a=1&a=2'],
  ])('%s with %o', (endpoint, params, paramsSerializer, expected) => {
    expect(buildProxyUrl('http://h', { endpoint, params: params as never, paramsSerializer: paramsSerializer as never })).toBe(expected);
  });

  it('refuses a string query when the endpoint has one already, as @nangohq/node does', () => {
    expect(() => buildProxyUrl('http://h', { endpoint: '/items?x=1', params: 'a=1' })).toThrow('Can not set query params in endpoint and in params');
  });
});

describe('buildProxyHeaders', () => {
  it('always sends the keys, an empty Base-Url-Override and activity log id', () => {
    expect(buildProxyHeaders({ endpoint: '/x', ...keys })).toEqual({
      'Connection-Id': 'u-1',
      'Provider-Config-Key': 'github',
      'Base-Url-Override': '',
      'Nango-Activity-Log-Id': '',
    });
  });

  it('prefixes custom headers, copies Content-Type, and adds the retry and redirect options', () => {
    const headers = buildProxyHeaders(
      {
        endpoint: '/x',
        ...keys,
        headers: { 'X-Trace': 't-1', 'content-type': 'text/csv' },
        retries: 5,
        retryOn: [409, 423],
        baseUrlOverride: 'https://eu.api.example.com',
        decompress: true,
        forwardHeadersOnRedirect: false,
      },
      'log-7',
    );
    expect(headers).toEqual({
      'Connection-Id': 'u-1',
      'Provider-Config-Key': 'github',
      'Base-Url-Override': 'https://eu.api.example.com',
      'Nango-Activity-Log-Id': 'log-7',
      'Nango-Proxy-X-Trace': 't-1',
      'Nango-Proxy-content-type': 'text/csv',
      'Content-Type': 'text/csv',
      Retries: '5',
      'Retry-On': '409,423',
      Decompress: 'true',
      'Forward-Headers-On-Redirect': 'false',
    });
  });

  it('leaves out Retries 0 and Decompress false, as @nangohq/node does', () => {
    const headers = buildProxyHeaders({ endpoint: '/x', ...keys, retries: 0, decompress: false });
    expect(headers).not.toHaveProperty('Retries');
    expect(headers).not.toHaveProperty('Decompress');
  });
});
