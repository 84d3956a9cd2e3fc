import { readdir, readFile } from 'node:fs/promises';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool, migrate } from '../../server/store/index.js';
import { createLogStore, type LogOperation } from '../../server/store/logs.js';
import { createEmptyDatabase } from '../harness/database.js';

const MIGRATIONS = new URL('../../server/store/migrations/', import.meta.url);

describe('migrations', () => {
  const pools: ReturnType<typeof createPool>[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
  });

  it('apply exactly once when five processes start at the same moment', async () => {
    const database = await createEmptyDatabase('migrations');
    for (let i = 0; i < 5; i++) pools.push(createPool({ connectionString: database.url, max: 2 }));
    const results = await Promise.all(pools.map((pool) => migrate(pool)));
    const applied = results.flat();
    const files = results.find((r) => r.length > 0) ?? [];
    expect(files.length).toBeGreaterThan(0);
    expect(applied).toEqual(files); // one process applied them all, the others nothing
    const { rows } = await (pools[0] as ReturnType<typeof createPool>).query<{ name: string }>(
      'SELECT name FROM patchbay_migrations ORDER BY name',
    );
    expect(rows.map((r) => r.name)).toEqual(files);
    // and a later start is a no-op
    expect(await migrate(pools[1] as ReturnType<typeof createPool>)).toEqual([]);
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
    await database.release();
  });

  it('move the log rows stored before 007 into chunks, each read back as it was written', async () => {
    const database = await createEmptyDatabase('migrations-logs');
    const pool = createPool({ connectionString: database.url, max: 2 });
    pools.push(pool);
    // The schema as it was before 007, with rows in log_operations.
    await pool.query('CREATE TABLE patchbay_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const file of (await readdir(MIGRATIONS)).filter((name) => name < '007').sort()) {
      await pool.query(await readFile(new URL(file, MIGRATIONS), 'utf8'));
      await pool.query('INSERT INTO patchbay_migrations (name) VALUES ($1)', [file]);
    }
    const awkward = 'tab\there\nnew line\r\\back\\slash "quoted" \\N ünïcödé 😀';
    const base = Date.UTC(2026, 10, 20, 12, 0, 0);
    const parent = uuidv7({ msecs: base });
    const ops: LogOperation[] = Array.from({ length: 2500 }, (_, i) => ({
      id: uuidv7({ msecs: base + i }),
      parentId: i % 7 === 0 ? parent : null,
      type: i % 5 === 0 ? 'action' : 'proxy',
      action: i % 5 === 0 ? 'run' : 'call',
      state: i % 3 === 0 ? 'failed' : 'success',
      level: i % 3 === 0 ? 'error' : 'info',
      integrationKey: `int-${i % 4}`,
      connectionId: i % 11 === 0 ? `conn\t${awkward}` : `conn-${i % 13}`,
      method: 'GET',
      url: `https://api.example.com/items/${i}?q=${awkward}`,
      status: i % 3 === 0 ? null : i >= 2400 ? 503 : 200 + (i % 5),
      error: i % 3 === 0 ? { code: 'upstream_network_error', message: awkward } : null,
      attempts: [{ attempt: 0, status: 200, error: null, durationMs: i, waitedMs: 0 }],
      request: i % 3 === 0 ? { headers: { 'x-note': awkward } } : null,
      response: null,
      messages: i % 9 === 0 ? [{ level: 'info', message: awkward }] : [],
      startedAt: new Date(base + i * 10),
      endedAt: i % 17 === 0 ? null : new Date(base + i * 10 + 3),
      durationMs: i % 17 === 0 ? null : 3,
    }));
    const rows = ops.map((op) => ({
      id: op.id, parent_id: op.parentId, type: op.type, action: op.action, state: op.state, level: op.level,
      integration_key: op.integrationKey, connection_id: op.connectionId, method: op.method, url: op.url, status: op.status,
      error: op.error, attempts: op.attempts, request: op.request, response: op.response, messages: op.messages,
      started_at: op.startedAt.toISOString(), ended_at: op.endedAt?.toISOString() ?? null, duration_ms: op.durationMs,
    }));
    await pool.query('INSERT INTO log_operations SELECT * FROM json_populate_recordset(null::log_operations, $1)', [JSON.stringify(rows)]);

    expect((await migrate(pool)).slice(0, 2)).toEqual(['007_log_chunks.sql', '008_log_facets.sql']);
    const { rows: chunks } = await pool.query<{ row_count: number; facets: string[] }>('SELECT row_count, facets FROM log_chunks ORDER BY first_started');
    expect(chunks.map((chunk) => chunk.row_count)).toEqual([1000, 1000, 500]);
    // 008 filled in the facets of the chunks 007 made: statuses 200-204, and 503 only at the end.
    const common = ['state:failed', 'state:success', 'status:200', 'status:201', 'status:202', 'status:203', 'status:204', 'type:action', 'type:proxy'];
    expect(chunks.map((chunk) => [...chunk.facets].sort())).toEqual([common, common, [...common, 'status:503'].sort()]);
    const logs = createLogStore(pool);
    const newestFirst = [...ops].reverse();
    expect(await logs.list({ limit: 5000 })).toEqual(newestFirst);
    for (const op of [ops[0], ops[1234], ops[2499], ops[11]] as LogOperation[]) expect(await logs.get(op.id)).toEqual(op);
    expect(await logs.list({ integrationKey: 'int-1', connectionId: 'conn-5', limit: 5000 })).toEqual(
      newestFirst.filter((op) => op.integrationKey === 'int-1' && op.connectionId === 'conn-5'),
    );
    expect(await logs.list({ parentId: parent, limit: 5000 })).toEqual(newestFirst.filter((op) => op.parentId !== null));
    expect(await logs.list({ status: 503, limit: 5000 })).toEqual(newestFirst.filter((op) => op.status === 503));
    // By connection alone: 008 listed the integrations the chunks name.
    expect(await logs.list({ connectionId: 'conn-5', limit: 5000 })).toEqual(newestFirst.filter((op) => op.connectionId === 'conn-5'));
    expect(await logs.list({ state: 'failed', type: 'action', limit: 5000 })).toEqual(
      newestFirst.filter((op) => op.state === 'failed' && op.type === 'action'),
    );
    await pool.end();
    pools.splice(pools.indexOf(pool), 1);
    await database.release();
  });
});
