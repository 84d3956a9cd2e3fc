// A pooled client whose backend goes away while the code holds it (a transaction between two
// statements, the migrations reading their next file): node-postgres emits 'error' on that client,
// and a checked-out client has no listener of pg-pool's. Unheard, the event crashed the process
// (seen: `npm start` killed by an unhandled pg error when PostgreSQL died during a cold start).
// Now the holder's next statement fails as an outage, and pg-pool closes the connection when it
// comes back (released after a statement failed on it, it is no longer queryable).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, isConnectionError, withTransaction } from '../../server/store/index.js';
import { createTestDatabase, type TestDatabase } from '../harness/database.js';

/** Ends the backend serving `client` from another connection and waits until the client has seen it go. */
async function killBackendOf(url: string, client: pg.ClientBase): Promise<void> {
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
  const gone = new Promise((resolve) => client.once('end', resolve));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const killed = await admin.query('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(killed.rows).toEqual([{ ok: true }]);
  } finally {
    await admin.end();
  }
  await gone;
}

describe('a pooled client losing its backend while held', () => {
  let database: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase('db-pool');
    pool = createPool({ connectionString: database.url, max: 2 });
  });
  afterAll(async () => {
    await pool.end();
    await database.release();
  });

  it('fails the transaction as an outage, not the process, and the pool serves the next query', async () => {
    let failure: unknown;
    try {
      await withTransaction(pool, async (client) => {
        await killBackendOf(database.url, client);
        await client.query('SELECT 1');
      });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(Error);
    expect(isConnectionError(failure)).toBe(true);
    // The broken client left the pool; a new one answers.
    expect((await pool.query<{ n: number }>('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
  });

  it('fails a transaction whose statement was running when its backend ended, and closes that connection', async () => {
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    let failure: unknown;
    let killedPid: number | undefined;
    try {
      await withTransaction(pool, async (client) => {
        killedPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
        const sleeping = client.query('SELECT pg_sleep(60)');
        // Observed at once: the ended backend's error can arrive while the loop below still waits
        // on `admin`, before `await sleeping` is reached, and would then count as unhandled.
        sleeping.catch(() => undefined);
        // Ended once it is seen running, so the failure is the statement's and not its start's.
        for (;;) {
          const active = await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [killedPid]);
          if (active.rowCount === 1) break;
        }
        await admin.query('SELECT pg_terminate_backend($1)', [killedPid]);
        await sleeping;
      });
    } catch (error) {
      failure = error;
    } finally {
      await admin.end();
    }
    expect(isConnectionError(failure)).toBe(true);
    // The next query gets a live connection, not the one whose backend was ended.
    const next = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(next.rows[0]?.pid).not.toBe(killedPid);
  });
});
