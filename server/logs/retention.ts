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

export function startLogRetention(
  store: { logs: LogStore; runs: RunStore; records: RecordStore; connect: ConnectStore },
  retention: { logDays: number; recordPruneDays: number },
  logger: FastifyBaseLogger,
): () => void {
  const outage = createOutageLog(logger, 'the log retention sweep');
  const sweep = async () => {
    const cutoff = new Date(Date.now() - retention.logDays * 86_400_000);
    const pruneBefore = new Date(Date.now() - retention.recordPruneDays * 86_400_000);
    try {
      let deleted: number;
      do deleted = await store.logs.deleteOlderThan(cutoff, BATCH);
      while (deleted === BATCH);
      do deleted = await store.runs.deleteFinishedBefore(cutoff, BATCH);
      while (deleted === BATCH);
      do deleted = await store.records.prunePayloadsDeletedBefore(pruneBefore, BATCH);
      while (deleted === BATCH);
      // Connect sessions and OAuth flows are dead once expired: a day's grace for debugging.
      await store.connect.purgeExpired(new Date(Date.now() - 86_400_000));
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
