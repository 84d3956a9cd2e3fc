// The embedded PostgreSQL (`npm start` without DATABASE_URL) killed under a running Patchbay:
// it is started again and Patchbay carries on, or, when it cannot be, the process says so and
// exits. Each test owns its embedded PostgreSQL (own data directory, own port).
import { appendFile, chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startEmbeddedPostgres } from '../../bin/embedded-postgres.js';
import { startSystem, type System } from '../../bin/system.js';
import { loadConfig } from '../../server/config.js';
import { spawnPatchbay, waitForExit, waitForStart } from '../harness/process.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

/** A directory the embedded PostgreSQL (user 'postgres' when we are root) can reach. */
async function dataDirectory(): Promise<string> {
  const parent = await mkdtemp(path.join(os.tmpdir(), 'patchbay-outage-'));
  await chmod(parent, 0o755);
  return parent;
}

const postmasterPid = async (pgdata: string) => Number((await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8')).split('\n')[0]);

/**
 * Kills the postmaster with SIGKILL after making its restart fail (a setting PostgreSQL refuses,
 * read only at start): the outage lasts until `heal()`, however fast a restart would be.
 */
async function killPostgres(pgdata: string): Promise<{ heal(): Promise<void> }> {
  const conf = path.join(pgdata, 'postgresql.conf');
  const original = await readFile(conf);
  await appendFile(conf, '\nthis_is_not_a_setting = on\n');
  process.kill(await postmasterPid(pgdata), 'SIGKILL');
  return { heal: () => writeFile(conf, original) };
}

interface LogLine {
  level: number;
  msg: string;
}

describe('the embedded PostgreSQL killed under a running Patchbay', () => {
  let root: string;
  let upstream: Upstream;
  let system: System;
  const lines: LogLine[] = [];
  const call = async (method: string, route: string, options: { headers?: Record<string, string>; body?: unknown; auth?: false } = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth !== false) headers.authorization = `Bearer ${system.secretKey}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await request(`${system.url}${route}`, { method: method as 'GET', headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await response.body.text();
    return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
  };
  const proxy = (endpoint: string, connectionId: string) => call('GET', `/proxy${endpoint}`, { headers: { 'provider-config-key': 'github', 'connection-id': connectionId } });

  beforeAll(async () => {
    root = await dataDirectory();
    upstream = await startUpstream();
    const providersFile = path.join(root, 'providers.yaml');
    await writeFile(providersFile, YAML.stringify({ github: { proxy: { base_url: upstream.url } } }));
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as LogLine);
          done();
        },
      }),
    );
    // No DATABASE_URL: the system starts (and owns) its embedded PostgreSQL under the data dir.
    const config = loadConfig({
      PATCHBAY_DATA_DIR: path.join(root, 'data'),
      PATCHBAY_PROVIDERS_FILE: providersFile,
      PATCHBAY_ALLOW_PRIVATE_EGRESS: 'true',
      PORT: '0',
      HOST: '127.0.0.1',
      // For parts that build their own logger (the runner thread); this thread's is `logger`.
      LOG_LEVEL: 'silent',
    });
    system = await startSystem(config, {
      roles: ['server', 'runner'],
      logger,
      // Durable, as `npm start` runs it: with synchronous_commit off, a kill -9 within the WAL
      // writer's 200 ms loses the last commits (the integration created just above, once seen).
      fastEmbeddedDatabase: false,
      // Never give up here: the outage lasts as long as the test needs it to.
      embeddedRestart: { maxAttempts: 10_000, baseDelayMs: 50, maxDelayMs: 300 },
      onFatal: (error) => lines.push({ level: 60, msg: `fatal: ${error.message}` }),
    });
    expect((await call('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
    for (const connectionId of ['before', 'during']) {
      const created = await call('POST', '/connections', {
        body: { provider_config_key: 'github', connection_id: connectionId, credentials: { type: 'OAUTH2', access_token: `token-${connectionId}` } },
      });
      expect(created.status).toBe(201);
    }
  });
  afterAll(async () => {
    await system?.stop();
    await upstream?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('answers 503 on /ready and API routes while it is down, restarts it, and logs every proxy call made meanwhile', async () => {
    const pgdata = path.join(root, 'data', 'postgres');
    // Both connections' credentials are cached by a first call, as on a server in use.
    expect((await proxy('/warm', 'before')).status).toBe(200);
    expect((await proxy('/warm', 'during')).status).toBe(200);
    expect((await call('GET', '/ready', { auth: false })).status).toBe(200);
    const killedPid = await postmasterPid(pgdata);
    const outage = await killPostgres(pgdata);
    const linesBefore = lines.length;

    await expect.poll(async () => (await call('GET', '/ready', { auth: false })).status, { timeout: 30_000, interval: 100 }).toBe(503);
    expect((await call('GET', '/ready', { auth: false })).json).toEqual({
      error: { code: 'database_unavailable', message: 'The database is unreachable. Try again shortly.' },
    });
    expect(await call('GET', '/health', { auth: false })).toEqual({ status: 200, json: { result: 'ok' } });
    const listed = await call('GET', '/integrations');
    expect(listed.status).toBe(503);
    expect(listed.json.error.code).toBe('database_unavailable');

    // Proxy calls go on with the cached credentials; their logs wait in memory.
    const CALLS = 60;
    for (let i = 0; i < CALLS; i++) expect((await proxy(`/during/${i}`, 'during')).status).toBe(200);
    // Still down: the calls above were all made during the outage.
    expect((await call('GET', '/ready', { auth: false })).status).toBe(503);
    // Some time with the database away, so every loop has failed a few times over.
    await expect.poll(() => lines.slice(linesBefore).some((line) => line.msg.startsWith('writing log batches failed')), { timeout: 30_000 }).toBe(true);

    await outage.heal();
    await expect.poll(async () => (await call('GET', '/ready', { auth: false })).status, { timeout: 60_000, interval: 100 }).toBe(200);
    expect(await postmasterPid(pgdata)).not.toBe(killedPid);
    const after = await call('GET', '/integrations');
    expect(after.status).toBe(200);
    expect(after.json.data.map((i: { unique_key: string }) => i.unique_key)).toEqual(['github']);

    await expect
      .poll(async () => {
        const logs = await call('GET', '/logs?provider_config_key=github&connection_id=during&limit=500');
        return (logs.json?.data ?? []).filter((op: { url: string }) => op.url.includes('/during/')).length;
      }, { timeout: 30_000, interval: 200 })
      .toBe(CALLS);
    expect(system.logs.dropped).toBe(0);

    // One warning per loop per outage, not one per tick (the log writer used to warn 5 times a
    // second). Failed restart attempts are each reported: there are a handful before a give-up.
    const warnings = lines.slice(linesBefore).filter((line) => line.level >= 40 && line.msg !== 'restarting the embedded PostgreSQL failed');
    const counts = new Map<string, number>();
    for (const { msg } of warnings) counts.set(msg, (counts.get(msg) ?? 0) + 1);
    expect([...counts].filter(([, count]) => count > 1)).toEqual([]);
    expect(counts.has('the embedded PostgreSQL stopped (signal SIGKILL); restarting it')).toBe(true);
    expect(lines.slice(linesBefore).map((line) => line.msg)).toContain('the embedded PostgreSQL is back');
    expect(lines.filter((line) => line.level >= 60)).toEqual([]);
  }, 180_000);
});

describe('patchbay start when its embedded PostgreSQL cannot be restarted', () => {
  let root: string;
  beforeAll(async () => {
    root = await dataDirectory();
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('exits with code 1 and one line naming the cause', async () => {
    const dataDir = path.join(root, 'data');
    const started = await waitForStart(
      spawnPatchbay('server', { PATCHBAY_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }),
    );
    const exited = waitForExit(started.child);
    // The restarts fail for good: the outage is never healed.
    await killPostgres(path.join(dataDir, 'postgres'));
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    const output = stderr.trim().split('\n');
    expect(output).toHaveLength(1);
    expect(output[0]).toMatch(
      /^patchbay: the embedded PostgreSQL stopped \(signal SIGKILL\) and did not start again \(5 attempts\): PostgreSQL exited \(code 1\) before it was ready: FATAL: configuration file ".+postgresql\.conf" contains errors$/,
    );
  }, 120_000);
});

describe('embedded PostgreSQL restart after a kill -9', () => {
  let root: string;
  beforeAll(async () => {
    root = await dataDirectory();
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.runIf(process.platform === 'linux')('stops a backend the killed postmaster left busy in a long statement, which held its shared memory', async () => {
    const pgdata = path.join(root, 'pg');
    const messages: string[] = [];
    const logger = { info: (_fields: object, message: string) => void messages.push(message), warn: (_fields: object, message: string) => void messages.push(message) };
    const database = await startEmbeddedPostgres({ dir: pgdata, password: 'outage', fast: true, logger });
    const busy = new pg.Client({ connectionString: database.url });
    busy.on('error', () => undefined);
    try {
      await busy.connect();
      const [{ pid: backend }] = (await busy.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      // CPU-bound, it never waits on a latch, so it never notices the postmaster is gone; until
      // it ends, a new postmaster refuses to start ("pre-existing shared memory block is still
      // in use"), and every restart attempt failed.
      const statement = busy.query('SELECT count(*) FROM generate_series(1, 100000000000)').catch((error: Error) => error);
      await expect.poll(async () => (await readFile(`/proc/${backend}/stat`, 'utf8')).split(' ')[2], { timeout: 10_000 }).toBe('R');
      process.kill(await postmasterPid(pgdata), 'SIGKILL');

      await expect.poll(() => messages.includes('the embedded PostgreSQL is back'), { timeout: 60_000, interval: 100 }).toBe(true);
      expect(messages).not.toContain('restarting the embedded PostgreSQL failed');
      expect(await statement).toBeInstanceOf(Error);
      const fresh = new pg.Client({ connectionString: database.url });
      await fresh.connect();
      expect((await fresh.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await fresh.end();
    } finally {
      await busy.end().catch(() => undefined);
      await database.stop();
    }
  }, 120_000);
});
