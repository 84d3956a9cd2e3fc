// The log writer against a real PostgreSQL: what goes in through write() comes back exactly from
// the store, whatever the text holds, and a batch sent twice is stored once.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCipher } from '../../server/credentials/cipher.js';
import { createLogWriter, type LogWriter } from '../../server/logs/writer.js';
import { chunkFacets, connectionKey, createdAt, toCopyLine, type LogChunk, type LogFilter, type LogOperation } from '../../server/store/logs.js';
import { createPool, createStore, type Pool, type Store } from '../../server/store/index.js';
import { createTestDatabase, type TestDatabase } from '../harness/database.js';

/** A chunk as the writer would store it. */
function chunkOf(ops: LogOperation[]): LogChunk {
  const started = ops.map((op) => op.startedAt.getTime());
  const created = ops.map((op) => createdAt(op.id) as number);
  return {
    id: uuidv7(),
    rows: ops.length,
    data: [Buffer.from(ops.map(toCopyLine).join(''))],
    firstStarted: Math.min(...started),
    lastStarted: Math.max(...started),
    firstCreated: Math.min(...created),
    lastCreated: Math.max(...created),
    integrations: [...new Set(ops.map((op) => op.integrationKey as string))],
    connections: [...new Set(ops.map((op) => connectionKey(op.integrationKey as string, op.connectionId as string)))],
    parents: [],
    facets: chunkFacets(
      new Set(ops.map((op) => op.type)),
      new Set(ops.map((op) => op.state)),
      new Set(ops.flatMap((op) => (op.status === null ? [] : [op.status]))),
    ),
  };
}

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

  it('gives back every shape of attempts, the one-clean-attempt case stored without JSON', async () => {
    const clean = { attempt: 0, status: 200, error: null, durationMs: 7.5, waitedMs: 0 };
    const ops = [
      operation({ attempts: [clean] }),
      operation({ attempts: [{ ...clean, durationMs: 0 }], status: 204 }), // its status is not the row's
      operation({ attempts: [{ ...clean, waitedMs: 250 }] }), // paced before it went out
      operation({ attempts: [{ ...clean, error: 'ECONNRESET' }] }),
      operation({ attempts: [{ ...clean, attempt: 1 }] }),
      operation({ attempts: [{ ...clean, note: 'an extra key' }] }),
      operation({ attempts: [{ ...clean, status: null, error: 'ETIMEDOUT' }], status: null, state: 'failed' }),
      operation({ attempts: [{ ...clean, status: 503 }, { ...clean, attempt: 1, waitedMs: 40 }] }),
      operation({ attempts: [], type: 'action', status: null }),
    ];
    for (const op of ops) writer.write(op);
    await writer.flush();

    for (const op of ops) expect(await store.logs.get(op.id)).toEqual(op);
    const { rows } = await pool.query<{ data: string }>('SELECT data FROM log_chunks WHERE strpos(data, $1) > 0', [ops[0]?.id]);
    const line = rows[0]?.data.split('\n').find((text) => text.startsWith(ops[0]?.id as string)) ?? '';
    expect(line.split('\t')[12]).toBe('=7.5');
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

  it('stores a batch sent a second time (its first answer lost) once', async () => {
    const ops = [operation({ integrationKey: 'twice' }), operation({ integrationKey: 'twice' })];
    const chunk = chunkOf(ops);
    await store.logs.insertChunk(chunk);
    await store.logs.insertChunk(chunk);

    const listed = await store.logs.list({ integrationKey: 'twice', limit: 10 });
    expect(listed.map((op) => op.id).sort()).toEqual(ops.map((op) => op.id).sort());
  });

  it('pages through chunks whose start times interleave: newest first, none missed or repeated, whatever the filters', async () => {
    // Six chunks over overlapping stretches of time, with ties in startedAt: calls end out of
    // the order they started, so a chunk written later can hold older calls.
    const base = Date.now() - 60_000;
    const chunks = Array.from({ length: 6 }, (_, k) =>
      Array.from({ length: 50 }, (_, i) =>
        operation({
          integrationKey: 'pages',
          connectionId: `p-${(k + i) % 3}`,
          status: [200, 404, 500][(k * 7 + i) % 3] as number,
          state: (k * 7 + i) % 3 === 0 ? 'success' : 'failed',
          startedAt: new Date(base + k * 300 + ((i * 37) % 1500) - (i % 10 === 0 ? (i * 37) % 1500 : 0)),
        }),
      ),
    );
    for (const ops of chunks) await store.logs.insertChunk(chunkOf(ops));
    const all = chunks.flat();
    const newest = (a: LogOperation, b: LogOperation) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : -1);
    const filters: [Partial<LogFilter>, (op: LogOperation) => boolean][] = [
      [{}, () => true],
      [{ connectionId: 'p-1' }, (op) => op.connectionId === 'p-1'],
      [{ status: 500 }, (op) => op.status === 500],
      [{ state: 'success' }, (op) => op.state === 'success'],
      [{ from: new Date(base + 400), to: new Date(base + 1200) }, (op) => op.startedAt.getTime() >= base + 400 && op.startedAt.getTime() < base + 1200],
    ];
    for (const [filter, keep] of filters) {
      const expected = all.filter(keep).sort(newest);
      const seen: LogOperation[] = [];
      let before: LogFilter['before'];
      for (;;) {
        const page = await store.logs.list({ integrationKey: 'pages', ...filter, before, limit: 7 });
        seen.push(...page);
        if (page.length < 7) break;
        const last = page.at(-1) as LogOperation;
        before = { startedAt: last.startedAt, id: last.id };
      }
      expect(seen.map((op) => op.id)).toEqual(expected.map((op) => op.id));
    }
  });

  it('answers a search matching little after a bounded read, and continues from where it stopped until every match is found once', async () => {
    // Twelve chunks of 40 calls over overlapping stretches of time, a failed call (connection b-3) in each.
    const base = Date.now() - 120_000;
    const chunks = Array.from({ length: 12 }, (_, k) =>
      Array.from({ length: 40 }, (_, i) =>
        operation({
          integrationKey: 'budget',
          connectionId: `b-${i % 4}`,
          state: i === 7 ? 'failed' : 'success',
          status: i === 7 ? (k % 4 === 1 ? 502 : 500) : 200,
          startedAt: new Date(base + k * 1000 + ((i * 53) % 2500)),
        }),
      ),
    );
    for (const ops of chunks) await store.logs.insertChunk(chunkOf(ops));
    const all = chunks.flat().sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : -1));

    for (const filter of [{ status: 502 }, { connectionId: 'b-2' }, { connectionId: 'b-0', state: 'failed' as const }]) {
      const keep = (op: LogOperation) =>
        ('state' in filter ? op.state === filter.state : true) && ('connectionId' in filter ? op.connectionId === filter.connectionId : true) && ('status' in filter ? op.status === filter.status : true);
      const seen: LogOperation[] = [];
      const stops: Date[] = [];
      let before: LogFilter['before'];
      for (let answers = 0; ; answers++) {
        expect(answers).toBeLessThan(40);
        const { operations, resumeAt } = await store.logs.search({ integrationKey: 'budget', ...filter, before, limit: 5 }, { scanRows: 100 });
        seen.push(...operations);
        if (resumeAt !== null) {
          // Stopped at the budget: everything found is newer than where it stopped, which moves back.
          expect(operations.every((op) => op.startedAt.getTime() > resumeAt.startedAt.getTime())).toBe(true);
          if (stops.length > 0) expect(resumeAt.startedAt.getTime()).toBeLessThan((stops.at(-1) as Date).getTime());
          stops.push(resumeAt.startedAt);
          before = resumeAt;
        } else if (operations.length === 5) {
          const last = operations.at(-1) as LogOperation;
          before = { startedAt: last.startedAt, id: last.id };
        } else break;
      }
      expect(seen.map((op) => op.id)).toEqual(all.filter(keep).map((op) => op.id));
      // 480 calls read 100 at a time: the search that finds nothing stops several times on the way.
      if ('state' in filter) expect([seen.length, stops.length >= 3]).toEqual([0, true]);
    }
    // Without a budget (list), the same search reads to the end in one answer.
    expect(await store.logs.list({ integrationKey: 'budget', connectionId: 'b-0', state: 'failed', limit: 5 })).toEqual([]);
  });

  it("lists each chunk's types, states and statuses, so that a search reads only the chunks holding some", async () => {
    const calm = Array.from({ length: 30 }, () => operation({ integrationKey: 'facets', status: 200 }));
    const stormy = [
      ...Array.from({ length: 29 }, () => operation({ integrationKey: 'facets', status: 201 })),
      operation({ integrationKey: 'facets', status: 503, state: 'failed', level: 'error' }),
    ];
    const quiet = [operation({ integrationKey: 'facets', type: 'action', action: 'run', status: null, attempts: [] })];
    for (const ops of [calm, stormy, quiet]) {
      for (const op of ops) writer.write(op);
      await writer.flush(); // a chunk each
    }
    const facetsOf = async (op: LogOperation) => {
      const { rows } = await pool.query<{ facets: string[] }>('SELECT facets FROM log_chunks WHERE strpos(data, $1) > 0', [op.id]);
      return rows[0]?.facets.sort();
    };
    expect(await facetsOf(calm[0] as LogOperation)).toEqual(['state:success', 'status:200', 'type:proxy']);
    expect(await facetsOf(stormy[0] as LogOperation)).toEqual(['state:failed', 'state:success', 'status:201', 'status:503', 'type:proxy']);
    expect(await facetsOf(quiet[0] as LogOperation)).toEqual(['state:success', 'type:action']);

    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM log_chunks WHERE facets @> '{status:503,state:failed}'");
    expect(rows[0]?.n).toBe(1);
    expect(await store.logs.list({ integrationKey: 'facets', status: 503, limit: 10 })).toEqual([stormy[29]]);
    expect(await store.logs.list({ integrationKey: 'facets', state: 'failed', limit: 10 })).toEqual([stormy[29]]);
    expect(await store.logs.list({ integrationKey: 'facets', type: 'action', limit: 10 })).toEqual(quiet);
    expect(await store.logs.list({ integrationKey: 'facets', type: 'proxy', status: 200, limit: 100 })).toHaveLength(30);
  });

  it('finds a connection by its id alone, under whichever integrations it was logged', async () => {
    const ops = [
      operation({ integrationKey: 'alone-a', connectionId: 'shared-id' }),
      operation({ integrationKey: 'alone-b', connectionId: 'shared-id' }),
      operation({ integrationKey: 'alone-a', connectionId: 'other-id' }),
    ];
    for (const op of ops) {
      writer.write(op);
      await writer.flush(); // a chunk each
    }
    const newestFirst = (list: LogOperation[]) => [...list].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : -1));
    expect(await store.logs.list({ connectionId: 'shared-id', limit: 10 })).toEqual(newestFirst([ops[0], ops[1]] as LogOperation[]));
    expect(await store.logs.list({ connectionId: 'other-id', limit: 10 })).toEqual([ops[2]]);
    expect(await store.logs.list({ connectionId: 'nobody', limit: 10 })).toEqual([]);
    // The chunks come from the connection index, not from reading every chunk's text.
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM log_chunks WHERE connections && ARRAY(SELECT key || E'\\x1f' || 'shared-id' FROM log_integrations)",
    );
    expect(rows[0]?.n).toBe(2);
  });

  it('writes 20,000 operations in batches, none lost and none twice', async () => {
    const ops = Array.from({ length: 20_000 }, (_, i) => operation({ integrationKey: 'bulk', connectionId: `bulk-${i % 100}`, status: 200 + (i % 3) }));
    for (const op of ops) writer.write(op);
    await writer.flush();
    const stored = await store.logs.list({ integrationKey: 'bulk', limit: 30_000 });
    expect(stored).toHaveLength(20_000);
    expect(new Set(stored.map((op) => op.id))).toEqual(new Set(ops.map((op) => op.id)));
    expect(writer.dropped).toBe(0);
  });
  it('under steady traffic sends full batches, not a transaction per handful of rows', async () => {
    const batches: number[] = [];
    const counting = { ...store.logs, insertChunk: (chunk: LogChunk) => (batches.push(chunk.rows), store.logs.insertChunk(chunk)) };
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
      insertChunk: async (chunk: LogChunk) => {
        if (away) {
          refused.push(chunk.rows);
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        }
        await store.logs.insertChunk(chunk);
        written.push(chunk.rows);
      },
    };
    const patient = createLogWriter({ store: flaky, logger: pino({ level: 'silent' }), flushIntervalMs: 60_000, maxBatch: 100 });
    const ops = Array.from({ length: 250 }, () => operation({ integrationKey: 'patient' }));
    for (const op of ops) patient.write(op);
    await patient.flush();
    // Each try sends the oldest batch again, and stops at the first failure.
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused)).toEqual(new Set([100]));
    expect(written).toEqual([]);

    away = false;
    await patient.flush();
    expect(written).toEqual([100, 100, 50]);
    const stored = await store.logs.list({ integrationKey: 'patient', limit: 1000 });
    expect(stored.map((op) => op.id).sort()).toEqual(ops.map((op) => op.id).sort());
    expect(patient.dropped).toBe(0);
  });

  it('warns once while the database is away and once when it is back, not at every try', async () => {
    let away = true;
    const flaky = {
      ...store.logs,
      insertChunk: async (chunk: LogChunk) => {
        if (away) throw Object.assign(new Error('connect ECONNREFUSED /tmp/.s.PGSQL.5432'), { code: 'ECONNREFUSED', syscall: 'connect' });
        await store.logs.insertChunk(chunk);
      },
    };
    const lines: { level: number; msg: string; failures?: number }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const quiet = createLogWriter({ store: flaky, logger, flushIntervalMs: 60_000 });
    quiet.write(operation({ integrationKey: 'quiet' }));
    for (let i = 0; i < 5; i++) await quiet.flush();
    expect(lines.map((line) => line.msg)).toEqual(['writing log batches failed: the database is unreachable; retrying quietly until it is back']);

    away = false;
    await quiet.flush();
    expect(lines.slice(1)).toMatchObject([{ level: 30, msg: 'writing log batches works again', failures: 5 }]);
    expect(await store.logs.list({ integrationKey: 'quiet', limit: 10 })).toHaveLength(1);
  });

  it('past its bound drops the oldest rows, counts them and writes the newest', async () => {
    const down = { ...store.logs, insertChunk: async () => Promise.reject(Object.assign(new Error('gone'), { code: 'ECONNRESET' })) };
    const bounded = createLogWriter({ store: down, logger: pino({ level: 'silent' }), flushIntervalMs: 60_000, maxBatch: 10, maxQueue: 50 });
    const ops = Array.from({ length: 80 }, (_, i) => operation({ integrationKey: 'bounded', connectionId: `bounded-${i}` }));
    for (const op of ops) bounded.write(op);
    await bounded.flush();
    expect(bounded.dropped).toBe(30);

    // The same writer with the database back: what it kept is the newest 50.
    (down as { insertChunk: (chunk: LogChunk) => Promise<void> }).insertChunk = (chunk) => store.logs.insertChunk(chunk);
    await bounded.flush();
    const stored = await store.logs.list({ integrationKey: 'bounded', limit: 1000 });
    expect(stored.map((op) => op.connectionId).sort()).toEqual(ops.slice(30).map((op) => op.connectionId).sort());
  });
});
