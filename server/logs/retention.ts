// Deletes log operations and finished function runs older than the retention period, and prunes
// the payloads of records deleted long ago, in small batches so the sweep never
// holds long locks or competes with the writer. Runs hourly in every server process; the work
// is idempotent, so several processes sweeping at once only share it.
import type { FastifyBaseLogger } from 'fastify';
import { createOutageLog } from '../store/index.js';
import type { LogStore } from '../store/logs.js';
import type { RecordStore } from '../store/records.js';
import type { RunStore } from '../store/runs.js';
import type { ConnectStore } from '../store/connect.js';

const SWEEP_INTERVAL_MS = 60 * 60_000;
const BATCH = 5000;
const DAY_MS = 86_400_000;

export type RetentionStore = { logs: LogStore; runs: RunStore; records: RecordStore; connect: ConnectStore };

export interface Retention {
  /** Log operations and finished runs older than this many days go. */
  logDays: number;
  /** Records deleted this many days ago lose their payload. */
  recordPruneDays: number;
}

/** One sweep, batch after batch until nothing past the cutoffs is left; rejects when the database fails. */
export async function sweepRetention(store: RetentionStore, retention: Retention, now: () => number = Date.now): Promise<void> {
  const cutoff = new Date(now() - retention.logDays * DAY_MS);
  const pruneBefore = new Date(now() - retention.recordPruneDays * DAY_MS);
  let deleted: number;
  do deleted = await store.logs.deleteOlderThan(cutoff, BATCH);
  while (deleted === BATCH);
  do deleted = await store.runs.deleteFinishedBefore(cutoff, BATCH);
  while (deleted === BATCH);
  do deleted = await store.records.prunePayloadsDeletedBefore(pruneBefore, BATCH);
  while (deleted === BATCH);
  // Connect sessions and OAuth flows are dead once expired: a day's grace for debugging.
  await store.connect.purgeExpired(new Date(now() - DAY_MS));
}

/** Sweeps at once, then every hour, until the returned function is called. `now`: the clock the cutoffs are counted from. */
export function startLogRetention(
  store: RetentionStore,
  retention: Retention,
  logger: FastifyBaseLogger,
  options: { now?: () => number } = {},
): () => void {
  const outage = createOutageLog(logger, 'the log retention sweep');
  const sweep = async () => {
    try {
      await sweepRetention(store, retention, options.now);
      outage.succeeded();
    } catch (error) {
      outage.failed(error);
    }
  };
  const timer = setInterval(() => void sweep(), SWEEP_INTERVAL_MS);
  timer.unref();
  void sweep();
  return () => clearInterval(timer);
}
