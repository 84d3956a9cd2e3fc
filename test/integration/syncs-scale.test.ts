import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { addConnection, startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const PAGE = 200;

const FUNCTIONS = {
  'shop/syncs/items.ts': `
    import { createSync } from 'patchbay';
    import * as z from 'zod';
    export default createSync({
      description: 'Every item, page by page; what is gone was deleted',
      frequency: 'every day',
      autoStart: false,
      models: { Item: z.object({ id: z.string(), name: z.string(), price: z.number() }) },
      checkpoint: z.object({ done: z.boolean() }),
      exec: async (nango) => {
        if ((await nango.getCheckpoint())?.done) return;
        await nango.trackDeletesStart('Item');
        for await (const page of nango.paginate<{ id: number; name: string; price: number }>({
          endpoint: '/items',
          paginate: { type: 'offset', offset_name_in_request: 'offset', limit: ${PAGE}, limit_name_in_request: 'limit', response_path: 'items' },
        })) {
          await nango.batchSave(page.map((item) => ({ id: String(item.id), name: item.name, price: item.price })), 'Item');
        }
        await nango.trackDeletesEnd('Item');
        await nango.saveCheckpoint({ done: true });
      },
    });`,
  'shop/syncs/bad-checkpoint.ts': `
    import { createSync } from 'patchbay';
    import * as z from 'zod';
    export default createSync({
      description: 'Saves a checkpoint its own schema refuses',
      frequency: 'every day',
      autoStart: false,
      models: { Item: z.object({ id: z.string() }) },
      checkpoint: z.object({ page: z.number() }),
      exec: async (nango) => { await nango.saveCheckpoint({ page: 'two' as unknown as number }); },
    });`,
  'shop/syncs/slow.ts': `
    import { createSync } from 'patchbay';
    import * as z from 'zod';
    export default createSync({
      description: 'Takes as long as the provider takes to answer',
      frequency: 'every day',
      autoStart: false,
      models: { Item: z.object({ id: z.string() }) },
      exec: async (nango) => { await nango.get({ endpoint: '/slow' }); },
    });`,
};

interface Item {
  id: number;
  name: string;
  price: number;
}

describe('syncs at scale: thousands of changing items, resets, and two runners', () => {
  let upstream: Upstream;
  let server: TestPatchbay;
  const runners: TestPatchbay[] = [];
  let functions: FunctionsFolder;
  let db: pg.Client;
  let items: Item[] = [];
  let slowCalls = 0;
  let answerSlow!: () => void;
  const slowAnswers = new Promise<void>((resolve) => (answerSlow = resolve));

  const trigger = (sync: string, opts?: Record<string, boolean>) =>
    server.request('POST', '/sync/trigger', { body: { syncs: [sync], provider_config_key: 'shop', connection_id: 'c-1', ...(opts ? { opts } : {}) } });
  const runsOf = async (sync: string) =>
    (await db.query(`SELECT state, output, error FROM function_runs WHERE function_name = $1 ORDER BY created_at`, [sync])).rows as {
      state: string;
      output: { models: Record<string, { added: number; updated: number; deleted: number }> } | null;
      error: { code: string; message: string } | null;
    }[];
  const settle = async (sync: string, count: number) => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const rows = await runsOf(sync);
      if (rows.length >= count && rows.every((row) => row.state !== 'queued' && row.state !== 'running')) return rows.at(-1);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${sync} did not settle`);
  };
  const recordCount = async () => Number((await db.query(`SELECT count(*) FROM records WHERE model = 'Item' AND deleted_at IS NULL`)).rows[0].count);

  beforeAll(async () => {
    upstream = await startUpstream();
    upstream.setFallback(async (req, res, received) => {
      // `slow` runs wait here while the test holds them.
      if (received.path === '/slow') {
        slowCalls++;
        await slowAnswers;
      }
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const offset = Number(query.get('offset') ?? 0);
      const limit = Number(query.get('limit') ?? PAGE);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: items.slice(offset, offset + limit) }));
    });
    functions = await writeFunctions(FUNCTIONS);
    const providers = { github: { proxy: { base_url: upstream.url } } };
    server = await startPatchbay({ label: 'syncs-scale', roles: ['server'], functionsDir: functions.dir, providers });
    for (let i = 0; i < 2; i++) {
      runners.push(
        await startPatchbay({ label: 'syncs-scale', roles: ['runner'], database: server.database, secretKey: server.secretKey, encryptionKey: server.encryptionKey, providers }),
      );
    }
    await addConnection(server, { provider: 'github', providerConfigKey: 'shop', connectionId: 'c-1', accessToken: 't' });
    db = new pg.Client({ connectionString: server.database.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    for (const runner of runners) await runner.stop();
    await server?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  it('counts adds, updates, deletes and unchanged records exactly over 3,000 items that change between runs', async () => {
    items = Array.from({ length: 3000 }, (_, i) => ({ id: i + 1, name: `item ${i + 1}`, price: 100 + i }));
    await trigger('items');
    expect((await settle('items', 1))?.output?.models.Item).toEqual({ added: 3000, updated: 0, deleted: 0 });
    expect(await recordCount()).toBe(3000);

    // 37 repriced, 11 gone, 5 new; the rest unchanged.
    for (const item of items.filter((item) => item.id % 80 === 0)) item.price += 1;
    const gone = new Set(items.filter((item) => item.id % 271 === 0).map((item) => item.id));
    items = items.filter((item) => !gone.has(item.id));
    items.push(...Array.from({ length: 5 }, (_, i) => ({ id: 5001 + i, name: `new ${i}`, price: 1 })));
    expect([items.filter((item) => item.id % 80 === 0 && item.id < 5000).length, gone.size]).toEqual([37, 11]);

    await trigger('items', { reset: true });
    expect((await settle('items', 2))?.output?.models.Item).toEqual({ added: 5, updated: 37, deleted: 11 });
    expect(await recordCount()).toBe(2994);

    // Nothing changed: a reset run reads everything again and changes nothing.
    await trigger('items', { reset: true });
    expect((await settle('items', 3))?.output?.models.Item).toEqual({ added: 0, updated: 0, deleted: 0 });
  });

  it('keeps the checkpoint without reset, and starts over from an empty cache with emptyCache', async () => {
    const asked = upstream.requests.length;
    await trigger('items');
    expect((await settle('items', 4))?.output).toEqual({ models: {} });
    expect(upstream.requests.length).toBe(asked);
    await trigger('items', { reset: true, emptyCache: true });
    expect((await settle('items', 5))?.output?.models.Item).toEqual({ added: 2994, updated: 0, deleted: 0 });
  });

  it('fails a run whose checkpoint does not match its schema, saying why', async () => {
    await trigger('bad-checkpoint');
    const run = await settle('bad-checkpoint', 1);
    expect(run?.state).toBe('failed');
    expect(run?.error?.message).toContain('checkpoint schema');
    expect(Number((await db.query(`SELECT count(*) FROM sync_checkpoints WHERE sync_name = 'bad-checkpoint'`)).rows[0].count)).toBe(0);
  });

  it('never runs one (connection, sync) twice at once across two runners', async () => {
    let maxRunning = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const { rows } = await db.query(`SELECT count(*)::int AS running FROM function_runs WHERE function_name = 'slow' AND state = 'running'`);
        maxRunning = Math.max(maxRunning, rows[0].running);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    // The first run stays running (its provider call is held) while seven more asks come in.
    expect((await trigger('slow')).status).toBe(200);
    await expect.poll(() => slowCalls, { timeout: 20_000 }).toBe(1);
    for (let i = 0; i < 7; i++) expect((await trigger('slow')).status).toBe(200);
    answerSlow();
    await settle('slow', 2);
    const total = (await runsOf('slow')).length;
    watching = false;
    await watcher;
    expect(maxRunning).toBe(1);
    // One run while the asks came in, and one more queued for all of them: never more than one
    // queued at a time.
    expect(total).toBe(2);
    expect(slowCalls).toBe(2);
    const runnersUsed = Number((await db.query(`SELECT count(DISTINCT runner_id) FROM function_runs WHERE function_name = 'slow'`)).rows[0].count);
    expect(runnersUsed).toBeGreaterThanOrEqual(1);
  });
});
