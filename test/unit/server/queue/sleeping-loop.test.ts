import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSleepingLoop } from '../../../../server/queue/sleeping-loop.js';
import type { OutageLog } from '../../../../server/store/index.js';

/** An outage log that remembers what it heard. */
function recordingOutage(): OutageLog & { heard: string[] } {
  const heard: string[] = [];
  return {
    heard,
    failed: (error) => void heard.push(`failed: ${(error as Error).message}`),
    succeeded: () => void heard.push('succeeded'),
    get down() {
      return heard.at(-1)?.startsWith('failed') ?? false;
    },
  };
}

/** A pass the test answers by hand: each call waits until the test settles it. */
function heldPasses() {
  const pending: { resolve: (ms: number | undefined) => void; reject: (error: Error) => void }[] = [];
  return {
    pass: () => new Promise<number | undefined>((resolve, reject) => void pending.push({ resolve, reject })),
    get count() {
      return pending.length;
    },
    settle: async (at: number, ms: number | undefined) => {
      pending[at]?.resolve(ms);
      await vi.advanceTimersByTimeAsync(0);
    },
    fail: async (at: number, message: string) => {
      pending[at]?.reject(new Error(message));
      await vi.advanceTimersByTimeAsync(0);
    },
  };
}

describe('sleeping loop', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sleeps as long as each pass says, and a wake cuts the sleep short', async () => {
    const passes = heldPasses();
    const loop = createSleepingLoop({ pass: passes.pass, outage: recordingOutage(), retryMs: 1000 });
    loop.start();
    expect(passes.count).toBe(1);
    await passes.settle(0, 60_000);
    await vi.advanceTimersByTimeAsync(59_999);
    expect(passes.count).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(passes.count).toBe(2);
    await passes.settle(1, 60_000);
    loop.wake();
    expect(passes.count).toBe(3);
    await passes.settle(2, 60_000);
    await loop.stop();
  });

  it('runs one pass at a time: wakes during a pass ask for exactly one more after it', async () => {
    const passes = heldPasses();
    const loop = createSleepingLoop({ pass: passes.pass, outage: recordingOutage(), retryMs: 1000 });
    loop.start();
    loop.wake();
    loop.wake();
    loop.wake();
    expect(passes.count).toBe(1);
    await passes.settle(0, 60_000);
    expect(passes.count).toBe(2);
    await passes.settle(1, 60_000);
    expect(passes.count).toBe(2);
    await loop.stop();
  });

  it('tries a failed pass again after retryMs, telling the outage log how each went', async () => {
    const passes = heldPasses();
    const outage = recordingOutage();
    const loop = createSleepingLoop({ pass: passes.pass, outage, retryMs: 1000 });
    loop.start();
    await passes.fail(0, 'database away');
    await vi.advanceTimersByTimeAsync(999);
    expect(passes.count).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(passes.count).toBe(2);
    await passes.settle(1, 60_000);
    expect(outage.heard).toEqual(['failed: database away', 'succeeded']);
    await loop.stop();
  });

  it('starts after a delay when asked, and after stop() no pass runs, however it is woken', async () => {
    const passes = heldPasses();
    const loop = createSleepingLoop({ pass: passes.pass, outage: recordingOutage(), retryMs: 1000 });
    loop.start(5000);
    await vi.advanceTimersByTimeAsync(4999);
    expect(passes.count).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(passes.count).toBe(1);
    loop.wake();
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false); // the pass under way is waited for
    await passes.settle(0, 10);
    await stopping;
    loop.wake();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(passes.count).toBe(1);
  });

  it('a pass that wakes the loop itself gets one more pass after it, never a second at once', async () => {
    let running = 0;
    let most = 0;
    let passes = 0;
    const loop = createSleepingLoop({
      pass: async () => {
        running++;
        most = Math.max(most, running);
        passes++;
        if (passes < 3) loop.wake();
        await Promise.resolve();
        running--;
        return 60_000;
      },
      outage: recordingOutage(),
      retryMs: 1000,
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    expect([passes, most]).toEqual([3, 1]);
    await loop.stop();
  });

  it('without a sleep from the pass or a retryMs, waits for the next wake, after a failure too', async () => {
    const passes = heldPasses();
    const loop = createSleepingLoop({ pass: passes.pass, outage: recordingOutage() });
    loop.start();
    await passes.settle(0, undefined);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(passes.count).toBe(1);
    loop.wake();
    await passes.fail(1, 'database away');
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(passes.count).toBe(2);
    loop.wake();
    expect(passes.count).toBe(3);
    await passes.settle(2, undefined);
    await loop.stop();
  });
});
