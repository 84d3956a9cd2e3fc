import { describe, expect, it } from 'vitest';
import { expandDotKeys, paginate, parseLinkHeader, readPath } from '../../../../../runner/sandbox/guest/paginate.js';
import type { ProxyConfiguration, ProxyResponse } from '../../../../../sdk/functions.js';

type Reply = { data: unknown; headers?: Record<string, string> };

/** A scripted provider: answers in order, records what paginate asked for. */
function fakeProxy(replies: Reply[]) {
  const requests: ProxyConfiguration[] = [];
  const proxy = async (config: ProxyConfiguration): Promise<ProxyResponse> => {
    requests.push(structuredClone(config));
    const reply = replies[requests.length - 1];
    if (reply === undefined) throw new Error(`unexpected request #${requests.length}: ${JSON.stringify(config)}`);
    return { status: 200, statusText: 'OK', headers: reply.headers ?? {}, data: reply.data, config };
  };
  return { proxy, requests };
}

async function collect(config: ProxyConfiguration, replies: Reply[], defaults?: Record<string, unknown>) {
  const { proxy, requests } = fakeProxy(replies);
  const pages: unknown[][] = [];
  for await (const page of paginate(config, defaults, proxy)) pages.push(page);
  return { pages, requests };
}

describe('paginate: cursor', () => {
  it('sends the cursor from the previous response until it is missing', async () => {
    const { pages, requests } = await collect(
      { endpoint: '/items', params: { q: 'x' }, paginate: { type: 'cursor', cursor_name_in_request: 'after', cursor_path_in_response: 'meta.next', response_path: 'items', limit: 2, limit_name_in_request: 'per_page' } },
      [{ data: { items: [1, 2], meta: { next: 'c2' } } }, { data: { items: [3, 4], meta: { next: ' c3 ' } } }, { data: { items: [5], meta: {} } }],
    );
    expect(pages).toEqual([[1, 2], [3, 4], [5]]);
    expect(requests.map((request) => request.params)).toEqual([
      { q: 'x', per_page: '2' },
      { q: 'x', per_page: '2', after: 'c2' },
      { q: 'x', per_page: '2', after: 'c3' },
    ]);
    expect(requests.every((request) => request.method === 'GET' && request.paginate === undefined && request.data === undefined)).toBe(true);
  });

  it('stops on an empty page without yielding it', async () => {
    const { pages, requests } = await collect({ endpoint: '/items', paginate: { type: 'cursor', cursor_name_in_request: 'c', cursor_path_in_response: 'next', response_path: 'items' } }, [
      { data: { items: [1], next: 'a' } },
      { data: { items: [], next: 'b' } },
    ]);
    expect(pages).toEqual([[1]]);
    expect(requests).toHaveLength(2);
  });

  it('stops when the provider repeats a cursor (a loop)', async () => {
    const { pages } = await collect({ endpoint: '/items', paginate: { type: 'cursor', cursor_name_in_request: 'c', cursor_path_in_response: 'next', response_path: 'items' } }, [
      { data: { items: [1], next: 'same' } },
      { data: { items: [2], next: 'same' } },
    ]);
    expect(pages).toEqual([[1], [2]]);
  });

  it('accepts numeric cursors and sends them in a POST body, dot keys nested', async () => {
    const { requests } = await collect(
      {
        endpoint: '/search',
        method: 'POST',
        data: { filter: { q: 'x' } },
        paginate: { type: 'cursor', cursor_name_in_request: 'pagination.after', cursor_path_in_response: 'next', response_path: 'results', limit: 10, limit_name_in_request: 'pagination.per_page' },
      },
      [{ data: { results: [1], next: 7 } }, { data: { results: [2] } }],
    );
    expect(requests.map((request) => request.data)).toEqual([
      { filter: { q: 'x' }, pagination: { per_page: 10 } },
      { filter: { q: 'x' }, pagination: { per_page: 10, after: 7 } },
    ]);
    expect(requests[0]?.params).toBeUndefined();
  });

  it('puts the parameters in the body of a GET when in_body is set', async () => {
    const { requests } = await collect({ endpoint: '/q', paginate: { type: 'cursor', cursor_name_in_request: 'c', cursor_path_in_response: 'n', response_path: 'r', in_body: true } }, [
      { data: { r: [1], n: 'x' } },
      { data: { r: [] } },
    ]);
    expect(requests.map((request) => [request.method, request.data])).toEqual([
      ['GET', {}],
      ['GET', { c: 'x' }],
    ]);
  });

  it('merges the provider defaults under the function settings', async () => {
    const { requests } = await collect(
      { endpoint: '/items', paginate: { limit: 5 } },
      [{ data: { data: [1, 2, 3, 4, 5], next: '' } }],
      { type: 'cursor', cursor_name_in_request: 'cursor', cursor_path_in_response: 'next', response_path: 'data', limit_name_in_request: 'limit', limit: 100 },
    );
    expect(requests[0]?.params).toEqual({ limit: '5' });
  });

  it('calls on_page with the next cursor before yielding the page', async () => {
    const seen: unknown[] = [];
    const { pages } = await collect(
      {
        endpoint: '/items',
        paginate: { type: 'cursor', cursor_name_in_request: 'c', cursor_path_in_response: 'next', response_path: 'items', on_page: ({ nextPageParam, response }) => void seen.push([nextPageParam, response.status]) },
      },
      [{ data: { items: [1], next: 'n2' } }, { data: { items: [2] } }],
    );
    expect(pages).toHaveLength(2);
    expect(seen).toEqual([
      ['n2', 200],
      [undefined, 200],
    ]);
  });

  it('reads a query string in params', async () => {
    const { requests } = await collect({ endpoint: '/items', params: 'a=1&b=two%20words', paginate: { type: 'cursor', cursor_name_in_request: 'c', cursor_path_in_response: 'n' } }, [
      { data: [1], headers: {} },
    ]);
    expect(requests[0]?.params).toEqual({ a: '1', b: 'two words' });
  });
});

describe('paginate: link', () => {
  it('follows the Link header rel and stops when it is absent', async () => {
    const { pages, requests } = await collect(
      { endpoint: '/repos/o/r/issues', params: { per_page: 2 }, paginate: { type: 'link', link_rel_in_response_header: 'next' } },
      [
        { data: [1, 2], headers: { link: '<https://api.example.com/repositories/9/issues?per_page=2&page=2>; rel="next", <https://api.example.com/repositories/9/issues?page=5>; rel="last"' } },
        { data: [3, 4], headers: { link: '</repositories/9/issues?per_page=2&page=3>; rel="next"' } },
        { data: [5], headers: {} },
      ],
    );
    expect(pages).toEqual([[1, 2], [3, 4], [5]]);
    expect(requests.map((request) => [request.baseUrlOverride, request.endpoint, request.params])).toEqual([
      [undefined, '/repos/o/r/issues', { per_page: 2 }],
      // A full URL replaces the base and the endpoint; the link carries its query.
      ['https://api.example.com', '/repositories/9/issues?per_page=2&page=2', undefined],
      ['https://api.example.com', '/repositories/9/issues?per_page=2&page=3', undefined],
    ]);
  });

  it('follows a link from the body and stops on a link seen before', async () => {
    const { pages, requests } = await collect({ endpoint: '/a', paginate: { type: 'link', link_path_in_response_body: 'paging.next', response_path: 'results' } }, [
      { data: { results: [1], paging: { next: '/a?page=2' } } },
      { data: { results: [2], paging: { next: '/a?page=3' } } },
      { data: { results: [3], paging: { next: '/a?page=2' } } },
    ]);
    expect(pages).toEqual([[1], [2], [3]]);
    expect(requests.map((request) => request.endpoint)).toEqual(['/a', '/a?page=2', '/a?page=3']);
  });

  it('needs a header rel or a body path', async () => {
    await expect(collect({ endpoint: '/a', paginate: { type: 'link' } }, [])).rejects.toThrow(/link_rel_in_response_header or link_path_in_response_body/);
  });
});

describe('paginate: offset', () => {
  it('adds the page size by default and stops on a short page', async () => {
    const { pages, requests } = await collect(
      { endpoint: '/items', paginate: { type: 'offset', offset_name_in_request: 'offset', limit: 2, limit_name_in_request: 'limit', response_path: 'rows' } },
      [{ data: { rows: [1, 2] } }, { data: { rows: [3, 4] } }, { data: { rows: [5] } }],
    );
    expect(pages).toEqual([[1, 2], [3, 4], [5]]);
    expect(requests.map((request) => request.params)).toEqual([
      { limit: '2', offset: '0' },
      { limit: '2', offset: '2' },
      { limit: '2', offset: '4' },
    ]);
  });

  it('counts pages with per-page from offset_start_value', async () => {
    const { requests } = await collect({ endpoint: '/items', paginate: { type: 'offset', offset_name_in_request: 'page', offset_start_value: 1, offset_calculation_method: 'per-page' } }, [
      { data: [1, 2, 3] },
      { data: [4] },
      { data: [] },
    ]);
    expect(requests.map((request) => (request.params as Record<string, string>).page)).toEqual(['1', '2', '3']);
  });

  it('sends numbers in a body', async () => {
    const { requests } = await collect({ endpoint: '/items', method: 'post', paginate: { type: 'offset', offset_name_in_request: 'skip' } }, [{ data: [1] }, { data: [] }]);
    expect(requests.map((request) => [request.method, request.data])).toEqual([
      ['POST', { skip: 0 }],
      ['POST', { skip: 1 }],
    ]);
  });
});

describe('paginate: configuration errors', () => {
  it('refuses a walk with no type anywhere', async () => {
    await expect(collect({ endpoint: '/a' }, [])).rejects.toThrow(/no pagination settings/);
  });

  it('names the missing cursor setting', async () => {
    await expect(collect({ endpoint: '/a', paginate: { type: 'cursor', cursor_name_in_request: 'c' } }, [{ data: [1] }])).rejects.toThrow(/cursor_path_in_response is required/);
  });

  it('says where it expected an array', async () => {
    await expect(collect({ endpoint: '/a', paginate: { type: 'offset', offset_name_in_request: 'o', response_path: 'data' } }, [{ data: { data: { not: 'a list' } } }])).rejects.toThrow(
      /expected an array at response_path "data", got object/,
    );
  });
});

describe('paginate helpers', () => {
  it('reads dot and bracket paths', () => {
    expect(readPath({ a: { b: [{ c: 1 }] } }, 'a.b[0].c')).toBe(1);
    expect(readPath({ a: null }, 'a.b')).toBeUndefined();
  });

  it('nests dot keys and ignores prototype keys', () => {
    expect(expandDotKeys({ 'a.b': 1, 'a.c': 2, d: 3, '__proto__.x': 1, 'filter[status]': 'open' })).toEqual({ a: { b: 1, c: 2 }, d: 3, 'filter[status]': 'open' });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('parses Link headers with several rels and unquoted values', () => {
    expect(parseLinkHeader('<https://x/2>; rel="next last", <https://x/1>; rel=prev')).toEqual({ next: 'https://x/2', last: 'https://x/2', prev: 'https://x/1' });
  });
});
