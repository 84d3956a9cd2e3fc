import { Nango } from '@nangohq/node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const FUNCTIONS = {
  'github/syncs/issues.ts': `
    import { createSync } from 'patchbay';
    import * as z from 'zod';
    const GithubIssue = z.object({ id: z.string(), title: z.string(), state: z.string() });
    export default createSync({
      description: 'Issues, page by page, resuming from the checkpoint',
      frequency: 'every hour',
      autoStart: false,
      models: { GithubIssue },
      checkpoint: z.object({ page: z.number() }),
      limits: { timeoutMs: 2000 },
      exec: async (nango) => {
        const checkpoint = (await nango.getCheckpoint()) as { page?: number } | null;
        let page = checkpoint?.page ?? 1;
        while (true) {
          const res = await nango.get<{ items: { id: number; title: string; state: string }[]; last: boolean; slow?: boolean }>({ endpoint: '/issues', params: { page } });
          if (res.data.slow) await new Promise((resolve) => setTimeout(resolve, 10_000));
          await nango.batchSave(res.data.items.map((item) => ({ id: String(item.id), title: item.title, state: item.state })), 'GithubIssue');
          if (res.data.last) break;
          page += 1;
          await nango.saveCheckpoint({ page });
        }
        await nango.clearCheckpoint();
      },
    });`,
  'github/syncs/labels.ts': `
    import { createSync } from 'patchbay';
    import * as z from 'zod';
    export default createSync({
      description: 'Labels: a full list each run, so what is gone was deleted',
      frequency: 'every day',
      autoStart: false,
      models: { Label: z.object({ id: z.string(), name: z.string() }) },
      exec: async (nango) => {
        await nango.trackDeletesStart('Label');
        const res = await nango.get<string[]>({ endpoint: '/labels' });
        await nango.batchSave(res.data.map((name) => ({ id: name, name })), 'Label');
        const { deletedKeys } = await nango.trackDeletesEnd('Label');
        await nango.log('deleted ' + deletedKeys.join(','));
      },
    });`,
};

describe('syncs: POST /sync/trigger runs a sync that stores records', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  let functions: FunctionsFolder;
  let db: pg.Client;
  let labels: string[] = [];
  let pages: { items: { id: number; title: string; state: string }[]; last: boolean; slow?: boolean }[];
  const headers = { 'provider-config-key': 'github', 'connection-id': 'gh-1' };

  const runs = async () =>
    (await db.query(`SELECT state, output, error FROM function_runs WHERE kind = 'sync' ORDER BY created_at`)).rows as { state: string; output: unknown; error: { code: string } | null }[];
  const syncAndWait = async (count: number) => {
    const res = await patchbay.request('POST', '/sync/trigger', { body: { syncs: ['issues'], provider_config_key: 'github', connection_id: 'gh-1' } });
    expect(res.json).toEqual({ success: true });
    const deadline = Date.now() + 15_000;
    let all = await runs();
    while ((all.length < count || all.some((run) => run.state === 'queued' || run.state === 'running')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      all = await runs();
    }
    return all.at(-1);
  };
  const allRecords = async () => {
    const out: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    do {
      const res = await patchbay.request('GET', `/records?model=GithubIssue&limit=50${cursor === null ? '' : `&cursor=${cursor}`}`, { headers });
      expect(res.status).toBe(200);
      out.push(...res.json.records);
      cursor = res.json.next_cursor;
    } while (cursor !== null);
    return out;
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    upstream.setFallback((req, res) => {
      if (req.url === '/labels') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify(labels));
      }
      const page = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('page') ?? '1');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(pages[page - 1] ?? { items: [], last: true }));
    });
    functions = await writeFunctions(FUNCTIONS);
    patchbay = await startPatchbay({ label: 'syncs-run', functionsDir: functions.dir, providers: { github: { proxy: { base_url: upstream.url } } } });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
    const res = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'github', connection_id: 'gh-1', credentials: { type: 'OAUTH2', access_token: 'token-one' } },
    });
    expect(res.status).toBe(201);
    db = new pg.Client({ connectionString: patchbay.database.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  const issues = (from: number, to: number, state = 'open') => Array.from({ length: to - from + 1 }, (_, i) => ({ id: from + i, title: `issue ${from + i}`, state }));

  it('saves every page, then counts only what changed on the next run', async () => {
    pages = [
      { items: issues(1, 40), last: false },
      { items: issues(41, 80), last: false },
      { items: issues(81, 100), last: true },
    ];
    const first = await syncAndWait(1);
    expect(first?.state).toBe('succeeded');
    expect(first?.output).toEqual({ models: { GithubIssue: { added: 100, updated: 0, deleted: 0 } } });
    const records = await allRecords();
    expect(records).toHaveLength(100);
    expect(records[0]).toMatchObject({ id: '1', title: 'issue 1', _nango_metadata: { last_action: 'ADDED' } });

    pages[1] = { items: [...issues(41, 49), ...issues(50, 52, 'closed'), ...issues(53, 80)], last: false };
    const second = await syncAndWait(2);
    expect(second?.output).toEqual({ models: { GithubIssue: { added: 0, updated: 3, deleted: 0 } } });
    const updated = (await allRecords()).filter((record) => (record._nango_metadata as { last_action: string }).last_action === 'UPDATED');
    expect(updated.map((record) => record.id)).toEqual(['50', '51', '52']);
    expect(upstream.requests.at(-1)?.headers.authorization).toBe('Bearer token-one');
  });

  it('skips records that do not match the model and says which in the run log', async () => {
    pages = [{ items: [...issues(200, 201), { id: 202, title: 42 as unknown as string, state: 'open' }], last: true }];
    const run = await syncAndWait((await runs()).length + 1);
    expect(run?.state).toBe('succeeded');
    expect(run?.output).toEqual({ models: { GithubIssue: { added: 2, updated: 0, deleted: 0 } } });
    const ids = (await allRecords()).map((record) => record.id);
    expect(ids).toEqual(expect.arrayContaining(['200', '201']));
    expect(ids).not.toContain('202');
    await patchbay.system.logs.flush();
    const logs = await patchbay.request('GET', '/logs?type=sync&limit=1');
    const lines = logs.json.data[0].messages.map((line: { message: string }) => line.message);
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/skipped an invalid GithubIssue record \(id 202\): title: /)]));
  });

  it('deletes what a tracked run did not save (trackDeletesStart/End)', async () => {
    const trigger = () => patchbay.request('POST', '/sync/trigger', { body: { syncs: ['labels'], provider_config_key: 'github', connection_id: 'gh-1' } });
    const settled = async (count: number) => {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const { rows } = await db.query(`SELECT state, output FROM function_runs WHERE function_name = 'labels' ORDER BY created_at`);
        if (rows.length >= count && rows.every((row) => row.state !== 'queued' && row.state !== 'running')) return rows.at(-1);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('labels did not settle');
    };
    labels = ['bug', 'docs', 'ui'];
    await trigger();
    expect((await settled(1)).output).toEqual({ models: { Label: { added: 3, updated: 0, deleted: 0 } } });
    labels = ['bug', 'ui'];
    await trigger();
    expect((await settled(2)).output).toEqual({ models: { Label: { added: 0, updated: 0, deleted: 1 } } });
    const res = await patchbay.request('GET', '/records?model=Label', { headers });
    const byId = Object.fromEntries(res.json.records.map((record: { id: string; _nango_metadata: { last_action: string } }) => [record.id, record._nango_metadata.last_action]));
    expect(byId).toEqual({ bug: 'ADDED', ui: 'ADDED', docs: 'DELETED' });
  });

  it('works from @nangohq/node: triggerSync queues a run, listRecords pages the records', async () => {
    const nango = new Nango({ host: patchbay.url, secretKey: patchbay.secretKey });
    const before = (await runs()).length;
    await nango.triggerSync('github', ['issues'], 'gh-1');
    const deadline = Date.now() + 15_000;
    while (((await runs()).length === before || (await runs()).some((run) => run.state === 'queued' || run.state === 'running')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await runs()).at(-1)?.state).toBe('succeeded');
    const page = await nango.listRecords<{ id: string; title: string }>({ providerConfigKey: 'github', connectionId: 'gh-1', model: 'GithubIssue', limit: 30 });
    expect(page.records).toHaveLength(30);
    expect(page.next_cursor).toEqual(expect.any(String));
    const next = await nango.listRecords({ providerConfigKey: 'github', connectionId: 'gh-1', model: 'GithubIssue', cursor: page.next_cursor as string, limit: 100 });
    expect(new Set([...page.records, ...next.records].map((record) => record.id)).size).toBe(30 + next.records.length);
    expect(next.next_cursor).toBeNull();
  });

  it('records a run cut short by its time limit as interrupted; the next run resumes from the checkpoint', async () => {
    pages = [
      { items: issues(1, 40), last: false },
      { items: issues(101, 120), last: false, slow: true },
      { items: issues(121, 130), last: true },
    ];
    const before = upstream.requests.length;
    const recordsBefore = (await allRecords()).length;
    const cut = await syncAndWait((await runs()).length + 1);
    expect(cut?.state).toBe('interrupted');
    expect(cut?.error?.code).toBe('execution_timeout');
    pages[1] = { items: issues(101, 120), last: false };
    const resumed = await syncAndWait((await runs()).length + 1);
    expect(resumed?.state).toBe('succeeded');
    // Resumed at page 2 (the checkpoint), not page 1.
    const pagesAsked = upstream.requests.slice(before).map((r) => r.query.get('page'));
    expect(pagesAsked).toEqual(['1', '2', '2', '3']);
    // Issues 101–130 are new; 1–40 were saved before.
    expect((await allRecords()).length).toBe(recordsBefore + 30);
  });
});
