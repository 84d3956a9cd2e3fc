// The log writer against a real PostgreSQL: what goes in through write() comes back exactly from
// the store, whatever the text holds, and a batch sent twice is stored once.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCipher } from '../../server/credentials/cipher.js';
import { createLogWriter, type LogWriter } from '../../server/logs/writer.js';
import { toCopyLine, type LogOperation } from '../../server/store/logs.js';
import { createPool, createStore, type Pool, type Store } from '../../server/store/index.js';
import { createTestDatabase, type TestDatabase } from '../harness/database.js';

function operation(overrides: Partial<LogOperation> = {}): LogOperation {
  const startedAt = new Date(Date.now() - 20);
  return {
    id: uuidv7(),
    parentId: null,
    type: 'proxy',
    action: 'call',
    state: 'success',
    level: 'info',
    integrationKey: 'github',
    connectionId: 'user-1',
    method: 'GET',
    url: 'https://api.github.com/user/repos?per_page=5',
    status: 200,
    error: null,
    attempts: [{ attempt: 0, status: 200, error: null, durationMs: 12, waitedMs: 0 }],
    request: null,
    response: null,
    messages: [],
    startedAt,
    endedAt: new Date(startedAt.getTime() + 12),
    durationMs: 12,
    ...overrides,
  };
}

describe('log writer', () => {
  let database: TestDatabase;
  let pool: Pool;
  let store: Store;
  let writer: LogWriter;

  beforeAll(async () => {
    database = await createTestDatabase('log-writer');
    pool = createPool({ connectionString: database.url, max: 4 });
    store = createStore(pool, createCipher(randomBytes(32)));
    writer = createLogWriter({ store: store.logs, logger: pino({ level: 'silent' }), flushIntervalMs: 20 });
    writer.start();
  });
  afterAll(async () => {
    await writer?.stop();
    await pool?.end();
    await database?.release();
  });

  it('stores tabs, newlines, backslashes, quotes and non-ASCII text exactly as written', async () => {
    const awkward = 'tab\there\nnew line\r\\back\\slash "quoted" \\N \\t ünïcödé 😀 \u2028';
    const failed = operation({
      state: 'failed',
      level: 'error',
      connectionId: `conn\t${awkward}`,
      url: `https://api.example.com/a\\b?q=${awkward}`,
      status: null,
      error: { code: 'upstream_network_error', message: awkward },
      attempts: [{ attempt: 0, status: null, error: 'ECONNRESET', durationMs: 3, waitedMs: 0 }],
      request: { headers: { 'x-note': awkward, authorization: 'REDACTED' } },
      response: { headers: { 'content-type': 'text/plain' } },
      messages: [{ level: 'info', message: awkward, at: new Date().toISOString() }],
      endedAt: null,
      durationMs: null,
    });
    const child = operation({ parentId: failed.id, action: `run\\${awkward}` });
    writer.write(failed);
    writer.write(child);
    await writer.flush();

    expect(await store.logs.get(failed.id)).toEqual(failed);
    expect(await store.logs.get(child.id)).toEqual(child);
  });

  it('drops NUL characters (PostgreSQL cannot store them) and keeps the rest of the batch', async () => {
    const withNul = operation({ error: { code: 'x', message: 'before\u0000after' }, messages: [{ message: 'a\u0000b' }], url: 'https://h/\u0000p' });
    const plain = operation();
    writer.write(withNul);
    writer.write(plain);
    await writer.flush();

    const stored = await store.logs.get(withNul.id);
    expect(stored?.error).toEqual({ code: 'x', message: 'beforeafter' });
    expect(stored?.messages).toEqual([{ message: 'ab' }]);
    expect(stored?.url).toBe('https://h/p');
    expect(await store.logs.get(plain.id)).toEqual(plain);
    expect(writer.dropped).toBe(0);
  });

  it('stores a batch sent a second time (its first answer lost) once, with the new rows of the retry', async () => {
    const first = [operation(), operation()];
    await store.logs.insertLines(first.map(toCopyLine));
    const retry = [...first, operation()];
    await store.logs.insertLines(retry.map(toCopyLine));

    const ids = retry.map((op) => op.id);
    const { rows } = await pool.query<{ id: string }>('SELECT id FROM log_operations WHERE id = ANY($1::uuid[])', [ids]);
    expect(rows.map((row) => row.id).sort()).toEqual([...ids].sort());
    expect(await store.logs.get(retry[2]!.id)).toEqual(retry[2]);
  });

  it('writes 20,000 operations in batches, none lost and none twice', async () => {
    const ops = Array.from({ length: 20_000 }, (_, i) => operation({ connectionId: `bulk-${i % 100}`, status: 200 + (i % 3) }));
    for (const op of ops) writer.write(op);
    await writer.flush();
    const { rows } = await pool.query<{ n: number; distinct_ids: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT id)::int AS distinct_ids FROM log_operations WHERE connection_id LIKE 'bulk-%'`,
    );
    expect(rows[0]).toEqual({ n: 20_000, distinct_ids: 20_000 });
    expect(writer.dropped).toBe(0);
  });
  it('under steady traffic sends full batches, not a transaction per handful of rows', async () => {
    const batches: number[] = [];
    const counting = { ...store.logs, insertLines: (lines: readonly string[]) => (batches.push(lines.length), store.logs.insertLines(lines)) };
    const steady = createLogWriter({ store: counting, logger: pino({ level: 'silent' }), flushIntervalMs: 60_000, maxBatch: 500 });
    steady.start();
    try {
      // 2,300 calls arriving 50 at a time over ~150 ms, while earlier batches are being written.
      for (let i = 0; i < 46; i++) {
        for (let j = 0; j < 50; j++) steady.write(operation({ connectionId: 'steady' }));
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      await steady.flush();
    } finally {
      await steady.stop();
    }
    expect(batches.reduce((sum, n) => sum + n, 0)).toBe(2300);
    expect(batches).toEqual([500, 500, 500, 500, 300]);
  });
});
