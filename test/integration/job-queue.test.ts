// Sleeping between notifications. The queue's side of a runner: when the tickets not yet handed
// out are due (read on the runner's slow poll and at its start), and the wake-up a process sends
// when a ticket it sent for later becomes due. The scheduler: asleep while no schedule is due,
// woken by a change made in another process. The reaper: asleep while no run could turn stale.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTION_QUEUE, SYNC_QUEUE, createJobQueue, createWake, startReaper, startScheduler, type JobQueue, type Wake } from '../../server/queue/index.js';
import { createCipher } from '../../server/credentials/cipher.js';
import { createNotifications, createPool, createStore, type ListeningNotifications, type Pool, type Store } from '../../server/store/index.js';
import { createTestDatabase, type TestDatabase } from '../harness/database.js';

const logger = pino({ level: 'silent' });

describe('job queue: due times and delayed wake-ups', () => {
  let database: TestDatabase;
  let pool: Pool;
  let queue: JobQueue;
  let store: Store;
  // Two processes' notifications and wake-ups on one database.
  const notifications: ListeningNotifications[] = [];
  const wakes: Wake[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('job-queue');
    pool = createPool({ connectionString: database.url, max: 4 });
    queue = createJobQueue(pool, logger);
    await queue.start();
    store = createStore(pool, createCipher(randomBytes(32)));
    for (let i = 0; i < 2; i++) {
      const listening = createNotifications(pool, database.url, logger);
      await listening.start();
      notifications.push(listening);
      wakes.push(createWake(listening, store.runs));
    }
  });
  afterAll(async () => {
    for (const wake of wakes) wake.stop();
    for (const listening of notifications) await listening.stop();
    await queue?.stop();
    await pool?.end();
    await database?.release();
  });

  it('says when the first ticket sent for later is due, per queue', async () => {
    expect(await queue.nextDueInMs([ACTION_QUEUE, SYNC_QUEUE])).toEqual(new Map());
    await queue.enqueue(ACTION_QUEUE, 'run-later', { startAfterSeconds: 30 });
    await queue.enqueue(ACTION_QUEUE, 'run-much-later', { startAfterSeconds: 300 });
    await queue.enqueue(SYNC_QUEUE, 'run-now');
    const due = await queue.nextDueInMs([ACTION_QUEUE, SYNC_QUEUE]);
    // Counted by the database from the send: under 30 s by however long that took. A ticket due
    // now is for the next pass, not a wake-up.
    expect(due.get(ACTION_QUEUE)).toBeGreaterThan(0);
    expect(due.get(ACTION_QUEUE)).toBeLessThanOrEqual(30_000);
    expect(due.has(SYNC_QUEUE)).toBe(false);
    const actionsOnly = await queue.nextDueInMs([ACTION_QUEUE]);
    expect([...actionsOnly.keys()]).toEqual([ACTION_QUEUE]);
    expect(actionsOnly.get(ACTION_QUEUE)).toBeLessThanOrEqual(due.get(ACTION_QUEUE) as number);

    // A delayed ticket behind one due now is still seen.
    await queue.enqueue(SYNC_QUEUE, 'run-later', { startAfterSeconds: 30 });
    expect((await queue.nextDueInMs([SYNC_QUEUE])).get(SYNC_QUEUE)).toBeGreaterThan(0);
    expect((await queue.fetch(SYNC_QUEUE, 10)).map((ticket) => ticket.runId)).toEqual(['run-now']);
  });

  it('wakes the runners of every process when a ticket sent for later is due', async () => {
    const [sender, other] = wakes as [Wake, Wake];
    const heardHere = new Promise<void>((resolve) => sender.onJobQueued(SYNC_QUEUE, resolve));
    const heardThere = new Promise<void>((resolve) => other.onJobQueued(SYNC_QUEUE, resolve));
    sender.jobDueIn(SYNC_QUEUE, 50);
    await Promise.all([heardHere, heardThere]);
  });

  it('keeps the scheduler asleep while no schedule is due, until another process says schedules changed', async () => {
    expect(await store.schedules.nextDueInMs()).toBeNull();
    let looks = 0;
    const takeDue = store.schedules.takeDue.bind(store.schedules);
    const [here, other] = wakes as [Wake, Wake];
    const scheduler = startScheduler({
      store: { ...store, schedules: { ...store.schedules, takeDue: (limit) => (looks++, takeDue(limit)) } },
      queue,
      wake: here,
      logger,
    });
    try {
      await expect.poll(() => looks).toBe(1);
      // A scheduler that did not sleep would look hundreds of times meanwhile (one that read
      // "no schedule" as "one due now" did).
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(looks).toBe(1);
      other.schedulesChanged();
      await expect.poll(() => looks).toBe(2);
    } finally {
      await scheduler.stop();
    }
  });

  it('keeps the reaper asleep until a running run could turn stale', async () => {
    expect(await store.runs.nextStaleInMs(60_000)).toBeNull();
    let looks = 0;
    const reapStale = store.runs.reapStale.bind(store.runs);
    const stop = startReaper({
      store: { ...store, runs: { ...store.runs, reapStale: (staleMs, error) => (looks++, reapStale(staleMs, error)) } },
      queue,
      wake: wakes[0] as Wake,
      logger,
      staleMs: 60_000,
      intervalMs: 10,
    });
    try {
      await expect.poll(() => looks).toBe(1);
      // No run is running: none can turn stale within a minute, so no look before then (one
      // every 10 ms when it looked at its interval).
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(looks).toBe(1);
    } finally {
      stop();
    }
  });
});
