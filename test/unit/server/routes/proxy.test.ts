import { describe, expect, it } from 'vitest';
import { isPatchbayError } from '../../../../server/errors.js';
import { parseProxyHeaders } from '../../../../server/routes/proxy.js';

const base = { 'provider-config-key': 'github', 'connection-id': 'user-1' };

function pathsOf(headers: Record<string, string>): (string | number)[][] {
  try {
    parseProxyHeaders(headers);
  } catch (error) {
    if (isPatchbayError(error) && error.code === 'invalid_headers') return (error.fields?.errors as { path: (string | number)[] }[]).map((e) => e.path);
    throw error;
  }
  return [];
}

describe('parseProxyHeaders', () => {
  it('reads the proxy headers with their defaults', () => {
    expect(parseProxyHeaders(base)).toEqual({
      providerConfigKey: 'github',
      connectionId: 'user-1',
      retries: 0,
      retryOn: [],
      baseUrlOverride: undefined,
      decompress: false,
    });
    expect(
      parseProxyHeaders({ ...base, retries: '3', 'retry-on': '404, 409', 'base-url-override': 'https://eu.api.x.com', decompress: 'true' }),
    ).toMatchObject({ retries: 3, retryOn: [404, 409], baseUrlOverride: 'https://eu.api.x.com', decompress: true });
    expect(parseProxyHeaders({ ...base, 'base-url-override': '' }).baseUrlOverride).toBeUndefined();
  });

  it.each([
    [{ 'connection-id': 'x' }, [['provider-config-key']]],
    [{ 'provider-config-key': 'github' }, [['connection-id']]],
    [{ ...base, 'provider-config-key': 'bad/key' }, [['provider-config-key']]],
    [{ ...base, 'connection-id': 'a\u0001b' }, [['connection-id']]],
    [{ ...base, retries: 'lots' }, [['retries']]],
    [{ ...base, retries: '11' }, [['retries']]],
    [{ ...base, retries: '-1' }, [['retries']]],
    [{ ...base, 'retry-on': '404,abc' }, [['retry-on']]],
    [{ ...base, 'base-url-override': 'file:///etc/passwd' }, [['base-url-override']]],
    [{ ...base, 'base-url-override': 'not a url' }, [['base-url-override']]],
    [{ ...base, decompress: 'yes' }, [['decompress']]],
    [{ retries: 'x' }, [['provider-config-key'], ['connection-id'], ['retries']]],
  ])('names every wrong header of %j', (headers, paths) => {
    expect(pathsOf(headers as Record<string, string>)).toEqual(paths);
  });
});
