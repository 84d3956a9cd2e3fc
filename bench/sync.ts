// npm run bench:sync — what a sync's records cost end to end: a sync running in the sandbox
// `batchSave`s BENCH_RECORDS (100,000) records of about 500 bytes in chunks of BENCH_CHUNK (1,000),
// then every record is read back through `GET /records` in pages of BENCH_PAGE (1,000); beside
// it, in the same run and the same PostgreSQL, a plain multi-row INSERT of the same rows and a
// plain keyset SELECT of them, so the report can say what Patchbay adds.
//
// Phases, in one run:
//   baseline insert  the same rows (generated here by the same code as in the sandbox) into a
//                    scratch table `bench_plain (id text PRIMARY KEY, data jsonb)`, one
//                    `INSERT … VALUES ($1,$2),…` of BENCH_CHUNK rows per statement (autocommit)
//   write            POST /sync/trigger of `items`, until its function_runs row is final; the
//                    rate is records / that wall time. The run's own duration
//                    (function_runs.started_at → finished_at) and its queue wait are reported too
//   re-save          the same trigger again: every record arrives unchanged (nothing is written)
//   generate only    a control sync generating the same records without saving them: the
//                    sandbox's own share of the write (writePathOnly = write − this)
//   read             GET /records?model=Item&limit=BENCH_PAGE, following next_cursor until null;
//                    the count must be exactly BENCH_RECORDS, ids unique, every record's data
//                    equal to what the generator made
//   baseline select  `SELECT id, data FROM bench_plain WHERE id > $1 ORDER BY id LIMIT n` pages
// A CHECKPOINT precedes each write phase so no phase pays for the previous one's dirty pages.
//
// Why generate the records inside the sandbox rather than page them from a loopback upstream:
// the issue asks for Patchbay's write path (isolate → model validation → host copy → SQL upsert),
// and an upstream in the loop would add the proxy engine and an HTTP server's cost per page to
// it (bench:proxy and bench:actions measure those). The generator is plain JS shared verbatim by
// the sync's source and this process, so the baseline inserts byte-identical rows.
//
// How the bench sees the run: Patchbay's embedded PostgreSQL picks its port at start; the port
// (postmaster.pid) and password (secrets.json) are read from Patchbay's data dir
// (lib/database.ts), and function_runs is polled directly every BENCH_POLL_MS (10 ms).
//
// CPU per record: the Patchbay process (server + runner + isolates), its PostgreSQL (descendant
// processes, this bench's own backends included) and this process, from /proc.
// It prints one JSON object (also written to bench/results/sync-<timestamp>.json) with the
// issue's targets under `targets`, and exits 1 on a failed run, a non-2xx or a wrong read-back.
// BENCH_PROFILE=1 profiles the Patchbay process (see lib/session.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { Agent, request } from 'undici';
import { embeddedDatabaseUrl } from './lib/database.js';
import { percentile, round } from './lib/load.js';
import { cpuPer, cpuSnapshot, rssMb, type CpuSnapshot } from './lib/measure.js';
import { addApiKeyConnection, api, BenchSession, machineInfo, positiveNumber, PROFILE, PROFILE_DIR, ROOT, type Patchbay } from './lib/session.js';

/** The issue's numbers. */
const TARGET_RECORDS = 100_000;
const RECORDS = Math.round(positiveNumber('BENCH_RECORDS', TARGET_RECORDS));
const CHUNK = Math.min(10_000, Math.round(positiveNumber('BENCH_CHUNK', 1000)));
const PAGE = Math.min(10_000, Math.round(positiveNumber('BENCH_PAGE', 1000)));
const POLL_MS = positiveNumber('BENCH_POLL_MS', 10);
/** Longest wait for one sync run; the run's own wall limit is 1 h. */
const RUN_WAIT_MS = positiveNumber('BENCH_RUN_WAIT_S', 1200) * 1000;
const INTEGRATION = 'bench';
const CONNECTION_ID = 'c1';
const SYNC = 'items';
/** The same sync without batchSave: what generating the records costs in the sandbox. */
const CONTROL_SYNC = 'items-generate';
const MODEL = 'Item';
const SCRATCH_TABLE = 'bench_plain';

const TARGETS = {
  writeRecordsPerS: { target: '>= 20,000', ok: (v: number) => v >= 20_000 },
  readRecordsPerS: { target: '>= 50,000', ok: (v: number) => v >= 50_000 },
} as const;

const session = new BenchSession('sync');
const log = (message: string) => session.log(message);

// ---------------------------------------------------------------- records

// The body of `makeItem(i)`, plain JS that is also valid TypeScript given `i: number`: the sync's
// source wraps it in a typed function, this process in `new Function('i', …)`. Deterministic in
// `i`, so a second run saves identical records. About 500 bytes of JSON per record.
const MAKE_ITEM_BODY = `
  const n = String(i).padStart(7, '0');
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike'];
  let description = '';
  for (let k = 0; description.length < 220; k++) description += (k === 0 ? '' : ' ') + words[(i * 7 + k * 3) % words.length];
  return {
    id: 'item-' + n,
    name: 'Item number ' + n,
    email: 'user' + n + '@example.com',
    status: i % 3 === 0 ? 'archived' : 'active',
    amount: ((i * 7919) % 1000000) / 100,
    quantity: (i * 31) % 500,
    tags: ['tag-' + (i % 17), 'group-' + (i % 31), 'region-' + (i % 5)],
    owner: { id: 'user-' + (i % 1000), name: 'Owner ' + (i % 1000) },
    createdAt: new Date(Date.UTC(2024, 0, 1) + i * 60000).toISOString(),
    description,
  };
`;

type Item = Record<string, unknown> & { id: string };
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const makeItem = new Function('i', MAKE_ITEM_BODY) as (i: number) => Item;

function syncSource(total: number, chunk: number, save: boolean): string {
  return `import { createSync } from 'patchbay';
import * as z from 'zod';

const ${MODEL} = z.object({
  id: z.string(),
  name: z.string(),
  email: z.string(),
  status: z.enum(['active', 'archived']),
  amount: z.number(),
  quantity: z.number().int(),
  tags: z.array(z.string()),
  owner: z.object({ id: z.string(), name: z.string() }),
  createdAt: z.string(),
  description: z.string(),
});

function makeItem(i: number): z.infer<typeof ${MODEL}> {${MAKE_ITEM_BODY}}

export default createSync({
  description: 'bench: ${total} generated records of ~500 bytes, ${save ? `batchSave in chunks of ${chunk}` : 'generated only, never saved (control)'}',
  frequency: 'every day',
  autoStart: false,
  models: { ${MODEL} },
  exec: async (nango) => {
    for (let start = 0; start < ${total}; start += ${chunk}) {
      const end = Math.min(${total}, start + ${chunk});
      const batch = [];
      for (let i = start; i < end; i++) batch.push(makeItem(i));
      ${save ? `await nango.batchSave(batch, '${MODEL}');` : `if (batch.length !== end - start) throw new Error('lost records');`}
    }
  },
});
`;
}

/** The JSON text of a value with object keys sorted (jsonb reorders keys). */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

// ---------------------------------------------------------------- measurement

/** CPU µs per record of each process (null without /proc). */
function cpuPerRecord(before: CpuSnapshot, after: CpuSnapshot, count: number) {
  const { patchbay, postgres, here } = cpuPer(before, after, count, 2);
  return { patchbay, postgres, bench: here };
}

function latencies(ms: number[]) {
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50), 2), p90: round(percentile(sorted, 90), 2), p99: round(percentile(sorted, 99), 2), max: round(sorted.at(-1) ?? Number.NaN, 2) };
}

const rate = (records: number, ms: number) => round(records / (ms / 1000), 0);

// ---------------------------------------------------------------- the sync run

interface RunRow {
  id: string;
  state: string;
  output: { models?: Record<string, { added: number; updated: number; deleted: number }> } | null;
  error: unknown;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const FINAL_STATES = new Set(['succeeded', 'failed', 'interrupted']);

async function latestRun(db: pg.Client, sync: string): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `SELECT id, state, output, error, created_at, started_at, finished_at FROM function_runs
     WHERE kind = 'sync' AND integration_key = $1 AND connection_id = $2 AND function_name = $3
     ORDER BY created_at DESC LIMIT 1`,
    [INTEGRATION, CONNECTION_ID, sync],
  );
  return rows[0];
}

async function checkpoint(db: pg.Client): Promise<void> {
  await db.query('CHECKPOINT');
}

/** One sync run, from the trigger until its function_runs row is final. */
async function syncRun(
  patchbay: Patchbay,
  db: pg.Client,
  label: string,
  sync: string,
  /** The run's counts for MODEL, or null for a run that saves nothing (no entry at all). */
  expected: { added: number; updated: number; deleted: number } | null,
) {
  const previous = await latestRun(db, sync);
  await checkpoint(db);
  log(`${label}: POST /sync/trigger ${sync} (${RECORDS} records in chunks of ${CHUNK})`);
  const before = cpuSnapshot(patchbay.child.pid);
  const started = performance.now();
  await api(patchbay, 'POST', '/sync/trigger', { syncs: [sync], provider_config_key: INTEGRATION, connection_id: CONNECTION_ID });
  let run: RunRow | undefined;
  let polls = 0;
  let lastProgress = started;
  while (true) {
    run = await latestRun(db, sync);
    polls++;
    if (run !== undefined && run.id !== previous?.id && FINAL_STATES.has(run.state)) break;
    const now = performance.now();
    if (now - started > RUN_WAIT_MS) throw new Error(`${label}: the sync run is not final after ${RUN_WAIT_MS / 1000} s (${run?.state ?? 'no run'})`);
    if (now - lastProgress > 10_000) {
      lastProgress = now;
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM records WHERE integration_key = $1 AND connection_id = $2 AND model = $3', [INTEGRATION, CONNECTION_ID, MODEL]);
      log(`${label}: ${run?.state ?? 'no run yet'} after ${round((now - started) / 1000, 1)} s, ${rows[0]?.n} records stored`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const wallMs = performance.now() - started;
  const after = cpuSnapshot(patchbay.child.pid);
  if (run.state !== 'succeeded') throw new Error(`${label}: the sync run ended ${run.state}: ${JSON.stringify(run.error)}`);
  const counted = run.output?.models?.[MODEL] ?? null;
  if (JSON.stringify(counted && { added: counted.added, updated: counted.updated, deleted: counted.deleted }) !== JSON.stringify(expected)) {
    throw new Error(`${label}: the run counted ${JSON.stringify(run.output)}, expected ${MODEL}: ${JSON.stringify(expected)}`);
  }
  const runMs = run.started_at !== null && run.finished_at !== null ? run.finished_at.getTime() - run.started_at.getTime() : null;
  const result = {
    records: RECORDS,
    wallMs: round(wallMs, 1),
    recordsPerS: rate(RECORDS, wallMs),
    runDurationMs: runMs,
    runRecordsPerS: runMs === null || runMs === 0 ? null : rate(RECORDS, runMs),
    queueWaitMs: run.started_at === null ? null : run.started_at.getTime() - run.created_at.getTime(),
    counted,
    cpuUsPerRecord: cpuPerRecord(before, after, RECORDS),
    patchbayRssMbAfter: rssMb(patchbay.child.pid),
    polls,
  };
  log(
    `${label}: ${result.recordsPerS} records/s (${result.wallMs} ms trigger → final; run ${runMs} ms, queued ${result.queueWaitMs} ms); ` +
      `counted ${JSON.stringify(counted)}; CPU µs/record ${JSON.stringify(result.cpuUsPerRecord)}; Patchbay RSS ${result.patchbayRssMbAfter?.rss} MB`,
  );
  return result;
}

// ---------------------------------------------------------------- reading back

interface WireRecord extends Record<string, unknown> {
  id: string;
  _nango_metadata: { cursor: string; last_action: string };
}

async function readAll(patchbay: Patchbay) {
  const dispatcher = new Agent({ connections: 1 });
  const headers = { authorization: `Bearer ${patchbay.secretKey}`, 'provider-config-key': INTEGRATION, 'connection-id': CONNECTION_ID };
  const records: WireRecord[] = [];
  const pageMs: number[] = [];
  let bytes = 0;
  let parseMs = 0;
  let cursor: string | null = null;
  const before = cpuSnapshot(patchbay.child.pid);
  const started = performance.now();
  try {
    do {
      const pageStarted = performance.now();
      const query = `model=${MODEL}&limit=${PAGE}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const response = await request(`${patchbay.url}/records?${query}`, { headers, dispatcher });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`GET /records?${query} answered ${response.statusCode}: ${text.slice(0, 500)}`);
      const parseStarted = performance.now();
      const page = JSON.parse(text) as { records: WireRecord[]; next_cursor: string | null };
      const now = performance.now();
      parseMs += now - parseStarted;
      pageMs.push(now - pageStarted);
      bytes += Buffer.byteLength(text);
      for (const record of page.records) records.push(record);
      cursor = page.next_cursor;
      if (records.length > RECORDS * 2) throw new Error(`GET /records returned more than ${RECORDS * 2} records; next_cursor never ends`);
    } while (cursor !== null);
  } finally {
    await dispatcher.close();
  }
  const wallMs = performance.now() - started;
  const after = cpuSnapshot(patchbay.child.pid);
  return { records, wallMs, pageMs, bytes, parseMs, cpu: cpuPerRecord(before, after, Math.max(1, records.length)) };
}

/** Exactly RECORDS records, unique ids, each equal to what the generator made for its id. */
function verify(records: WireRecord[]): { unique: number; mismatched: number } {
  if (records.length !== RECORDS) throw new Error(`GET /records returned ${records.length} records, expected ${RECORDS}`);
  const ids = new Set<string>();
  let mismatched = 0;
  let firstMismatch: string | undefined;
  for (const record of records) {
    if (ids.has(record.id)) throw new Error(`GET /records returned id ${record.id} twice`);
    ids.add(record.id);
    const index = Number(record.id.slice('item-'.length));
    const { _nango_metadata: _metadata, ...data } = record;
    if (!Number.isInteger(index) || canonical(data) !== canonical(makeItem(index))) {
      mismatched++;
      firstMismatch ??= `${canonical(data)} vs ${Number.isInteger(index) ? canonical(makeItem(index)) : '(no such id)'}`;
    }
  }
  if (mismatched > 0) throw new Error(`${mismatched} records differ from what the sync saved, e.g. ${firstMismatch}`);
  return { unique: ids.size, mismatched };
}

// ---------------------------------------------------------------- baselines

async function plainInsert(db: pg.Client, pid: number, items: Item[]) {
  await db.query(`DROP TABLE IF EXISTS ${SCRATCH_TABLE}`);
  await db.query(`CREATE TABLE ${SCRATCH_TABLE} (id text PRIMARY KEY, data jsonb NOT NULL)`);
  await checkpoint(db);
  log(`baseline insert: ${items.length} rows into ${SCRATCH_TABLE}, ${CHUNK} per INSERT`);
  const statementMs: number[] = [];
  const before = cpuSnapshot(pid);
  const started = performance.now();
  for (let start = 0; start < items.length; start += CHUNK) {
    const batch = items.slice(start, start + CHUNK);
    const values: string[] = [];
    const params: string[] = [];
    for (const item of batch) {
      values.push(`($${params.length + 1}, $${params.length + 2})`);
      params.push(item.id, JSON.stringify(item));
    }
    const statementStarted = performance.now();
    await db.query(`INSERT INTO ${SCRATCH_TABLE} (id, data) VALUES ${values.join(', ')}`, params);
    statementMs.push(performance.now() - statementStarted);
  }
  const wallMs = performance.now() - started;
  const after = cpuSnapshot(pid);
  const result = {
    rows: items.length,
    wallMs: round(wallMs, 1),
    recordsPerS: rate(items.length, wallMs),
    statementMs: latencies(statementMs),
    cpuUsPerRecord: cpuPerRecord(before, after, items.length),
  };
  log(`baseline insert: ${result.recordsPerS} rows/s (${result.wallMs} ms); CPU µs/row ${JSON.stringify(result.cpuUsPerRecord)}`);
  return result;
}

async function plainSelect(db: pg.Client, pid: number) {
  log(`baseline select: ${SCRATCH_TABLE} in pages of ${PAGE}`);
  let rows = 0;
  let last = '';
  const before = cpuSnapshot(pid);
  const started = performance.now();
  while (true) {
    const page = await db.query<{ id: string; data: Record<string, unknown> }>(`SELECT id, data FROM ${SCRATCH_TABLE} WHERE id > $1 ORDER BY id LIMIT ${PAGE}`, [last]);
    rows += page.rows.length;
    if (page.rows.length < PAGE) break;
    last = page.rows.at(-1)?.id as string;
  }
  const wallMs = performance.now() - started;
  const after = cpuSnapshot(pid);
  if (rows !== RECORDS) throw new Error(`baseline select read ${rows} rows, expected ${RECORDS}`);
  const result = { rows, wallMs: round(wallMs, 1), recordsPerS: rate(rows, wallMs), cpuUsPerRecord: cpuPerRecord(before, after, rows) };
  log(`baseline select: ${result.recordsPerS} rows/s (${result.wallMs} ms)`);
  return result;
}

function target(name: keyof typeof TARGETS, measured: number | null) {
  const ok = measured !== null && TARGETS[name].ok(measured);
  return { target: TARGETS[name].target, measured, ok, flag: ok ? '✔' : '✘' };
}

// ---------------------------------------------------------------- main

async function main() {
  const items = Array.from({ length: RECORDS }, (_, i) => makeItem(i));
  const recordBytes = items.reduce((sum, item) => sum + Buffer.byteLength(JSON.stringify(item)), 0) / RECORDS;
  log(`${RECORDS} records of ${round(recordBytes, 1)} bytes of JSON on average`);

  const functionsDir = await session.tempDir('patchbay-bench-functions-');
  const syncs = path.join(functionsDir, INTEGRATION, 'syncs');
  await mkdir(syncs, { recursive: true });
  await writeFile(path.join(syncs, `${SYNC}.ts`), syncSource(RECORDS, CHUNK, true));
  await writeFile(path.join(syncs, `${CONTROL_SYNC}.ts`), syncSource(RECORDS, CHUNK, false));

  log(`starting Patchbay (embedded PostgreSQL)${PROFILE ? ' with --cpu-prof' : ''}`);
  const patchbay = await session.startPatchbay({
    // No upstream: the sync generates its records. The provider only has to exist.
    providers: { [INTEGRATION]: { auth_mode: 'API_KEY', proxy: { base_url: 'http://127.0.0.1:9', headers: { authorization: 'Bearer ${apiKey}' } } } },
    env: { PATCHBAY_FUNCTIONS_DIR: functionsDir },
  });
  const pid = patchbay.child.pid;
  log(`Patchbay ${patchbay.url} (pid ${pid}, RSS ${rssMb(pid)?.rss ?? '?'} MB)`);
  await addApiKeyConnection(patchbay, INTEGRATION, CONNECTION_ID, 'k-1');

  const db = new pg.Client({ connectionString: await embeddedDatabaseUrl(patchbay.dataDir), application_name: 'bench:sync' });
  await db.connect();
  session.onCleanup(() => db.end());
  const { rows: versionRows } = await db.query<{ server_version: string; synchronous_commit: string; fsync: string }>(
    `SELECT current_setting('server_version') AS server_version, current_setting('synchronous_commit') AS synchronous_commit, current_setting('fsync') AS fsync`,
  );

  // ---- writes: the baseline first, then Patchbay, each after a CHECKPOINT
  const insert = await plainInsert(db, pid, items);
  const write = await syncRun(patchbay, db, 'write', SYNC, { added: RECORDS, updated: 0, deleted: 0 });
  const resave = await syncRun(patchbay, db, 're-save', SYNC, { added: 0, updated: 0, deleted: 0 });
  // The sandbox's own share: the same records generated, nothing saved.
  const generateOnly = await syncRun(patchbay, db, 'generate only', CONTROL_SYNC, null);

  // ---- reads
  log(`read: GET /records?model=${MODEL}&limit=${PAGE} until next_cursor is null`);
  const read = await readAll(patchbay);
  const readResult = {
    records: read.records.length,
    pages: read.pageMs.length,
    wallMs: round(read.wallMs, 1),
    recordsPerS: rate(read.records.length, read.wallMs),
    pageMs: latencies(read.pageMs),
    bytesPerRecord: round(read.bytes / Math.max(1, read.records.length), 1),
    MBPerS: round(read.bytes / 2 ** 20 / (read.wallMs / 1000), 1),
    clientJsonParseMs: round(read.parseMs, 1),
    recordsPerSWithoutClientParse: rate(read.records.length, read.wallMs - read.parseMs),
    cpuUsPerRecord: read.cpu,
  };
  log(
    `read: ${readResult.recordsPerS} records/s (${readResult.wallMs} ms, ${readResult.pages} pages, page p50 ${readResult.pageMs.p50} ms, ` +
      `p99 ${readResult.pageMs.p99} ms; ${readResult.MBPerS} MB/s); CPU µs/record ${JSON.stringify(read.cpu)}`,
  );
  const verified = verify(read.records);
  log(`read: ${verified.unique} unique ids, every record equal to what the sync saved`);
  const select = await plainSelect(db, pid);
  const { rows: sizeRows } = await db.query<{ records: string; plain: string }>(
    `SELECT pg_total_relation_size('records') AS records, pg_total_relation_size('${SCRATCH_TABLE}') AS plain`,
  );
  await db.query(`DROP TABLE IF EXISTS ${SCRATCH_TABLE}`);

  const targets = {
    writeRecordsPerS: target('writeRecordsPerS', write.recordsPerS),
    readRecordsPerS: target('readRecordsPerS', readResult.recordsPerS),
  };
  for (const [name, t] of Object.entries(targets)) log(`${t.flag} ${name}: ${t.measured} (target ${t.target})`);
  // The write minus the sandbox generating the records: what batchSave costs (validation, copy
  // out of the isolate, the store's SQL), serially, since the sync awaits each batchSave.
  const writePathMs = write.wallMs - generateOnly.wallMs;
  const writePathOnly = { wallMs: round(writePathMs, 1), recordsPerS: writePathMs > 0 ? rate(RECORDS, writePathMs) : null };
  log(`write path alone (write − generate only): ${writePathOnly.recordsPerS} records/s (${writePathOnly.wallMs} ms)`);
  const ratios = {
    writeRatio: round(write.recordsPerS / insert.recordsPerS, 3),
    writeRatioRunDuration: write.runRecordsPerS === null ? null : round(write.runRecordsPerS / insert.recordsPerS, 3),
    resaveRatio: round(resave.recordsPerS / insert.recordsPerS, 3),
    readRatio: round(readResult.recordsPerS / select.recordsPerS, 3),
  };
  log(`ratios (Patchbay / plain PostgreSQL): ${JSON.stringify(ratios)}`);

  return {
    name: 'sync',
    date: new Date().toISOString(),
    machine: machineInfo(),
    settings: {
      records: RECORDS,
      chunk: CHUNK,
      page: PAGE,
      recordBytes: round(recordBytes, 1),
      source: 'records generated inside the sandbox (deterministic makeItem(i)), validated by a zod model, batchSave per chunk; no upstream in the loop',
      postgres: { version: versionRows[0]?.server_version, synchronousCommit: versionRows[0]?.synchronous_commit, fsync: versionRows[0]?.fsync },
      write: 'records / wall time from POST /sync/trigger to the function_runs row being final (polled every BENCH_POLL_MS ms)',
      runDuration: 'function_runs.finished_at - started_at',
      read: `GET /records?model=${MODEL}&limit=${PAGE}, sequential pages over one keep-alive connection, JSON parsed by the client (its parse time reported apart)`,
      baselineInsert: `INSERT INTO ${SCRATCH_TABLE} (id text PRIMARY KEY, data jsonb) VALUES ($1,$2),… — ${CHUNK} rows per statement, autocommit, from this process via pg`,
      baselineSelect: `SELECT id, data FROM ${SCRATCH_TABLE} WHERE id > $1 ORDER BY id LIMIT ${PAGE}, via pg (jsonb parsed)`,
      processes: 'Patchbay (`patchbay start`: server and runner in one process, embedded PostgreSQL as its child); this process runs the baselines and the reads',
      cpuUsPerRecord: 'CPU µs per record of the Patchbay process, of its PostgreSQL (descendant processes, this bench\'s backends included) and of this process, from /proc',
      patchbayCpuProfile: PROFILE ? path.relative(ROOT, PROFILE_DIR) : null,
    },
    baseline: { insert, select },
    write,
    resave,
    generateOnly,
    writePathOnly,
    read: { ...readResult, verified },
    storageBytes: { records: Number(sizeRows[0]?.records), plain: Number(sizeRows[0]?.plain) },
    ratios,
    targets,
    pass: Object.values(targets).every((t) => t.ok),
  };
}

await session.run(main);
