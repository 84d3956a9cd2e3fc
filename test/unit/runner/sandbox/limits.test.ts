import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, resolveLimits } from '../../../../runner/sandbox/limits.js';

describe('resolveLimits', () => {
  it('takes valid values over the base, floored', () => {
    expect(resolveLimits(DEFAULT_LIMITS, { memoryMb: 256.7, cpuMs: 500, wallMs: 86_400_000, maxOutputBytes: 0 })).toEqual({ memoryMb: 256, cpuMs: 500, wallMs: 86_400_000, maxOutputBytes: 0 });
  });

  it('keeps the base for missing, negative, non-finite or too small values: a bad value never disables a limit', () => {
    expect(resolveLimits(DEFAULT_LIMITS, { memoryMb: 4, cpuMs: -1, wallMs: Number.POSITIVE_INFINITY, maxOutputBytes: Number.NaN })).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits(DEFAULT_LIMITS, undefined)).toEqual(DEFAULT_LIMITS);
  });

  it('caps the wall limit at what a Node timer can wait', () => {
    expect(resolveLimits(DEFAULT_LIMITS, { wallMs: 2 ** 40 }).wallMs).toBe(2_147_483_647);
  });
});
