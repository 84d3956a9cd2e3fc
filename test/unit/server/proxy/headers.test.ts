import { describe, expect, it } from 'vitest';
import { cleanResponseHeaders, pickForwardedHeaders } from '../../../../server/proxy/headers.js';

describe('pickForwardedHeaders', () => {
  it.each([
    ['nango-proxy-x-custom', 'x-custom'],
    ['Nango-Proxy-X-Custom', 'x-custom'],
    ['NANGO-PROXY-ACCEPT', 'accept'],
    ['nAnGo-PrOxY-Notion-Version', 'notion-version'],
    ['nango-proxy-authorization', 'authorization'],
  ])('forwards %s as %s', (incoming, forwarded) => {
    expect(pickForwardedHeaders({ [incoming]: 'value-1' })).toEqual({ [forwarded]: 'value-1' });
  });

  it.each([
    'connection',
    'keep-alive',
    'proxy-connection',
    'proxy-authenticate',
    'proxy-authorization',
    'te',
    'trailer',
    'transfer-encoding',
    'upgrade',
    'content-length',
    'host',
  ])('drops nango-proxy-%s', (name) => {
    expect(pickForwardedHeaders({ [`nango-proxy-${name}`]: 'x', 'nango-proxy-accept': 'application/json' })).toEqual({
      accept: 'application/json',
    });
  });

  it('never forwards our own Authorization or unprefixed headers', () => {
    const forwarded = pickForwardedHeaders({
      authorization: 'Bearer patchbay-secret-key',
      'connection-id': 'conn-1',
      'provider-config-key': 'github',
      accept: 'text/html',
      cookie: 'session=1',
      'nango-proxy-accept': 'application/json',
    });
    expect(forwarded).toEqual({ accept: 'application/json' });
  });

  it("forwards the body's Content-Type", () => {
    expect(pickForwardedHeaders({ 'content-type': 'application/json' })).toEqual({ 'content-type': 'application/json' });
  });

  it('prefers Nango-Proxy-Content-Type to the Content-Type', () => {
    expect(
      pickForwardedHeaders({ 'content-type': 'application/json', 'Nango-Proxy-Content-Type': 'application/vnd.api+json' }),
    ).toEqual({ 'content-type': 'application/vnd.api+json' });
  });

  it('joins a repeated header with commas', () => {
    expect(pickForwardedHeaders({ 'nango-proxy-accept-language': ['en', 'fr;q=0.5'] })).toEqual({ 'accept-language': 'en, fr;q=0.5' });
  });

  it('ignores a bare prefix and undefined values', () => {
    expect(pickForwardedHeaders({ 'nango-proxy-': 'x', 'nango-proxy-x-empty': undefined })).toEqual({});
  });
});

describe('cleanResponseHeaders', () => {
  it.each(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'])(
    'drops the hop-by-hop header %s',
    (name) => {
      expect(cleanResponseHeaders({ [name]: 'x', 'content-type': 'application/json' }, false, 200)).toEqual({ 'content-type': 'application/json' });
    },
  );

  it('drops the headers the Connection header lists', () => {
    const clean = cleanResponseHeaders({ connection: 'close, X-Internal-Trace , x-Hop', 'x-internal-trace': 't-1', 'x-hop': '1', etag: '"abc"' }, false, 200);
    expect(clean).toEqual({ etag: '"abc"' });
  });

  it('drops the headers a repeated Connection header lists', () => {
    expect(cleanResponseHeaders({ connection: ['x-a', 'x-b'], 'x-a': '1', 'x-b': '2', 'x-c': '3' }, false, 200)).toEqual({ 'x-c': '3' });
  });

  it("drops the provider's CORS headers", () => {
    const clean = cleanResponseHeaders(
      {
        'access-control-allow-origin': '*',
        'Access-Control-Allow-Credentials': 'true',
        'access-control-expose-headers': 'link',
        link: '<https://api.github.com/user/repos?page=2>; rel="next"',
      },
      false,
      200,
    );
    expect(clean).toEqual({ link: '<https://api.github.com/user/repos?page=2>; rel="next"' });
  });

  it('keeps content-encoding and content-length when the body is passed on as is', () => {
    expect(cleanResponseHeaders({ 'content-encoding': 'gzip', 'content-length': '120' }, false, 200)).toEqual({
      'content-encoding': 'gzip',
      'content-length': '120',
    });
  });

  it('drops content-length from a 204, which has no body to measure', () => {
    expect(cleanResponseHeaders({ 'content-length': '0', 'content-type': 'application/json', etag: '"e"' }, false, 204)).toEqual({
      'content-type': 'application/json',
      etag: '"e"',
    });
    expect(cleanResponseHeaders({ 'content-length': '0' }, false, 200)).toEqual({ 'content-length': '0' });
  });

  it('drops content-encoding and content-length when the body was decompressed', () => {
    expect(cleanResponseHeaders({ 'content-encoding': 'gzip', 'content-length': '120', 'content-type': 'text/csv' }, true, 200)).toEqual({
      'content-type': 'text/csv',
    });
  });

  it('keeps repeated headers as lists and lower-cases names', () => {
    expect(cleanResponseHeaders({ 'Set-Cookie': ['a=1', 'b=2'], 'X-RateLimit-Remaining': '4999', gone: undefined }, false, 200)).toEqual({
      'set-cookie': ['a=1', 'b=2'],
      'x-ratelimit-remaining': '4999',
    });
  });
});
