// pg-boss, wrapped to what Patchbay needs: enqueue a ticket, fetch tickets, complete them. Every
// pg-boss return value is checked (send() to a missing queue returns null instead of throwing, and
// fetch() swallows SQL errors), and pg-boss shares Patchbay's pool instead of opening its own.
import PgBoss from 'pg-boss';
import type { FastifyBaseLogger } from 'fastify';
import { createOutageLog, insertTogether, type Pool, type Statement } from '../store/index.js';
import { ACTION_QUEUE, SYNC_QUEUE, type QueueName, type RunJob } from './names.js';

// A ticket is held for milliseconds (fetched, its run claimed, completed), so 30 s without
// completion means the runner died in between: pg-boss expires it and hands it out again.
const TICKET_EXPIRE_SECONDS = 30;
// Re-issued tickets for one run are harmless (the claim is guarded), so retry them freely.
const TICKET_RETRY_LIMIT = 5;
// Expiry is checked during maintenance. A lost ticket is a crash's (a runner that died between
// fetch and claim), found again by the runners' minute poll once expired: maintenance every 30 s
// keeps that within two minutes, at a third of the queries of every 10 s.
const MAINTENANCE_INTERVAL_SECONDS = 30;

export interface FetchedTicket {
  jobId: string;
  runId: string;
}

export interface JobQueue {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Sends a ticket; `notify` goes out in the same statement (one round trip, after the insert),
   * and so does `alongside` (the run's own INSERT: run and ticket exist together or not at all).
   */
  enqueue(queue: QueueName, runId: string, options?: { startAfterSeconds?: number; notify?: { channel: string; payload: string }; alongside?: Statement }): Promise<void>;
  fetch(queue: QueueName, max: number): Promise<FetchedTicket[]>;
  complete(queue: QueueName, jobIds: string[]): Promise<void>;
  /** For each queue with tickets sent for later: how long until the first of them is due. */
  nextDueInMs(queues: readonly QueueName[]): Promise<Map<QueueName, number>>;
}

/**
 * `maintenance: false` leaves pg-boss's upkeep (expiring and archiving tickets) to another
 * JobQueue of the same process: `patchbay start`'s runner thread, whose server thread does it.
 */
export function createJobQueue(pool: Pool, logger: FastifyBaseLogger, options: { maintenance?: boolean } = {}): JobQueue {
  const boss = new PgBoss({
    db: { executeSql: (text: string, values?: unknown[]) => pool.query(text, values) },
    schema: 'pgboss',
    maintenanceIntervalSeconds: MAINTENANCE_INTERVAL_SECONDS,
    supervise: options.maintenance ?? true,
    // Patchbay keeps its own history in function_runs; finished tickets can go after a day.
    archiveCompletedAfterSeconds: 3600,
    deleteAfterDays: 1,
    // Sync schedules are Patchbay's own (server/queue/scheduler.ts): pg-boss's cron timers stay off.
    schedule: false,
  });
  // pg-boss reports its maintenance failures here, every 30 s while the database is away: one
  // line per outage, ended by the next maintenance that ran.
  const maintenance = createOutageLog(logger, 'pg-boss maintenance');
  boss.on('error', (error: Error) => maintenance.failed(error));
  boss.on('maintenance', () => maintenance.succeeded());
  let started: Promise<void> | undefined;

  const ensureQueue = async (name: QueueName) => {
    if ((await boss.getQueue(name)) !== null) return;
    try {
      await boss.createQueue(name, { name, retryLimit: TICKET_RETRY_LIMIT, retryDelay: 1, expireInSeconds: TICKET_EXPIRE_SECONDS });
    } catch (error) {
      // Another process created it between our check and our insert.
      if ((await boss.getQueue(name)) === null) throw error;
    }
  };

  return {
    start() {
      started ??= (async () => {
        await boss.start();
        await ensureQueue(ACTION_QUEUE);
        await ensureQueue(SYNC_QUEUE);
      })();
      return started;
    },
    async stop() {
      if (started === undefined) return;
      await started.catch(() => undefined);
      // Not graceful: Patchbay uses no pg-boss workers, and the pool is ours to close.
      await boss.stop({ graceful: false, close: false, wait: true });
    },
    async enqueue(queue, runId, options = {}) {
      const job: RunJob = { runId };
      const sendOptions: PgBoss.SendOptions = options.startAfterSeconds === undefined ? {} : { startAfter: options.startAfterSeconds };
      const { notify, alongside } = options;
      if (notify !== undefined || alongside !== undefined) sendOptions.db = { executeSql: (text: string, values: unknown[]) => insertTogether(pool, { text, values }, notify, alongside) };
      const id = await boss.send(queue, job, sendOptions);
      if (id === null) throw new Error(`pg-boss refused a job for queue ${queue}`);
    },
    async fetch(queue, max) {
      const jobs = await boss.fetch<RunJob>(queue, { batchSize: max });
      return (jobs ?? []).map((job) => ({ jobId: job.id, runId: job.data.runId }));
    },
    async complete(queue, jobIds) {
      if (jobIds.length > 0) await boss.complete(queue, jobIds);
    },
    async nextDueInMs(queues) {
      // pg-boss's own test for a ticket it may hand out (fetch: state < 'active'), due later. One
      // due now is for a pass to take, and must not hide the later ones.
      const { rows } = await pool.query<{ name: QueueName; ms: number }>(
        `SELECT name, (extract(epoch FROM min(start_after) - now()) * 1000)::float8 AS ms
         FROM pgboss.job WHERE name = ANY($1) AND state < 'active' AND start_after > now() GROUP BY name`,
        [queues],
      );
      return new Map(rows.map((row) => [row.name, Math.max(0, Number(row.ms))]));
    },
  };
}
