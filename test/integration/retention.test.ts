// The retention sweep (server/logs/retention.ts) against a real PostgreSQL: log operations and
// finished runs older than PATCHBAY_LOG_RETENTION_DAYS go, recent ones and unfinished runs stay.
// The cutoffs are counted from an injected clock, years away from the machine's, so nothing here
// depends on when the test runs or how fast.
import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCipher } from '../../server/credentials/cipher.js';
import { startLogRetention, sweepRetention } from '../../server/logs/retention.js';
import { createLogWriter, type LogWriter } from '../../server/logs/writer.js';
import type { LogOperation } from '../../server/store/logs.js';
import { createPool, createStore, type Pool, type Store } from '../../server/store/index.js';
import { createTestDatabase, type TestDatabase } from '../harness/database.js';
import { syntheticCall } from '../harness/log-operations.js';

const DAY_MS = 86_400_000;
const NOW = Date.parse('2031-03-15T12:00:00.000Z');
const clock = () => NOW;
const retention = { logDays: 30, recordPruneDays: 90 };
const daysAgo = (days: number) => new Date(NOW - days * DAY_MS);

function operation(startedAt: Date): LogOperation {
  return syntheticCall({ integrationKey: 'github', connectionId: 'user-1', n: 1, failed: false, startedAt, durationMs: 5 });
}

describe('retention sweep', () => {
  let database: TestDatabase;
  let pool: Pool;
  let store: Store;
  let writer: LogWriter;

  /** Stores the operations as one chunk, as the log writer does with what it holds at a flush. */
  const logged = async (...startedAt: Date[]) => {
    const ops = startedAt.map(operation);
    for (const op of ops) writer.write(op);
    await writer.flush();
    return ops.map((op) => op.id);
  };
  const isLogged = async (id: string) => (await store.logs.get(id)) !== undefined;

  /** A run in `state`, finished at `finishedAt` (the column the sweep reads) when given. */
  const run = async (state: 'queued' | 'running' | 'succeeded', finishedAt?: Date) => {
    const id = randomUUID();
    const created = await store.runs.create({
      id,
      kind: 'action',
      integrationKey: 'github',
      connectionId: 'user-1',
      provider: 'github',
      functionName: 'create-issue',
      bundleHash: 'a'.repeat(64),
      isAsync: true,
      maxRetries: 0,
      logId: uuidv7(),
      inputJson: null,
    });
    expect(created).toBe(true);
    if (state !== 'queued') expect(await store.runs.claim([id], 'runner-1')).toHaveLength(1);
    if (state === 'succeeded') expect(await store.runs.finish(id, 'runner-1', { outputJson: '{}' })).toBe(true);
    // Runs are stamped by the database's clock; the test's clock is years away from it.
    await pool.query('UPDATE function_runs SET created_at = $2, finished_at = $3 WHERE id = $1', [id, daysAgo(400), finishedAt ?? null]);
    return id;
  };
  const runExists = async (id: string) => (await store.runs.get(id)) !== undefined;

  beforeAll(async () => {
    database = await createTestDatabase('retention');
    pool = createPool({ connectionString: database.url, max: 4 });
    store = createStore(pool, createCipher(randomBytes(32)));
    writer = createLogWriter({ store: store.logs, logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await writer?.stop();
    await pool?.end();
    await database?.release();
  });

  it('deletes log operations and finished runs older than the retention period, and keeps the rest', async () => {
    const [oldOp] = await logged(daysAgo(31));
    const [recentOp] = await logged(daysAgo(29));
    // A chunk goes whole, once its newest operation is past the cutoff: an old one beside a recent one stays.
    const [oldBesideRecent, recentBesideOld] = await logged(daysAgo(45), daysAgo(1));
    const oldRun = await run('succeeded', daysAgo(31));
    const recentRun = await run('succeeded', daysAgo(29));
    // Created 400 days before the clock, never finished: not the sweep's to delete.
    const queued = await run('queued');
    const running = await run('running');

    await sweepRetention(store, retention, clock);

    expect(await isLogged(oldOp as string)).toBe(false);
    expect(await isLogged(recentOp as string)).toBe(true);
    expect(await isLogged(oldBesideRecent as string)).toBe(true);
    expect(await isLogged(recentBesideOld as string)).toBe(true);
    expect(await runExists(oldRun)).toBe(false);
    expect(await runExists(recentRun)).toBe(true);
    expect(await runExists(queued)).toBe(true);
    expect(await runExists(running)).toBe(true);

    // A day later by the same clock: what was 29 days old is now 30 and a bit, and goes too.
    await sweepRetention(store, retention, () => NOW + 1.5 * DAY_MS);
    expect(await isLogged(recentOp as string)).toBe(false);
    expect(await runExists(recentRun)).toBe(false);
    expect(await isLogged(recentBesideOld as string)).toBe(true);
    expect(await runExists(queued)).toBe(true);
  });

  it('sweeps as soon as it is started, with the clock it is given', async () => {
    const [oldOp] = await logged(daysAgo(60));
    const [recentOp] = await logged(daysAgo(2));
    const oldRun = await run('succeeded', daysAgo(60));
    const recentRun = await run('succeeded', daysAgo(2));
    // The real store, told when the sweep's last step (Connect sessions) is done.
    let purgedBefore: ((before: Date) => void) | undefined;
    const swept = new Promise<Date>((resolve) => (purgedBefore = resolve));
    const observed = {
      ...store,
      connect: {
        ...store.connect,
        purgeExpired: async (before: Date) => {
          const purged = await store.connect.purgeExpired(before);
          purgedBefore?.(before);
          return purged;
        },
      },
    };

    const stop = startLogRetention(observed, retention, pino({ level: 'silent' }), { now: clock });
    try {
      expect(await swept).toEqual(daysAgo(1));
    } finally {
      stop();
    }
    expect(await isLogged(oldOp as string)).toBe(false);
    expect(await isLogged(recentOp as string)).toBe(true);
    expect(await runExists(oldRun)).toBe(false);
    expect(await runExists(recentRun)).toBe(true);
  });
});
