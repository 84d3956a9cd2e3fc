// node --no-node-snapshot --import tsx bench/log-search.ts — GET /logs' store read alone, over the
// operations bench:dashboard seeds (100,000 proxy calls over a day, five integrations, every tenth
// failed and all failures github's), on an embedded PostgreSQL of its own: the time of a first
// page per filter, and for a search that matches nothing, how far each answer searched and how
// many answers it takes to reach the end. Prints one JSON object.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startEmbeddedPostgres } from '../bin/embedded-postgres.js';
import { createLogWriter } from '../server/logs/writer.js';
import { createPool, migrate } from '../server/store/index.js';
import { LOG_SEARCH_SCAN_ROWS } from '../server/routes/logs.js';
import { createLogStore, type LogFilter, type LogSearchResult } from '../server/store/logs.js';
import { round } from './lib/load.js';
import { positiveNumber } from './lib/session.js';
import { syntheticCall } from '../test/harness/log-operations.js';

const OPERATIONS = Math.round(positiveNumber('BENCH_LOG_OPERATIONS', 100_000));
const REPEATS = Math.round(positiveNumber('BENCH_LOG_REPEATS', 15));
const INTEGRATIONS = ['github', 'slack', 'notion', 'stripe', 'hubspot'];
const SPAN_MS = 24 * 3600_000;
// BENCH_LOG_SCAN_ROWS=Infinity reads as the store did before searches had a budget.
const SCAN_ROWS = process.env.BENCH_LOG_SCAN_ROWS === 'Infinity' ? Number.POSITIVE_INFINITY : Math.round(positiveNumber('BENCH_LOG_SCAN_ROWS', LOG_SEARCH_SCAN_ROWS));

const dir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-log-search-'));
await chmod(dir, 0o755);
const database = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), password: 'bench', fast: true });
const pool = createPool({ connectionString: database.url });
try {
  await migrate(pool);
  const store = createLogStore(pool);
  const writer = createLogWriter({ store, logger: pino({ level: 'warn' }) });
  writer.start();
  const start = Date.now() - SPAN_MS;
  for (let i = 0; i < OPERATIONS; i++) {
    const startedAt = new Date(start + Math.floor((i / OPERATIONS) * SPAN_MS));
    const failed = i % 10 === 0;
    const integrationKey = INTEGRATIONS[i % INTEGRATIONS.length] as string;
    writer.write(syntheticCall({ integrationKey, connectionId: `user-${i % 500}`, n: i, failed, startedAt, durationMs: 42 }));
    if (i % 5000 === 4999) await writer.flush();
  }
  await writer.flush();
  await writer.stop();
  await pool.query('VACUUM ANALYZE log_chunks');

  const filters: Record<string, Omit<LogFilter, 'limit'>> = {
    newest: {},
    integrationFailed: { integrationKey: 'github', state: 'failed' },
    noMatch: { integrationKey: 'notion', state: 'failed' },
    noMatchConnection: { connectionId: 'user-3', state: 'failed' },
    noMatchStatus: { integrationKey: 'slack', status: 503 },
  };
  const results: Record<string, unknown> = {};
  for (const [name, filter] of Object.entries(filters)) {
    const times: number[] = [];
    let page: LogSearchResult | undefined;
    for (let i = 0; i < REPEATS; i++) {
      const started = performance.now();
      page = await store.search({ ...filter, limit: 51 }, { scanRows: SCAN_ROWS });
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    // Following the answers to the end, as a user pressing "continue" would.
    let answers = 1;
    let totalMs = 0;
    let next = page as LogSearchResult;
    while (next.resumeAt !== null && answers < 1000) {
      const started = performance.now();
      next = await store.search({ ...filter, before: next.resumeAt, limit: 51 }, { scanRows: SCAN_ROWS });
      totalMs += performance.now() - started;
      answers++;
    }
    results[name] = {
      rows: page?.operations.length,
      p50Ms: round(times[Math.floor(times.length / 2)] as number, 1),
      maxMs: round(times.at(-1) as number, 1),
      searchedTo: page?.resumeAt?.startedAt.toISOString() ?? null,
      answersToTheEnd: answers,
      continuingMs: round(totalMs, 1),
    };
    process.stderr.write(`${name}: ${JSON.stringify(results[name])}\n`);
  }
  process.stdout.write(`${JSON.stringify({ operations: OPERATIONS, scanRows: SCAN_ROWS, loadavg: os.loadavg().map((l) => round(l, 2)), results }, null, 2)}\n`);
} finally {
  await pool.end();
  await database.stop();
  await rm(dir, { recursive: true, force: true });
}
