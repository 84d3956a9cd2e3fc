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

const copyData = (ops: LogOperation[]) => Buffer.from(ops.map(toCopyLine).join(''));
/** Rows in a batch of COPY text: each ends with a newline (newlines inside values are escaped). */
const rowsIn = (data: readonly Buffer[]) => data.reduce((sum, chunk) => sum + chunk.filter((byte) => byte === 0x0a).length, 0);

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
    await store.logs.insertCopy([copyData(first)]);
    const retry = [...first, operation()];
    await store.logs.insertCopy([copyData(retry)]);

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
    const counting = { ...store.logs, insertCopy: (data: readonly Buffer[]) => (batches.push(rowsIn(data)), store.logs.insertCopy(data)) };
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

  it('stores rows larger than its buffers and rows split over many buffers intact', async () => {
    // Failed calls keep their headers: a row can be far bigger than the writer's 64 KB buffers.
    const huge = operation({ state: 'failed', level: 'warn', status: 431, request: { headers: { 'x-big': `ä${'x'.repeat(200_000)}😀` } } });
    const many = Array.from({ length: 600, }, (_, i) => operation({ connectionId: `many-${i}`, url: `https://h/${'ü'.repeat(i)}` }));
    writer.write(many[0] as LogOperation);
    writer.write(huge);
    for (const op of many.slice(1)) writer.write(op);
    await writer.flush();

    expect(await store.logs.get(huge.id)).toEqual(huge);
    for (const op of many) expect(await store.logs.get(op.id)).toEqual(op);
  });

  it('keeps rows while the database is away and writes them once it is back', async () => {
    let away = true;
    const refused: number[] = [];
    const written: number[] = [];
    const flaky = {
      ...store.logs,
      insertCopy: async (data: readonly Buffer[]) => {
        if (away) {
          refused.push(rowsIn(data));
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        }
        await store.logs.insertCopy(data);
        written.push(rowsIn(data));
      },
    };
    const patient = createLogWriter({ store: flaky, logger: pino({ level: 'silent' }), flushIntervalMs: 60_000, maxBatch: 100 });
    const ops = Array.from({ length: 250 }, () => operation({ connectionId: 'patient' }));
    for (const op of ops) patient.write(op);
    await patient.flush();
    // Each try sends the oldest batch again, and stops at the first failure.
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused)).toEqual(new Set([100]));
    expect(written).toEqual([]);

    away = false;
    await patient.flush();
    expect(written).toEqual([100, 100, 50]);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM log_operations WHERE id = ANY($1::uuid[])', [ops.map((op) => op.id)]);
    expect(rows[0]?.n).toBe(250);
    expect(patient.dropped).toBe(0);
  });

  it('past its bound drops the oldest rows, counts them and writes the newest', async () => {
    const down = { ...store.logs, insertCopy: async () => Promise.reject(Object.assign(new Error('gone'), { code: 'ECONNRESET' })) };
    const bounded = createLogWriter({ store: down, logger: pino({ level: 'silent' }), flushIntervalMs: 60_000, maxBatch: 10, maxQueue: 50 });
    const ops = Array.from({ length: 80 }, (_, i) => operation({ connectionId: `bounded-${i}` }));
    for (const op of ops) bounded.write(op);
    await bounded.flush();
    expect(bounded.dropped).toBe(30);

    // The same writer with the database back: what it kept is the newest 50.
    (down as { insertCopy: (data: readonly Buffer[]) => Promise<void> }).insertCopy = (data) => store.logs.insertCopy(data);
    await bounded.flush();
    const { rows } = await pool.query<{ connection_id: string }>("SELECT connection_id FROM log_operations WHERE connection_id LIKE 'bounded-%'");
    expect(rows.map((row) => row.connection_id).sort()).toEqual(ops.slice(30).map((op) => op.connectionId).sort());
  });
});
