import { describe, expect, it } from 'vitest';
import { decodeBody, toProxyRequest, withParams } from '../../../runner/operations.js';
import { limitsOf } from '../../../runner/run-function.js';

describe('withParams (as @nangohq/node applies params)', () => {
  it.each([
    ['/items', undefined, '/items'],
    ['/items', 'a=1&b=2', '/items?a=1&b=2'],
    ['/items', '?a=1', '/items?a=1'],
    ['/items', { a: 1, b: 'x y', skip: undefined }, '/items?a=1&b=x+y'],
    ['/items?a=1', { a: 2, c: true }, '/items?a=2&c=true'],
    ['/items', {}, '/items'],
  ])('%s + %o → %s', (endpoint, params, expected) => {
    expect(withParams(endpoint, params)).toBe(expected);
  });

  it('refuses a string query on an endpoint that already has one', () => {
    expect(() => withParams('/items?a=1', 'b=2')).toThrow(expect.objectContaining({ hostFailure: true, code: 'invalid_params' }));
  });
});

describe('toProxyRequest', () => {
  it('defaults to GET, lower-cases headers, sends objects as JSON and always decompresses', () => {
    const call = toProxyRequest({ endpoint: '/x', headers: { 'X-Trace': 'a', Skip: null }, data: { a: 1 } });
    expect(call.method).toBe('GET');
    expect(call.headers).toEqual({ 'x-trace': 'a', 'content-type': 'application/json' });
    expect(call.body?.toString()).toBe('{"a":1}');
    expect(call.options).toEqual({ retries: 0, retryOn: [], baseUrlOverride: undefined, decompress: true });
  });

  it('keeps a given content type, strings and bytes as they are, and bounds retries', () => {
    const text = toProxyRequest({ endpoint: '/x', method: 'post', headers: { 'content-type': 'text/csv' }, data: 'a,b', retries: 99, retryOn: [409, 'x'] });
    expect([text.method, text.headers['content-type'], text.body?.toString(), text.options.retries, text.options.retryOn]).toEqual(['POST', 'text/csv', 'a,b', 10, [409]]);
    const bytes = toProxyRequest({ endpoint: '/x', data: new Uint8Array([1, 2, 3]) });
    expect([...(bytes.body ?? [])]).toEqual([1, 2, 3]);
    expect(bytes.headers['content-type']).toBeUndefined();
  });

  it('needs an endpoint', () => {
    expect(() => toProxyRequest({})).toThrow(expect.objectContaining({ code: 'invalid_endpoint' }));
  });
});

describe('decodeBody (as axios does by default)', () => {
  it.each([
    ['{"a":1}', 'application/json', undefined, { a: 1 }],
    ['{"a":1}', 'text/plain', undefined, { a: 1 }],
    ['not json', 'application/json', undefined, 'not json'],
    ['', 'application/json', undefined, null],
    ['', 'text/html', undefined, ''],
    ['{"a":1}', 'application/json', 'text', '{"a":1}'],
  ])('%j (%s, %s) → %j', (text, type, responseType, expected) => {
    expect(decodeBody(Buffer.from(text), type, responseType)).toEqual(expected);
  });

  it('gives bytes for arraybuffer', () => {
    const out = decodeBody(Buffer.from([0, 255]), 'application/octet-stream', 'arraybuffer');
    expect(out).toBeInstanceOf(Uint8Array);
    expect([...(out as Uint8Array)]).toEqual([0, 255]);
  });
});

describe('limitsOf (what a function may ask of the runner)', () => {
  it('maps the definition to sandbox limits and caps them', () => {
    expect(limitsOf({ limits: { timeoutMs: 5000, cpuMs: 100, memoryMb: 64 } })).toEqual({ wallMs: 5000, cpuMs: 100, memoryMb: 64 });
    expect(limitsOf({ limits: { timeoutMs: 24 * 3600_000, memoryMb: 100_000, cpuMs: 'x' } })).toEqual({ wallMs: 15 * 60_000, memoryMb: 1024 });
    expect(limitsOf(undefined)).toEqual({});
  });
});
