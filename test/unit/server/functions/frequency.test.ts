import { describe, expect, it } from 'vitest';
import { parseFrequency } from '../../../../server/functions/frequency.js';

describe('parseFrequency', () => {
  it.each([
    ['every 30 seconds', 30_000],
    ['every 5 minutes', 300_000],
    ['every 5min', 300_000],
    ['every hour', 3_600_000],
    ['every half hour', 1_800_000],
    ['every day', 86_400_000],
    ['every 2 days', 172_800_000],
    ['1h', 3_600_000],
    ['Every Week', 604_800_000],
    ['every 31 days', 31 * 86_400_000],
  ])('%s → %i ms', (phrase, expected) => {
    expect(parseFrequency(phrase)).toEqual({ ok: true, ms: expected });
  });

  it.each([
    ['every 10 seconds', 'more often than every 30 seconds'],
    ['every 32 days', 'less often than every 31 days'],
    ['sometimes', 'is not a frequency'],
    ['', 'is not a frequency'],
  ])('refuses %j (%s)', (phrase, reason) => {
    const result = parseFrequency(phrase);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain(reason);
  });
});
