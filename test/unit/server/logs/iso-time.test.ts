import { describe, expect, it } from 'vitest';
import { isoTime } from '../../../../server/store/logs.js';

describe('isoTime', () => {
  it('writes what Date#toISOString writes, within a minute, across minutes and out of order', () => {
    const start = Date.UTC(2026, 10, 23, 23, 58, 59, 990);
    const times: number[] = [];
    for (let i = 0; i < 200_000; i += 7) times.push(start + i); // crosses minutes, an hour, a day
    times.push(start - 86_400_000, start, 0, 59_999, 60_000, Date.UTC(2024, 1, 29, 12), Date.UTC(9999, 11, 31, 23, 58, 59, 999));
    let seed = 3;
    for (let i = 0; i < 5000; i++) times.push((seed = (seed * 48271) % 2147483647) * 117);
    // Compared plainly and asserted once: 35,000 expect() calls take seconds on a busy machine.
    const wrong = times.filter((ms) => isoTime(new Date(ms)) !== new Date(ms).toISOString()).slice(0, 5);
    expect(wrong.map((ms) => ({ ms, got: isoTime(new Date(ms)), want: new Date(ms).toISOString() }))).toEqual([]);
  });

  it('falls back to the standard form outside years 0000–9999 and throws on an invalid date like it', () => {
    for (const ms of [-1, -62_198_755_200_000, Date.UTC(9999, 11, 31, 23, 59, 30), 8.64e15]) {
      expect(isoTime(new Date(ms))).toBe(new Date(ms).toISOString());
    }
    expect(() => isoTime(new Date(Number.NaN))).toThrow(RangeError);
  });
});
