// `patchbay start` as a user runs it: a real process, its own embedded PostgreSQL, a data dir.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnPatchbay, waitForExit, waitForStart, type PatchbayProcess } from '../harness/process.js';

const run = (env: Record<string, string>) => spawnPatchbay('start', env);
const stop = (started: PatchbayProcess) => started.stop();

describe('patchbay start', () => {
  let dataDir: string;
  beforeAll(async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'patchbay-start-'));
    await chmod(parent, 0o755); // the embedded PostgreSQL runs as user 'postgres' when we are root
    dataDir = path.join(parent, '.data');
  });
  afterAll(async () => {
    await rm(path.dirname(dataDir), { recursive: true, force: true });
  });

  it('starts on an empty data directory, then again on the same one with the same key and data', async () => {
    const env = { PATCHBAY_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' };
    const first = await waitForStart(run(env));
    expect(first.stdout).toContain('(generated, kept in the data directory)');
    expect(first.secretKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const created = await request(`${first.url}/integrations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.secretKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'github', unique_key: 'kept' }),
    });
    expect(created.statusCode).toBe(200);
    await created.body.dump();
    expect(await stop(first)).toBe(0);

    const second = await waitForStart(run(env));
    expect(second.secretKey).toBe(first.secretKey);
    expect(second.stdout).not.toContain('(generated');
    const listed = await request(`${second.url}/integrations`, { headers: { authorization: `Bearer ${second.secretKey}` } });
    expect(((await listed.body.json()) as { data: { unique_key: string }[] }).data.map((i) => i.unique_key)).toEqual(['kept']);
    expect(await stop(second)).toBe(0);
  }, 120_000);

  it('holds one LISTEN connection to its PostgreSQL, for the server and the runner thread', async () => {
    const started = await waitForStart(run({ PATCHBAY_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' }));
    try {
      // The embedded PostgreSQL as a user's psql reaches it: the port is line 4 of postmaster.pid.
      const port = (await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[3];
      const { databasePassword } = JSON.parse(await readFile(path.join(dataDir, 'secrets.json'), 'utf8')) as { databasePassword: string };
      const client = new pg.Client({ host: '127.0.0.1', port: Number(port), user: 'postgres', password: databasePassword, database: 'postgres' });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string }>("SELECT application_name AS name FROM pg_stat_activity WHERE application_name LIKE 'patchbay-listen %'");
        expect(rows).toEqual([{ name: `patchbay-listen ${started.child.pid}` }]);
      } finally {
        await client.end();
      }
    } finally {
      expect(await stop(started)).toBe(0);
    }
  }, 120_000);

  it('refuses an encryption key other than the one the data was sealed with', async () => {
    const child = run({ PATCHBAY_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', PATCHBAY_ENCRYPTION_KEY: 'ab'.repeat(32) });
    const { code, stderr } = await waitForExit(child);
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('patchbay: invalid configuration: PATCHBAY_ENCRYPTION_KEY is not the key this database was encrypted with');
  }, 60_000);

  it.each([
    [{ PORT: 'abc' }, "patchbay: invalid configuration: PORT must be a whole number (got 'abc')"],
    [{ LOG_LEVEL: 'loud' }, "patchbay: invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got 'loud')"],
    [{ PATCHBAY_PROVIDERS_FILE: '/nonexistent/providers.yaml' }, 'patchbay: cannot read providers file /nonexistent/providers.yaml: ENOENT'],
  ])('stops with one line naming the variable for %j', async (env, line) => {
    const { code, stderr } = await waitForExit(run({ PATCHBAY_DATA_DIR: dataDir, DATABASE_URL: 'postgres://x:y@127.0.0.1:1/z', ...env }));
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(line);
  }, 60_000);
});
