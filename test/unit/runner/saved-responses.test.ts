import { describe, expect, it } from 'vitest';
import { bodySha256, exchangeFileName, requestKey, toBodyBytes, toSavedBody } from '../../../runner/saved-responses.js';

describe('runner/saved-responses', () => {
  it('gives one key whatever the order of the query parameters', () => {
    const a = requestKey({ method: 'get', endpoint: '/issues?state=all&page=2', body_sha256: null });
    const b = requestKey({ method: 'GET', endpoint: '/issues?page=2&state=all', body_sha256: null });
    expect(a).toBe(b);
    expect(a).toBe('GET /issues?page=2&state=all -');
  });

  it('tells requests apart by method, path and body', () => {
    const keys = new Set([
      requestKey({ method: 'GET', endpoint: '/issues', body_sha256: null }),
      requestKey({ method: 'POST', endpoint: '/issues', body_sha256: null }),
      requestKey({ method: 'POST', endpoint: '/issues', body_sha256: bodySha256(Buffer.from('{"a":1}')) }),
      requestKey({ method: 'POST', endpoint: '/issues/1', body_sha256: null }),
    ]);
    expect(keys.size).toBe(4);
  });

  it('names files after the request, unique per key', () => {
    expect(exchangeFileName({ method: 'GET', endpoint: '/repos/acme/app/issues/1?state=all', body_sha256: null })).toMatch(/^get-repos-acme-app-issues-1\.[0-9a-f]{8}\.json$/);
    expect(exchangeFileName({ method: 'GET', endpoint: '/a?x=1', body_sha256: null })).not.toBe(exchangeFileName({ method: 'GET', endpoint: '/a?x=2', body_sha256: null }));
  });

  it('keeps JSON as data, text as text and other bytes as base64, and gives the bytes back', () => {
    const json = toSavedBody(Buffer.from('{"n":1}'), 'application/json; charset=utf-8');
    expect(json).toEqual({ data: { n: 1 } });
    expect(toBodyBytes({ status: 200, headers: {}, ...json }).toString()).toBe('{"n":1}');
    expect(toSavedBody(Buffer.from('plain'), 'text/plain')).toEqual({ text: 'plain' });
    const bytes = Buffer.from([0xff, 0x00, 0x80]);
    const binary = toSavedBody(bytes, 'application/octet-stream');
    expect(binary).toEqual({ base64: bytes.toString('base64') });
    expect(toBodyBytes({ status: 200, headers: {}, ...binary }).equals(bytes)).toBe(true);
  });
});
