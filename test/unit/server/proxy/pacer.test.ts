import { describe, expect, it, vi } from 'vitest';
import type { ProviderRetry } from '../../../../server/providers/catalog.js';
import { createPacer, type Slot } from '../../../../server/proxy/pacer.js';

const NO_RULES: ProviderRetry = { at: [], after: [], remaining: undefined, errorCodes: undefined };
const NOW = 1_704_067_200_000;
const NOW_S = NOW / 1000;

/** Lets pending promise callbacks and zero-delay timers run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

/** A clock that moves only when the pacer waits on it; every wait it asks for is recorded. */
function fakeTime(start = NOW) {
  let clock = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => clock,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      clock += ms;
    },
  };
}

/** Watches an acquire without awaiting it, so a test can say whether it is still waiting. */
function watch(acquired: Slot | Promise<Slot>) {
  const watched: { state: 'pending' | 'granted' | 'rejected'; slot: Slot | undefined; error: unknown } = {
    state: 'pending',
    slot: undefined,
    error: undefined,
  };
  Promise.resolve(acquired).then(
    (slot) => {
      watched.state = 'granted';
      watched.slot = slot;
    },
    (error: unknown) => {
      watched.state = 'rejected';
      watched.error = error;
    },
  );
  return watched;
}

describe('createPacer: concurrency', () => {
  it('holds the call beyond the concurrency cap until a slot is released', async () => {
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10 });
    const limits = { concurrency: 2, maxWaitMs: 60_000 };
    const first = await pacer.acquire('conn', limits);
    await pacer.acquire('conn', limits);
    const third = watch(pacer.acquire('conn', limits));
    await settle();
    expect(third.state).toBe('pending');
    first.release();
    await settle();
    expect(third.state).toBe('granted');
  });

  it('caps each connection separately', async () => {
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10 });
    const limits = { concurrency: 1, maxWaitMs: 60_000 };
    await pacer.acquire('busy', limits);
    const other = watch(pacer.acquire('other', limits));
    await settle();
    expect(other.state).toBe('granted');
  });

  it('hands freed slots over in arrival order', async () => {
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10 });
    const limits = { concurrency: 1, maxWaitMs: 60_000 };
    const holder = await pacer.acquire('conn', limits);
    const second = watch(pacer.acquire('conn', limits));
    const third = watch(pacer.acquire('conn', limits));
    await settle();
    holder.release();
    await settle();
    expect([second.state, third.state]).toEqual(['granted', 'pending']);
    second.slot?.release();
    await settle();
    expect(third.state).toBe('granted');
  });

  it('frees a slot once when it is released twice', async () => {
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10 });
    const limits = { concurrency: 1, maxWaitMs: 60_000 };
    const holder = await pacer.acquire('conn', limits);
    const second = watch(pacer.acquire('conn', limits));
    const third = watch(pacer.acquire('conn', limits));
    holder.release();
    holder.release();
    await settle();
    expect([second.state, third.state]).toEqual(['granted', 'pending']);
  });

  it('refuses a call with rate_limited when the queue of its connection is full', async () => {
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 2 });
    const limits = { concurrency: 1, maxWaitMs: 60_000 };
    await pacer.acquire('conn', limits);
    const queued = [watch(pacer.acquire('conn', limits)), watch(pacer.acquire('conn', limits))];
    await expect(pacer.acquire('conn', limits)).rejects.toMatchObject({ code: 'rate_limited', fields: { retry_after_ms: expect.any(Number) } });
    expect(queued.map((q) => q.state)).toEqual(['pending', 'pending']);
  });
});

describe('createPacer: aborts', () => {
  it('rejects a waiting acquire with the abort reason and gives the slot to the next call', async () => {
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10 });
    const limits = { concurrency: 1, maxWaitMs: 60_000 };
    const holder = await pacer.acquire('conn', limits);
    const controller = new AbortController();
    const aborted = watch(pacer.acquire('conn', limits, controller.signal));
    const next = watch(pacer.acquire('conn', limits));
    controller.abort(new Error('client disconnected'));
    await settle();
    expect(aborted.state).toBe('rejected');
    expect((aborted.error as Error).message).toBe('client disconnected');
    holder.release();
    await settle();
    expect(next.state).toBe('granted');
  });

  // Regression: takeSlot added an 'abort' listener to a signal that had already fired, so the
  // call waited in the queue (taking a place) until a slot freed instead of failing at once.
  it('does not queue a call whose signal is already aborted', async () => {
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10 });
    const limits = { concurrency: 1, maxWaitMs: 60_000 };
    const holder = await pacer.acquire('conn', limits);
    const late = watch(pacer.acquire('conn', limits, AbortSignal.abort(new Error('client already gone'))));
    await settle();
    try {
      expect(late.state).toBe('rejected');
    } finally {
      holder.release();
      await settle();
      late.slot?.release();
    }
  });

  it('rejects an acquire waiting for a quota reset when its signal aborts', async () => {
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: Date.now });
    const limits = { concurrency: 5, maxWaitMs: 60_000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Date.now() / 1000 + 30) }, NO_RULES);
    const controller = new AbortController();
    const waiting = watch(pacer.acquire('conn', limits, controller.signal));
    await settle();
    expect(waiting.state).toBe('pending');
    // Held for 30 s: only the abort can end the wait before the test's timeout.
    controller.abort(new Error('client disconnected'));
    await vi.waitFor(() => expect(waiting.state).toBe('rejected'), { timeout: 10_000 });
    expect((waiting.error as Error).message).toBe('client disconnected');
  });
});

describe('createPacer: quota', () => {
  it('holds a call until the quota resets when the last response had 0 remaining', async () => {
    const time = fakeTime();
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: time.now, sleep: time.sleep });
    const limits = { concurrency: 5, maxWaitMs: 5000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String((NOW + 200) / 1000) }, NO_RULES);
    const slot = await pacer.acquire('conn', limits);
    expect(time.sleeps).toEqual([200]);
    expect(slot.waitedMs).toBe(200);
  });

  it('holds a long wait in steps of at most a second, then lets the call go at the reset', async () => {
    const time = fakeTime();
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: time.now, sleep: time.sleep });
    const limits = { concurrency: 5, maxWaitMs: 5000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_S + 2.5) }, NO_RULES);
    const slot = await pacer.acquire('conn', limits);
    expect(time.sleeps).toEqual([1000, 1000, 500]);
    expect(slot.waitedMs).toBe(2500);
  });

  it('refuses with rate_limited and retry_after_ms when the reset is beyond maxWaitMs', async () => {
    const clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock });
    const limits = { concurrency: 5, maxWaitMs: 5000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_S + 10) }, NO_RULES);
    await expect(pacer.acquire('conn', limits)).rejects.toMatchObject({ code: 'rate_limited', fields: { retry_after_ms: 10_000 } });
  });

  it('counts the known quota down and holds the call that would exceed it', async () => {
    const clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock });
    const limits = { concurrency: 5, maxWaitMs: 5000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 200, { 'x-ratelimit-remaining': '2', 'x-ratelimit-reset': String(NOW_S + 10) }, NO_RULES);
    const first = await pacer.acquire('conn', limits);
    const second = await pacer.acquire('conn', limits);
    expect([first.waitedMs, second.waitedMs]).toEqual([0, 0]);
    await expect(pacer.acquire('conn', limits)).rejects.toMatchObject({ code: 'rate_limited', fields: { retry_after_ms: 10_000 } });
  });

  it('holds calls after a 429 for as long as its Retry-After says', async () => {
    const clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock });
    const limits = { concurrency: 5, maxWaitMs: 5000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 429, { 'retry-after': '10' }, NO_RULES);
    await expect(pacer.acquire('conn', limits)).rejects.toMatchObject({ code: 'rate_limited', fields: { retry_after_ms: 10_000 } });
  });

  it('reads the remaining header the provider names (GitHub 403)', async () => {
    const clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock });
    const github: ProviderRetry = { at: ['x-ratelimit-reset'], after: ['retry-after'], remaining: 'x-ratelimit-remaining', errorCodes: undefined };
    const limits = { concurrency: 5, maxWaitMs: 5000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_S + 60) }, github);
    await expect(pacer.acquire('conn', limits)).rejects.toMatchObject({ code: 'rate_limited', fields: { retry_after_ms: 60_000 } });
  });

  it('lets calls through again once the reset time has passed', async () => {
    let clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock });
    const limits = { concurrency: 5, maxWaitMs: 5000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_S + 10) }, NO_RULES);
    clock = NOW + 10_001;
    const slot = await pacer.acquire('conn', limits);
    expect(slot.waitedMs).toBe(0);
  });

  it('counts the calls still in flight at a reset against the new window (they may land in it)', async () => {
    let clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock });
    const limits = { concurrency: 10, maxWaitMs: 60_000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 200, { 'x-ratelimit-limit': '4', 'x-ratelimit-remaining': '3', 'x-ratelimit-reset': String(NOW_S + 1) }, NO_RULES);
    // Three calls go out late in the window and have not been answered when it resets.
    const late = [await pacer.acquire('conn', limits), await pacer.acquire('conn', limits), await pacer.acquire('conn', limits)];
    expect(late.map((slot) => slot.waitedMs)).toEqual([0, 0, 0]);
    clock = NOW + 1001;
    // The new window has room for 4, of which the 3 in flight may take 3: one call goes, the next waits.
    const fourth = await pacer.acquire('conn', limits);
    expect(fourth.waitedMs).toBe(0);
    const held = watch(pacer.acquire('conn', limits));
    await settle();
    expect(held.state).toBe('pending');
    expect(pacer.inspect('conn')[0]).toMatchObject({ inFlight: 4, remaining: 0 });
    // Without answers to say more, the held call goes once nothing is in flight any more.
    for (const slot of [...late, fourth]) slot.release();
    await expect.poll(() => held.state).toBe('granted');
  });

  it('does not hold calls when the response gives no reset time', async () => {
    const clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock });
    const limits = { concurrency: 5, maxWaitMs: 5000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 200, { 'x-ratelimit-remaining': '0' }, NO_RULES);
    expect((await pacer.acquire('conn', limits)).waitedMs).toBe(0);
  });
});

describe('createPacer: memory', () => {
  it('remembers at most maxEntries connections', async () => {
    const pacer = createPacer({ maxEntries: 10, maxQueuePerConnection: 10 });
    const limits = { concurrency: 1, maxWaitMs: 60_000 };
    for (let i = 0; i < 50; i++) (await pacer.acquire(`conn-${i}`, limits)).release();
    expect(pacer.size()).toBeLessThanOrEqual(10);
  });

  it('keeps the cap of a connection with a call in flight while other connections come and go', async () => {
    const pacer = createPacer({ maxEntries: 10, maxQueuePerConnection: 10 });
    const limits = { concurrency: 1, maxWaitMs: 60_000 };
    const holder = await pacer.acquire('busy', limits);
    for (let i = 0; i < 50; i++) (await pacer.acquire(`conn-${i}`, limits)).release();
    const second = watch(pacer.acquire('busy', limits));
    await settle();
    expect(second.state).toBe('pending');
    holder.release();
    await settle();
    expect(second.state).toBe('granted');
  });
});

describe('createPacer: bounded state', () => {
  it('remembers at most maxEntries connections, forgetting the least recently used idle ones', async () => {
    const clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock });
    const limits = { concurrency: 1, maxWaitMs: 5000 };
    const exhaust = async (key: string) => {
      (await pacer.acquire(key, limits)).release();
      pacer.observe(key, 200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_S + 10) }, NO_RULES);
    };
    // 'held' keeps its slot throughout; 'kept' is exhausted first and used again and again.
    const held = await pacer.acquire('held', limits);
    await exhaust('kept');
    for (let i = 0; i < 1000; i++) {
      (await pacer.acquire(`c-${i}`, limits)).release();
      if (i % 50 === 0) await expect(pacer.acquire('kept', limits)).rejects.toMatchObject({ code: 'rate_limited' });
      expect(pacer.size()).toBeLessThanOrEqual(100);
    }
    // The recent and the busy connections are remembered; an old idle one was forgotten.
    await expect(pacer.acquire('kept', limits)).rejects.toMatchObject({ code: 'rate_limited' });
    const waiting = watch(pacer.acquire('held', limits));
    await settle();
    expect(waiting.state).toBe('pending');
    held.release();
    await settle();
    expect(waiting.state).toBe('granted');
    waiting.slot?.release();
    await exhaust('old');
    for (let i = 1000; i < 1200; i++) (await pacer.acquire(`c-${i}`, limits)).release();
    expect((await pacer.acquire('old', limits)).waitedMs).toBe(0);
  });
});

describe('createPacer: bounds (review findings)', () => {
  it('ignores a Retry-After longer than maxHoldMs instead of locking the connection (Retry-After: 2147483647)', async () => {
    const clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock });
    const limits = { concurrency: 5, maxWaitMs: 5000 };
    (await pacer.acquire('conn', limits)).release();
    pacer.observe('conn', 429, { 'retry-after': '2147483647' }, NO_RULES);
    const next = pacer.acquire('conn', limits);
    expect(next).not.toBeInstanceOf(Promise);
    expect(pacer.inspect('conn')).toEqual([{ key: 'conn', inFlight: 1, waiting: 0, remaining: undefined, resetAtMs: undefined }]);
  });

  it('ignores a reset header further away than maxHoldMs, and obeys one within it', async () => {
    const clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock, maxHoldMs: 60_000 });
    const limits = { concurrency: 5, maxWaitMs: 120_000 };
    (await pacer.acquire('far', limits)).release();
    pacer.observe('far', 200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_S + 61) }, NO_RULES);
    expect(pacer.acquire('far', limits)).not.toBeInstanceOf(Promise);
    (await pacer.acquire('near', limits)).release();
    pacer.observe('near', 429, { 'retry-after': '60' }, NO_RULES);
    expect(pacer.inspect('near')[0]?.resetAtMs).toBe(NOW + 60_000);
  });

  it('forgets a held quota when an operator resets the connection, for every host under its prefix', async () => {
    const clock = NOW;
    const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10, now: () => clock });
    const limits = { concurrency: 5, maxWaitMs: 5000 };
    for (const key of ['gh\0c1\0api.github.com', 'gh\0c1\0uploads.github.com', 'gh\0c2\0api.github.com']) {
      (await pacer.acquire(key, limits)).release();
      pacer.observe(key, 429, { 'retry-after': '1800' }, NO_RULES);
    }
    expect(pacer.reset('gh\0c1\0')).toBe(2);
    expect(pacer.acquire('gh\0c1\0api.github.com', limits)).not.toBeInstanceOf(Promise);
    expect(pacer.acquire('gh\0c1\0uploads.github.com', limits)).not.toBeInstanceOf(Promise);
    await expect(pacer.acquire('gh\0c2\0api.github.com', limits)).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('answers rate_limited to a call that waited maxWaitMs for a slot held by calls that never end, and frees its place', async () => {
    vi.useFakeTimers();
    try {
      const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10 });
      const limits = { concurrency: 1, maxWaitMs: 5000 };
      const holder = pacer.acquire('conn', limits) as Slot;
      const waiting = watch(pacer.acquire('conn', limits));
      await vi.advanceTimersByTimeAsync(4990);
      expect(waiting.state).toBe('pending');
      await vi.advanceTimersByTimeAsync(20);
      expect(waiting.state).toBe('rejected');
      expect(waiting.error).toMatchObject({ code: 'rate_limited', fields: { retry_after_ms: 1000 } });
      expect(pacer.inspect('conn')[0]).toMatchObject({ inFlight: 1, waiting: 0 });
      holder.release();
      expect(pacer.acquire('conn', limits)).not.toBeInstanceOf(Promise);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('createPacer: a reset reaches calls already held', () => {
  it('lets a call sleeping on a 30-second hold go within a second of the reset', async () => {
    vi.useFakeTimers();
    try {
      const pacer = createPacer({ maxEntries: 100, maxQueuePerConnection: 10 });
      const limits = { concurrency: 5, maxWaitMs: 60_000 };
      (pacer.acquire('conn', limits) as Slot).release();
      pacer.observe('conn', 429, { 'retry-after': '30' }, NO_RULES);
      const held = watch(pacer.acquire('conn', limits));
      await vi.advanceTimersByTimeAsync(2000);
      expect(held.state).toBe('pending');
      pacer.reset('conn');
      await vi.advanceTimersByTimeAsync(1000);
      expect(held.state).toBe('granted');
    } finally {
      vi.useRealTimers();
    }
  });
});
