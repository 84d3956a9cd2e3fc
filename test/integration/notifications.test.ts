// The LISTEN connection against a real PostgreSQL: a listener whose backend stops answering
// (what a peer gone without a FIN looks like) is found out by the heartbeat and replaced, and
// the process hears about it (onReconnect) to make up for what it missed.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotifications, type Notifications } from '../../server/store/notifications.js';
import { createPool, type Pool } from '../../server/store/index.js';
import { createTestDatabase, type TestDatabase } from '../harness/database.js';

describe('notifications', () => {
  const started: { database?: TestDatabase; pool?: Pool; notifications?: Notifications } = {};
  let pool: Pool;
  let notifications: Notifications;

  beforeAll(async () => {
    const database = await createTestDatabase('notifications');
    pool = createPool({ connectionString: database.url, max: 2 });
    notifications = createNotifications(pool, database.url, pino({ level: 'silent' }), { heartbeatMs: 100, heartbeatTimeoutMs: 300 });
    Object.assign(started, { database, pool, notifications });
  });
  afterAll(async () => {
    await started.notifications?.stop();
    await started.pool?.end();
    await started.database?.release();
  });

  const listenerPid = async () => {
    const { rows } = await pool.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
      [`patchbay-listen ${process.pid}`],
    );
    return rows.map((row) => row.pid);
  };

  it('replaces a listener whose backend stops answering, and says so', async () => {
    const heard: string[] = [];
    let reconnects = 0;
    notifications.listen('test_channel', (payload) => heard.push(payload));
    notifications.onReconnect(() => reconnects++);
    await notifications.start();

    const send = (payload: string) => pool.query("SELECT pg_notify('test_channel', $1)", [`elsewhere|${payload}`]);
    await send('before');
    await expect.poll(() => heard.includes('before'), { timeout: 2000 }).toBe(true);

    const [frozen] = await listenerPid();
    expect(frozen).toBeTypeOf('number');
    process.kill(frozen as number, 'SIGSTOP');
    try {
      // Heartbeat timeout (300 ms), then the reconnect delay (1 s).
      await expect.poll(() => reconnects, { timeout: 5000 }).toBe(1);
      const pids = await listenerPid();
      expect(pids.filter((pid) => pid !== frozen)).toHaveLength(1);
      await send('after');
      await expect.poll(() => heard.includes('after'), { timeout: 2000 }).toBe(true);
    } finally {
      process.kill(frozen as number, 'SIGCONT');
    }
    // The frozen backend, thawed, sees the Terminate it was sent and goes.
    await expect.poll(async () => (await listenerPid()).includes(frozen as number), { timeout: 3000 }).toBe(false);
  });
});
