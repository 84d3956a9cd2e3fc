import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeText, encodeBody, flattenHeaders } from '../../../sdk/http.js';
import { appendQuery, serializeParams } from '../../../sdk/params.js';

// Expected strings were produced by axios 1.18's own buildURL (axios.getUri) for the same input:
// the client must write queries byte for byte as axios does.
describe('serializeParams (axios paramsSerializer rules)', () => {
  it.each([
    ['a flat array, default indexes (false)', { a: [1, 2] }, undefined, 'a%5B%5D=1&a%5B%5D=2'],
    ['a flat array, indexes: null', { a: [1, 2] }, { indexes: null }, 'a=1&a=2'],
    ['a flat array, indexes: true', { a: [1, 2] }, { indexes: true }, 'a%5B0%5D=1&a%5B1%5D=2'],
    ['null and undefined items skipped, indexes kept', { a: [null, 1, undefined] }, { indexes: true }, 'a%5B1%5D=1'],
    ["spaces as +, and : $ , kept, brackets and !'()~ as axios", { b: "x y:$,[]!'()~" }, undefined, "b=x+y:$,%5B%5D!'()~"],
    ['nested objects and arrays inside them', { c: { d: 1, e: [1, { f: 2 }] } }, undefined, 'c%5Bd%5D=1&c%5Be%5D%5B0%5D=1&c%5Be%5D%5B1%5D%5Bf%5D=2'],
    ['a key ending in [] keeps one pair of brackets', { 'g[]': [3] }, undefined, 'g%5B%5D=3'],
    ['a key ending in {} holds JSON', { 'h{}': { i: 1 } }, undefined, 'h%7B%7D=%7B%22i%22:1%7D'],
    ['null and undefined values are left out', { n: null, u: undefined, k: 'v' }, undefined, 'k=v'],
    ['dates as ISO strings, booleans as text', { d: new Date(0), t: true }, undefined, 'd=1970-01-01T00:00:00.000Z&t=true'],
    ['an array of objects is indexed', { arr: [{ x: 1 }] }, undefined, 'arr%5B0%5D%5Bx%5D=1'],
    ['an empty object gives nothing', {}, undefined, ''],
  ])('%s', (_name, params, serializer, expected) => {
    expect(serializeParams(params as Record<string, unknown>, serializer as never)).toBe(expected);
  });

  it('writes a URLSearchParams with its own toString', () => {
    expect(serializeParams(new URLSearchParams({ a: 'b c', d: 'é' }))).toBe('a=b+c&d=%C3%A9');
  });

  it('uses a string as it is, without a leading ?', () => {
    expect(serializeParams('?a=1&b=2')).toBe('a=1&b=2');
    expect(serializeParams('a=1')).toBe('a=1');
  });

  it('calls a custom encode with the default encoder as its second argument', () => {
    expect(serializeParams({ a: 'b c' }, { encode: (value, encode) => `<${value}|${encode(value)}>` })).toBe('<a|a>=<b c|b+c>');
  });

  it('lets serialize (or a bare function) write the whole query', () => {
    const seen: unknown[] = [];
    expect(serializeParams({ a: [1, 2] }, { serialize: (params) => (seen.push(params), 'custom=1') })).toBe('custom=1');
    expect(seen).toEqual([{ a: [1, 2] }]);
    expect(serializeParams({ a: 1 }, () => 'fn=1')).toBe('fn=1');
  });
});

describe('appendQuery', () => {
  it.each([
    ['http://h/p', 'a=1', 'http://h/p?a=1'],
    ['http://h/p?z=1', 'a=1', 'http://h/p?z=1&a=1'],
    ['http://h/p?z=1#frag', 'a=1', 'http://h/p?z=1&a=1'],
    ['http://h/p#frag', '', 'http://h/p#frag'],
  ])('%s + %s → %s', (url, query, expected) => {
    expect(appendQuery(url, query)).toBe(expected);
  });
});

describe('encodeBody (axios transformRequest rules)', () => {
  it('sends objects and arrays as JSON with application/json', () => {
    expect(encodeBody({ id: 1, colorId: 'blue' }, {})).toEqual({ body: '{"id":1,"colorId":"blue"}', contentType: 'application/json' });
    expect(encodeBody([1, 2], {})).toEqual({ body: '[1,2]', contentType: 'application/json' });
  });

  it('sends a string as it is, and quotes it only under a JSON content type when it is not JSON', () => {
    expect(encodeBody('<xml/>', {})).toEqual({ body: '<xml/>', contentType: undefined });
    expect(encodeBody(' {"a":1} ', { 'Content-Type': 'application/json' })).toEqual({ body: '{"a":1}', contentType: undefined });
    expect(encodeBody('hello', { 'content-type': 'application/json' })).toEqual({ body: '"hello"', contentType: undefined });
  });

  it('sends URLSearchParams as a form, and an object as a form when the content type says so', () => {
    expect(encodeBody(new URLSearchParams({ a: '1 2' }), {})).toEqual({ body: 'a=1+2', contentType: 'application/x-www-form-urlencoded;charset=utf-8' });
    expect(encodeBody({ a: 1, b: [2, 3] }, { 'Content-Type': 'application/x-www-form-urlencoded' }).body).toBe('a=1&b%5B%5D=2&b%5B%5D=3');
  });

  it('sends bytes and streams untouched, with no content type of its own', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const encoded = encodeBody(bytes, {});
    expect(Buffer.isBuffer(encoded.body) && [...encoded.body]).toEqual([1, 2, 3]);
    expect(encoded.contentType).toBeUndefined();
    expect((encodeBody(new Uint8Array([9, 8, 7]).subarray(1), {}).body as Buffer).toJSON().data).toEqual([8, 7]);
    const stream = Readable.from(['a']);
    expect(encodeBody(stream, {}).body).toBe(stream);
  });

  it('sends nothing for undefined and null', () => {
    expect(encodeBody(undefined, {}).body).toBeUndefined();
    expect(encodeBody(null, {}).body).toBeUndefined();
  });
});

describe('decodeText and flattenHeaders', () => {
  it('parses JSON when it parses and gives the text otherwise, like axios', () => {
    expect(decodeText(Buffer.from('{"a":1}'), undefined)).toEqual({ a: 1 });
    expect(decodeText(Buffer.from('{"a":1}'), 'json')).toEqual({ a: 1 });
    expect(decodeText(Buffer.from('not json'), 'json')).toBe('not json');
    expect(decodeText(Buffer.from(''), 'json')).toBe('');
    expect(decodeText(Buffer.from('{"a":1}'), 'text')).toBe('{"a":1}');
    expect(decodeText(Buffer.from('\ufeff[1]'), undefined)).toEqual([1]);
  });

  it('lower-cases names and joins repeated values', () => {
    expect(flattenHeaders({ 'X-A': 'a', 'set-cookie': ['a=1', 'b=2'], skip: undefined })).toEqual({ 'x-a': 'a', 'set-cookie': 'a=1, b=2' });
  });
});
