import { describe, expect, it } from 'vitest';
import { decideRestart, DEFAULT_RESTART_POLICY } from '../../../bin/restart-policy.js';

const policy = { maxAttempts: 5, windowMs: 60_000, baseDelayMs: 500, maxDelayMs: 5000 };

describe('decideRestart', () => {
  it.each([
    ['a first crash is restarted at once', [], 4000, 0],
    ['the second attempt within the window waits the base delay', [0], 4000, 500],
    ['later attempts double the wait', [0, 500, 1500], 4000, 2000],
    ['attempts older than the window are forgotten', [0, 1, 2, 3, 4], 60_004, 0],
  ])('%s', (_name, attempts, nowMs, delayMs) => {
    expect(decideRestart(attempts, nowMs, policy)).toEqual({ action: 'restart', delayMs });
  });

  it('caps the wait at maxDelayMs', () => {
    expect(decideRestart([0, 1, 2, 3, 4, 5], 10, { ...policy, maxAttempts: 10 })).toEqual({ action: 'restart', delayMs: 5000 });
  });

  it('gives up once maxAttempts started within the window', () => {
    expect(decideRestart([0, 500, 1500, 3500, 7500], 8000, policy)).toEqual({ action: 'give_up', attempts: 5 });
  });

  it('restarts a server that dies once in a while forever', () => {
    const attempts: number[] = [];
    for (let nowMs = 0; nowMs < 3_600_000; nowMs += 20_000) {
      expect(decideRestart(attempts, nowMs).action).toBe('restart');
      attempts.push(nowMs);
    }
  });

  it('by default gives up within ten seconds of failed starts', () => {
    const attempts: number[] = [];
    let nowMs = 0;
    for (;;) {
      const decision = decideRestart(attempts, nowMs, DEFAULT_RESTART_POLICY);
      if (decision.action === 'give_up') break;
      nowMs += decision.delayMs;
      attempts.push(nowMs);
      nowMs += 100; // the failed start itself
    }
    expect(attempts).toHaveLength(DEFAULT_RESTART_POLICY.maxAttempts);
    expect(nowMs).toBeLessThan(10_000);
  });
});
