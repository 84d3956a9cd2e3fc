// `patchbay start` runs its runner on a thread of its own: what functions make the host do costs
// the runner's event loop, not the HTTP server's (security review: one URLSearchParams bomb held
// /health 9 s, four ≥ 30 s). The thread stops with the system and is restarted when it dies.
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunnerThread, type RunnerThreadData } from '../../bin/runner-thread.js';
import type { FinishedRun } from '../../server/queue/index.js';
import { createNotifications, createPool, type ClaimedRun, type ListeningNotifications, type Pool } from '../../server/store/index.js';
import { createTestDatabase, type TestDatabase } from '../harness/database.js';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { addConnection, startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import type { FakeRunnerData } from '../harness/runner-thread-fake.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const RUNS = 4;

const FUNCTIONS = {
  'github/actions/bomb.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'The security finding, as reported',
      exec: async () => ({ size: new URLSearchParams('a=b&'.repeat(5_000_000)).size }),
    });`,
  // Says it started, then keeps the host busy with services below their bounds until its CPU
  // limit: host time it is now charged for.
  'github/actions/echo.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Calls the provider once and answers with the input',
      exec: async (nango, input: { n: number }) => {
        const res = await nango.get({ endpoint: '/echo' });
        return { n: input.n, status: res.status };
      },
    });`,
  'github/actions/hammer.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Synchronous host services in a tight loop',
      limits: { cpuMs: 2000 },
      exec: async (nango) => {
        await nango.get({ endpoint: '/started' });
        const query = 'a=b&'.repeat(9000);
        const text = 'x'.repeat(1_000_000);
        while (true) {
          new URLSearchParams(query);
          btoa(text);
          new URL('https://example.com/' + 'p/'.repeat(10_000));
        }
      },
    });`,
};

describe('patchbay start: the runner on its own thread', () => {
  let upstream: Upstream;
  let functions: FunctionsFolder;
  let patchbay: TestPatchbay;
  const trigger = async (action: string) => {
    const res = await patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1', 'x-async': 'true' },
      body: { action_name: action },
    });
    expect(res.status).toBe(202);
    return res.json.statusUrl as string;
  };
  const pending = async (statusUrl: string) => {
    const res = await patchbay.request('GET', statusUrl);
    return res.status === 404 && res.json.error.code === 'action_pending';
  };
  const finished = async (statusUrl: string) => {
    await expect.poll(() => pending(statusUrl), { timeout: 60_000, interval: 200 }).toBe(false);
    return patchbay.request('GET', statusUrl);
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    functions = await writeFunctions(FUNCTIONS);
    patchbay = await startPatchbay({
      label: 'runner-thread',
      runnerThread: true,
      functionsDir: functions.dir,
      // The harness's 1.5 s makes a runner "lost" after one late heartbeat: four functions
      // hammering host services on a busy 2-core machine delayed one past it (CI). Production
      // waits 30 s; this file is about the server staying responsive, not about reaping.
      runnerTuning: { staleMs: 15_000 },
      providers: { github: { proxy: { base_url: upstream.url } } },
    });
    await addConnection(patchbay, { provider: 'github', providerConfigKey: 'github', connectionId: 'gh-1', accessToken: 'token-one' });
  });

  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  it('runs the runner on a worker thread, not in the thread that serves HTTP', () => {
    expect(patchbay.system.worker).toBeUndefined();
    expect(patchbay.system.runnerThread?.threadId).toBeGreaterThan(0);
    expect(patchbay.system.runnerThread?.runnerId).toMatch(/:\d+:/);
  });

  it('answers actions waited for, more at once than the runner has slots (the rest queue)', async () => {
    // 4 slots (the harness's PATCHBAY_RUNNER_CONCURRENCY): the first runs are handed to the
    // thread directly, the others go through the queue; every caller gets its own answer.
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, n) =>
        patchbay.request('POST', '/action/trigger', {
          headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' },
          body: { action_name: 'echo', input: { n } },
        }),
      ),
    );
    expect(answers.map((res) => [res.status, res.json])).toEqual(Array.from({ length: 10 }, (_, n) => [200, { n, status: 200 }]));
  });

  it('ends four URLSearchParams bombs at once with a clear error, not a parse (security review)', async () => {
    const runs = await Promise.all(Array.from({ length: RUNS }, () => trigger('bomb')));
    expect((await patchbay.request('GET', '/health')).status).toBe(200);
    for (const run of runs) {
      const res = await finished(run);
      expect(res.status).toBe(500);
      expect(res.json.error.message).toBe('The query string is longer than 262144 characters.');
    }
  });

  it('answers /health and /proxy while four functions hammer host services, before any of them ends', { timeout: 120_000 }, async () => {
    upstream.clear();
    const runs = await Promise.all(Array.from({ length: RUNS }, () => trigger('hammer')));
    // All four are running (each called the upstream first), so their host work is under way.
    await expect.poll(() => upstream.requests.filter((request) => request.path === '/started').length, { timeout: 30_000 }).toBe(RUNS);

    // How busy the HTTP server's event loop is while they run. The host side of four isolates
    // calling services back to back keeps a loop > 90% busy (measured); this one barely notices.
    const before = performance.eventLoopUtilization();
    await sleep(500);
    const utilization = performance.eventLoopUtilization(before).utilization;

    const health = await patchbay.request('GET', '/health');
    const proxied = await patchbay.request('GET', '/proxy/ping', { headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' } });
    const stillRunning = await Promise.all(runs.map(pending));

    expect(health.status).toBe(200);
    expect(proxied.status).toBe(200);
    expect(proxied.json).toMatchObject({ method: 'GET', path: '/ping' });
    expect(stillRunning, 'no run had finished when /health and /proxy answered').toEqual([true, true, true, true]);
    expect(utilization).toBeLessThan(0.5);

    for (const run of runs) {
      const res = await finished(run);
      expect([res.status, res.json.error.code]).toEqual([500, 'execution_cpu_limit']);
    }
  });

  it('stops the thread with the system', async () => {
    const thread = patchbay.system.runnerThread;
    await patchbay.system.stop();
    expect(thread?.threadId).toBe(-1);
  });
});

/** The backends of this test process's LISTEN connections (both threads' would be named alike). */
const listeners = async (pool: Pool) => {
  const { rows } = await pool.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
    [`patchbay-listen ${process.pid}`],
  );
  return rows.map((row) => row.pid);
};

describe("patchbay start: the runner thread hears through the server thread's LISTEN connection", () => {
  let functions: FunctionsFolder;
  let patchbay: TestPatchbay;
  let pool: Pool;

  beforeAll(async () => {
    functions = await writeFunctions({
      'github/actions/answer.ts': `
        import { createAction } from 'patchbay';
        export default createAction({ description: 'Answers with its input', exec: async (nango, input: { n: number }) => input });`,
    });
    patchbay = await startPatchbay({
      label: 'runner-thread-relay',
      runnerThread: true,
      functionsDir: functions.dir,
      // The runner looks at the queue once an hour: only a notification wakes it for a run.
      runnerTuning: { pollMs: 3_600_000 },
    });
    await addConnection(patchbay, { provider: 'github', providerConfigKey: 'github', connectionId: 'gh-1', accessToken: 'token-one' });
    pool = createPool({ connectionString: patchbay.database.url, max: 1 });
  });

  afterAll(async () => {
    await pool?.end();
    await patchbay?.stop();
    await functions?.remove();
  });

  it('holds one LISTEN connection for both threads', async () => {
    expect(patchbay.system.runnerThread?.threadId).toBeGreaterThan(0);
    expect(await listeners(pool)).toHaveLength(1);
  });

  it("runs a queued action at once: the server thread's notification woke the runner thread", async () => {
    const res = await patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1', 'x-async': 'true' },
      body: { action_name: 'answer', input: { n: 7 } },
    });
    expect(res.status).toBe(202);
    const answer = async () => (await patchbay.request('GET', res.json.statusUrl as string)).json;
    await expect.poll(answer, { timeout: 30_000, interval: 200 }).toEqual({ n: 7 });
  });
});

describe('runner thread lifecycle', () => {
  const entry = new URL('../harness/runner-thread-fake.ts', import.meta.url);
  // The process's notifications, which relay to the threads; its heartbeat finds a frozen
  // backend out within a few seconds.
  const started: { database?: TestDatabase; pool?: Pool; notifications?: ListeningNotifications } = {};
  let pool: Pool;
  let notifications: ListeningNotifications;
  /** What the fake threads answered on `relay_pong` (runner-thread-fake.ts), in order. */
  const pongs: string[] = [];

  beforeAll(async () => {
    const database = await createTestDatabase('runner-thread-lifecycle');
    pool = createPool({ connectionString: database.url, max: 2 });
    notifications = createNotifications(pool, database.url, pino({ level: 'silent' }), { heartbeatMs: 100, heartbeatTimeoutMs: 2000 });
    notifications.listen('relay_pong', (payload) => pongs.push(payload));
    await notifications.start();
    Object.assign(started, { database, pool, notifications });
  });
  afterAll(async () => {
    await started.notifications?.stop();
    await started.pool?.end();
    await started.database?.release();
  });

  /** Pings the threads until `pong` comes back: the process LISTENs to the thread's channel once it asked. */
  const reached = async (pong: string) => {
    await expect.poll(() => {
      notifications.notify('relay_ping', 'hello');
      return pongs.includes(pong);
    }).toBe(true);
  };
  const relayed = (behaviour: FakeRunnerData['behaviour']) => {
    const made = fake(behaviour);
    return { ...made, data: { ...made.data, relay: { databaseUrl: started.database?.url } } as unknown as RunnerThreadData };
  };
  const capture = () => {
    const lines: { level: number; msg: string; err?: { message: string } }[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()));
          done();
        },
      }),
    );
    return { lines, logger };
  };
  /** Forgets the pongs heard so far and starts a thread of the fake that relays (`behaviour`). */
  const startRelaying = (behaviour: FakeRunnerData['behaviour'], options: { restartDelayMs?: number } = {}) => {
    pongs.length = 0;
    return startRunnerThread({ data: relayed(behaviour).data, logger: capture().logger, entry, notifications, ...options });
  };

  const fake = (behaviour: FakeRunnerData['behaviour'], options: Pick<FakeRunnerData, 'holdLaterStarts' | 'throwOnStop'> = {}) => {
    const starts = new Int32Array(new SharedArrayBuffer(12));
    return { starts, data: { behaviour, starts, ...options, config: { runnerConcurrency: 2 } } as unknown as RunnerThreadData };
  };
  const handed = (id: string, input: unknown) => ({ id, input }) as unknown as ClaimedRun;

  it('hands runs to the thread while it takes more, and forwards their results', async () => {
    const { logger } = capture();
    const results: FinishedRun[] = [];
    const thread = await startRunnerThread({ data: fake('echo').data, logger, entry, notifications, onRunFinished: (run) => results.push(run) });
    try {
      // 2 slots (runnerConcurrency) and as many runs waiting for one: a fifth caller queues.
      const places = [thread.take(), thread.take(), thread.take(), thread.take()];
      expect(places.map((place) => place?.runnerId)).toEqual(['fake-0', 'fake-0', 'fake-0', 'fake-0']);
      expect(thread.take()).toBeUndefined();
      places[1]?.release();
      const again = thread.take();
      expect(again).toBeDefined();
      places[0]?.start(handed('run-1', { n: 1 }), Date.now() + 30_000);
      again?.start(handed('run-3', { n: 3 }), Date.now() + 30_000);
      await expect.poll(() => results.map((run) => [run.id, run.outputJson])).toEqual([
        ['run-1', '{"n":1}'],
        ['run-3', '{"n":3}'],
      ]);
      // The thread counted both done: two places free again, no more.
      expect(thread.take()).toBeDefined();
      expect(thread.take()).toBeDefined();
      expect(thread.take()).toBeUndefined();
    } finally {
      await thread.stop();
    }
    expect(thread.take()).toBeUndefined();
  });

  it('says in one error line that the thread died and why, and starts it again', async () => {
    const { lines, logger } = capture();
    const { starts, data } = fake('crash-once');
    const thread = await startRunnerThread({ data, logger, entry, notifications, restartDelayMs: 20 });
    try {
      expect(thread.runnerId).toBe('fake-0');
      await expect.poll(() => thread.restarts, { timeout: 10_000 }).toBe(1);
      expect(thread.runnerId).toBe('fake-1');
      expect(Atomics.load(starts, 0)).toBe(2);
      // The new thread's slots: a run handed over now goes to it.
      expect(thread.take()?.runnerId).toBe('fake-1');
      const errors = lines.filter((line) => line.level >= 50);
      expect(errors).toHaveLength(1);
      expect(errors[0]?.msg).toBe('runner thread died (exit code 1, the runner blew up); restarting it in 20 ms');
      expect(lines.map((line) => line.msg)).toContain('runner thread restarted');
    } finally {
      await thread.stop();
    }
    expect(thread.threadId).toBe(-1);
  });

  /** The first thread dies; the runner is stopped while the second is held before it says `started`, then let go. */
  const stopWhileRestarting = async (options: Pick<FakeRunnerData, 'throwOnStop'> = {}) => {
    const { lines, logger } = capture();
    const { starts, data } = fake('crash-once', { holdLaterStarts: true, ...options });
    const thread = await startRunnerThread({ data, logger, entry, notifications, restartDelayMs: 20 });
    await expect.poll(() => Atomics.load(starts, 0), { timeout: 10_000 }).toBe(2);
    const stopped = thread.stop();
    Atomics.store(starts, 2, 1);
    Atomics.notify(starts, 2);
    await stopped;
    return { starts, thread, lines };
  };

  it('asks a thread that finishes starting while the runner stops to stop, as it asks any thread (it may be making an isolate)', async () => {
    const { starts, thread } = await stopWhileRestarting();
    // Ended by its own stop, not terminated where it stood.
    expect(Atomics.load(starts, 1)).toBe(1);
    expect(thread.restarts).toBe(0);
  });

  it('logs what such a thread throws while it stops, and the process goes on', async () => {
    const { starts, lines } = await stopWhileRestarting({ throwOnStop: true });
    expect(Atomics.load(starts, 1)).toBe(1);
    expect(lines.filter((line) => line.msg === 'runner thread failed while stopping').map((line) => line.err?.message)).toEqual([
      'the runner blew up while stopping',
    ]);
  });

  it('relays to the thread what the process and other connections send, and its own back to no one', async () => {
    const thread = await startRelaying('echo');
    try {
      // The process itself LISTENs to `relay_ping` only for the thread, since it asked for it.
      await reached('0:heard:hello');
      await pool.query("SELECT pg_notify('relay_ping', 'another-process|from-elsewhere')");
      await expect.poll(() => pongs).toContain('0:heard:from-elsewhere');

      // The thread sends `own` on the channel it listens to: it hears it at once, then its
      // NOTIFY comes through the process's connection (before `sent:own`) and is skipped.
      notifications.notify('relay_ping', 'send-own');
      await expect.poll(() => pongs).toContain('0:sent:own');
      // Heard after whatever `own` made the thread answer, had it been heard twice.
      notifications.notify('relay_ping', 'after');
      await expect.poll(() => pongs).toContain('0:heard:after');
      const answers = pongs.filter((pong) => pong !== '0:heard:hello' && pong !== '0:reconnected');
      expect(answers).toEqual(['0:heard:from-elsewhere', '0:heard:send-own', '0:heard:own', '0:sent:own', '0:heard:after']);
    } finally {
      await thread.stop();
    }
  });

  it("runs the thread's onReconnect handlers when the process's LISTEN connection came back", async () => {
    const thread = await startRelaying('echo');
    try {
      await reached('0:heard:hello');
      const [frozen] = await listeners(pool);
      expect(frozen).toBeTypeOf('number');
      process.kill(frozen as number, 'SIGSTOP');
      try {
        // The heartbeat's timeout, then the reconnect delay.
        await expect.poll(() => pongs, { timeout: 15_000 }).toContain('0:reconnected');
      } finally {
        process.kill(frozen as number, 'SIGCONT');
      }
      // The new connection LISTENs to the thread's channel too.
      notifications.notify('relay_ping', 'after');
      await expect.poll(() => pongs).toContain('0:heard:after');
    } finally {
      await thread.stop();
    }
  });

  it('relays to a thread started again after one died, which asks for its channels again', async () => {
    const thread = await startRelaying('crash-once', { restartDelayMs: 20 });
    try {
      await expect.poll(() => thread.restarts, { timeout: 10_000 }).toBe(1);
      await reached('1:heard:hello');
      notifications.notify('relay_ping', 'after');
      await expect.poll(() => pongs).toContain('1:heard:after');
      expect(pongs.filter((pong) => pong.startsWith('0:'))).toEqual([]);
    } finally {
      await thread.stop();
    }
  });

  it('fails the start with the reason the thread gave', async () => {
    const { logger } = capture();
    await expect(startRunnerThread({ data: fake('fail').data, logger, entry, notifications })).rejects.toThrow(
      'the runner thread did not start: cannot connect to the database at 127.0.0.1:1/none (ECONNREFUSED)',
    );
  });
});
