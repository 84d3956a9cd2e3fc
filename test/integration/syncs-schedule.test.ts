import { Nango } from '@nangohq/node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nango as PatchbayNango } from '../../sdk/index.js';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const FUNCTIONS = {
  'github/syncs/repos.ts': `
    import { createSync } from 'patchbay';
    import * as z from 'zod';
    export default createSync({
      description: 'Repositories',
      frequency: 'every 30 seconds',
      models: { Repo: z.object({ id: z.string(), name: z.string() }) },
      exec: async (nango) => {
        const res = await nango.get<{ id: number; name: string }[]>({ endpoint: '/repos' });
        await nango.batchSave(res.data.map((repo) => ({ id: String(repo.id), name: repo.name })), 'Repo');
      },
    });`,
};

describe('syncs: schedules, pause, start, status, frequency', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  let functions: FunctionsFolder;
  let db: pg.Client;
  let nango: Nango;

  const runCount = async (connectionId: string) =>
    Number((await db.query(`SELECT count(*) FROM function_runs WHERE kind = 'sync' AND connection_id = $1`, [connectionId])).rows[0].count);
  const settle = async (connectionId: string, atLeast: number) => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const { rows } = await db.query(`SELECT state FROM function_runs WHERE kind = 'sync' AND connection_id = $1`, [connectionId]);
      if (rows.length >= atLeast && rows.every((row) => row.state !== 'queued' && row.state !== 'running')) return rows.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`runs of ${connectionId} did not settle`);
  };
  const connect = async (id: string) => {
    const res = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'github', connection_id: id, credentials: { type: 'OAUTH2', access_token: `token-${id}` } },
    });
    expect(res.status).toBe(201);
  };

  // Time passes: the connection's schedules are due now. Changed by hand, they are announced as
  // whoever edits sync_schedules in SQL announces them (the scheduler sleeps until the next due
  // schedule it knew of).
  const makeDueNow = async (connectionId: string) => {
    await db.query(`UPDATE sync_schedules SET next_run_at = now() WHERE connection_id = $1`, [connectionId]);
    await db.query(`SELECT pg_notify('patchbay_schedules', 'a test|')`);
  };

  // The provider answers once `gate` is open: a test closes it to hold a run in the middle.
  let gate: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    upstream = await startUpstream();
    upstream.setFallback(async (_req, res) => {
      await gate;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify([{ id: 1, name: 'app' }, { id: 2, name: 'api' }]));
    });
    functions = await writeFunctions(FUNCTIONS);
    patchbay = await startPatchbay({ label: 'syncs-schedule', functionsDir: functions.dir, providers: { github: { proxy: { base_url: upstream.url } } } });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
    db = new pg.Client({ connectionString: patchbay.database.url });
    await db.connect();
    nango = new Nango({ host: patchbay.url, secretKey: patchbay.secretKey });
  });
  afterAll(async () => {
    await db?.end();
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  it('starts a new connection’s syncs at once (autoStart) and schedules the next run by the frequency', async () => {
    const before = Date.now();
    await connect('c-1');
    expect(await settle('c-1', 1)).toBe(1);
    const page = await nango.listRecords({ providerConfigKey: 'github', connectionId: 'c-1', model: 'Repo' });
    expect(page.records.map((record) => record.id).sort()).toEqual(['1', '2']);
    const status = await nango.syncStatus('github', ['repos'], 'c-1');
    expect(status.syncs).toHaveLength(1);
    const [sync] = status.syncs as unknown as Record<string, unknown>[];
    expect(sync).toMatchObject({ name: 'repos', status: 'SUCCESS', latestResult: { models: { Repo: { added: 2, updated: 0, deleted: 0 } } } });
    const next = new Date(sync?.nextScheduledSyncAt as string).getTime();
    // 30 s after the moment the schedule fired, which came after `before` and before now (however
    // long the first run took to settle).
    expect(next - before).toBeGreaterThan(25_000);
    expect(next).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it('our SDK answers the sync and record calls as @nangohq/node does', async () => {
    const ours = new PatchbayNango({ host: patchbay.url, secretKey: patchbay.secretKey });
    try {
      expect(await ours.syncStatus('github', ['repos'], 'c-1')).toEqual(await nango.syncStatus('github', ['repos'], 'c-1'));
      const query = { providerConfigKey: 'github', connectionId: 'c-1', model: 'Repo', limit: 1 };
      const page = await ours.listRecords(query);
      expect(page).toEqual(await nango.listRecords(query));
      expect(page.records).toHaveLength(1);
      const rest = await ours.listRecords({ ...query, cursor: page.next_cursor as string, limit: 10 });
      expect(rest.records.map((record) => record.id)).not.toContain(page.records[0]?.id);
      await ours.pauseSync('github', ['repos'], 'c-1');
      expect(((await ours.syncStatus('github', ['repos'], 'c-1')).syncs[0] as unknown as { status: string }).status).toBe('PAUSED');
      await ours.startSync('github', ['repos'], 'c-1');
      await settle('c-1', 2);
      await ours.triggerSync('github', ['repos'], 'c-1');
    } finally {
      await ours.close();
    }
  });

  it('pause stops the schedule; start resumes it with a run at once', async () => {
    await connect('c-2');
    await settle('c-2', 1);
    await nango.pauseSync('github', ['repos'], 'c-2');
    expect(((await nango.syncStatus('github', ['repos'], 'c-2')).syncs[0] as unknown as Record<string, unknown>).status).toBe('PAUSED');
    // Due now, but paused: nothing runs, even with the scheduler woken.
    await makeDueNow('c-2');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await runCount('c-2')).toBe(1);
    await nango.startSync('github', ['repos'], 'c-2');
    expect(await settle('c-2', 2)).toBe(2);
  });

  it('runs again when due, and keeps one queued run per sync however often it is asked', async () => {
    const before = await settle('c-1', 1);
    await makeDueNow('c-1');
    expect(await settle('c-1', before + 1)).toBe(before + 1);
    // The provider holds every run until the five asks are answered: whatever the runner did in
    // between, one run at most is running (held) and one at most is queued.
    let open!: () => void;
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    try {
      const results = await Promise.all(Array.from({ length: 5 }, () => patchbay.request('POST', '/sync/trigger', { body: { syncs: ['repos'], provider_config_key: 'github', connection_id: 'c-1' } })));
      expect(results.every((res) => res.status === 200)).toBe(true);
      const { rows } = await db.query(`SELECT state, count(*)::int AS n FROM function_runs WHERE kind = 'sync' AND connection_id = 'c-1' AND state IN ('queued', 'running') GROUP BY state`);
      const byState = Object.fromEntries(rows.map((row) => [row.state as string, row.n as number]));
      expect(byState.queued ?? 0).toBeLessThanOrEqual(1);
      expect(byState.running ?? 0).toBeLessThanOrEqual(1);
      expect((byState.queued ?? 0) + (byState.running ?? 0)).toBeGreaterThanOrEqual(1);
    } finally {
      open();
      gate = Promise.resolve();
    }
    const total = await settle('c-1', before + 2);
    expect(total).toBeLessThanOrEqual(before + 3);
  });

  it('overrides a connection’s frequency, validates it, and deletes schedules with their connection', async () => {
    const res = await patchbay.request('PUT', '/sync/update-connection-frequency', {
      body: { sync_name: 'repos', provider_config_key: 'github', connection_id: 'c-1', frequency: 'every 2 hours' },
    });
    expect(res.json).toEqual({ frequency: 'every 2 hours', frequency_ms: 7_200_000 });
    const bad = await patchbay.request('PUT', '/sync/update-connection-frequency', {
      body: { sync_name: 'repos', provider_config_key: 'github', connection_id: 'c-1', frequency: 'every 5 seconds' },
    });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'invalid_body']);
    expect((await patchbay.request('DELETE', '/connections/c-1?provider_config_key=github')).status).toBe(200);
    const deadline = Date.now() + 5000;
    let left = 1;
    while (left > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = Number((await db.query(`SELECT count(*) FROM sync_schedules WHERE connection_id = 'c-1'`)).rows[0].count);
    }
    expect(left).toBe(0);
  });
});
