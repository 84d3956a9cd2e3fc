// A Patchbay killed outright (kill -9, OOM killer) cannot stop its embedded PostgreSQL: the
// postmaster lives on, holding the data directory. The next start on that directory stops it
// (bin/postgres-orphan.ts) and starts its own on the same data.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnPatchbay, waitForExit, waitForStart, type PatchbayProcess } from '../harness/process.js';

const postmasterPid = async (pgdata: string) => Number((await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8')).split('\n')[0]);

/** Whether `pid` is a live process (a zombie waiting to be reaped is not). */
async function isRunning(pid: number): Promise<boolean> {
  try {
    // "pid (comm) S …": the state follows the command name, which may hold spaces.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('an embedded PostgreSQL left running by a killed Patchbay', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'patchbay-orphan-'));
    await chmod(root, 0o755); // the embedded PostgreSQL runs as user 'postgres' when we are root
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.runIf(process.platform === 'linux')('is stopped by the next start, which then serves the same data', async () => {
    const dataDir = path.join(root, 'data');
    const pgdata = path.join(dataDir, 'postgres');
    const env = { PATCHBAY_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' };
    const api = async (started: PatchbayProcess, method: 'GET' | 'POST', route: string, body?: unknown) => {
      const response = await request(`${started.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${started.secretKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.statusCode, json: (await response.body.json()) as any };
    };

    let orphan: number | undefined;
    let second: PatchbayProcess | undefined;
    try {
      const first = await waitForStart(spawnPatchbay('server', env));
      expect((await api(first, 'POST', '/integrations', { provider: 'github', unique_key: 'kept' })).status).toBe(200);
      orphan = await postmasterPid(pgdata);
      const exited = waitForExit(first.child);
      first.child.kill('SIGKILL');
      expect((await exited).code).toBeNull();
      // Its owner is gone; the postmaster is not, and still holds the directory.
      expect(await isRunning(orphan)).toBe(true);
      expect(existsSync(path.join(pgdata, 'postmaster.pid'))).toBe(true);

      second = await waitForStart(spawnPatchbay('server', env));
      expect(await isRunning(orphan)).toBe(false);
      expect(await postmasterPid(pgdata)).not.toBe(orphan);
      const listed = await api(second, 'GET', '/integrations');
      expect(listed.status).toBe(200);
      expect(listed.json.data.map((integration: { unique_key: string }) => integration.unique_key)).toEqual(['kept']);
      expect(await second.stop()).toBe(0);
      second = undefined;
      // A clean stop leaves nothing running behind.
      expect(existsSync(path.join(pgdata, 'postmaster.pid'))).toBe(false);
    } finally {
      await second?.stop();
      // Whatever failed above, no PostgreSQL of this test outlives it.
      if (orphan !== undefined && (await isRunning(orphan))) process.kill(orphan, 'SIGINT');
    }
  }, 120_000);
});
