import { describe, expect, it } from 'vitest';
import { toExactBytes, toFailureData } from '../../../../runner/sandbox/bridge.js';

describe('toExactBytes', () => {
  it('copies every byte view into a buffer of exactly its bytes', () => {
    const pool = Buffer.from('other-tenant-token|payload|more');
    const value = { status: 200, data: pool.subarray(19, 26), nested: [{ chunk: new Uint16Array(pool.buffer, pool.byteOffset, 2) }] };
    const exact = toExactBytes(value) as { data: Uint8Array; nested: [{ chunk: Uint8Array }] };
    expect(exact.data.buffer.byteLength).toBe(7);
    expect(Buffer.from(exact.data).toString()).toBe('payload');
    expect(exact.nested[0].chunk.buffer.byteLength).toBe(4);
    // The original is not modified.
    expect(value.data.buffer.byteLength).toBeGreaterThan(7);
  });

  it('returns the same object when there are no byte views', () => {
    const value = { a: [1, { b: 'c' }], d: null };
    expect(toExactBytes(value)).toBe(value);
  });

  it('survives cycles', () => {
    const value: Record<string, unknown> = { bytes: new Uint8Array(2) };
    value.self = value;
    expect((toExactBytes(value) as Record<string, unknown>).bytes).toBeInstanceOf(Uint8Array);
  });
});

describe('toFailureData', () => {
  it('keeps the fields of a HostFailure, checked', () => {
    expect(toFailureData({ hostFailure: true, code: 'rate_limited', message: 'wait', status: 429, secret: 'dropped' })).toEqual({ code: 'rate_limited', message: 'wait', status: 429 });
    expect(toFailureData({ hostFailure: true, code: 'x', message: 'y', response: { status: 500, headers: { a: 'b' }, data: [1] } })).toEqual({ code: 'x', message: 'y', response: { status: 500, headers: { a: 'b' }, data: [1] } });
  });

  it('reduces anything else to a message that says nothing of the host', () => {
    for (const thrown of [new Error('password at /srv/app.ts'), 'text', null, { code: 'x', message: 'no brand' }, { hostFailure: true, message: 'no code' }]) {
      expect(toFailureData(thrown)).toEqual({ code: 'internal_error', message: 'The operation failed inside Patchbay.' });
    }
  });
});
