// Takes back runs whose runner stopped beating (killed, frozen, cut off from the database):
// queued again while retries remain, else failed with `runner_lost`, and the waiting request
// told. Every process runs it (servers too, so a request is answered even when no runner is
// left); the claim is `FOR UPDATE SKIP LOCKED`, so several reapers share the work.
import type { FastifyBaseLogger } from 'fastify';
import { createOutageLog, toRunError, type RunError, type StaleRun, type Store } from '../store/index.js';
import type { JobQueue } from './boss.js';
import { ACTION_QUEUE, SYNC_QUEUE } from './names.js';
import { createSleepingLoop } from './sleeping-loop.js';
import type { Wake } from './wake.js';

// 30 s without a beat (runners beat every 5 s): the runner is gone, not slow.
const STALE_MS = 30_000;
// Between two looks the reaper sleeps until the first running run could turn stale (its last beat
// + STALE_MS; a run claimed later turns stale later still), at least this long: a run is taken
// back within 5 s of turning stale, and an idle Patchbay looks twice a minute, not twelve times.
const REAP_MS = 5000;

export const RUNNER_LOST: RunError = toRunError('runner_lost');

export interface ReaperOptions {
  store: Store;
  queue: JobQueue;
  wake: Wake;
  logger: FastifyBaseLogger;
  staleMs?: number | undefined;
  intervalMs?: number | undefined;
  /** A run the reaper failed (no retries left): its webhooks are sent like any failure's. */
  onFailed?: (run: StaleRun) => void;
}

/** Starts reaping; returns the function that stops it (once the look under way, if any, ended). */
export function startReaper(options: ReaperOptions): () => Promise<void> {
  const { store, queue, wake, logger } = options;
  const staleMs = options.staleMs ?? STALE_MS;
  const minSleepMs = Math.min(options.intervalMs ?? REAP_MS, staleMs);
  /** Takes back the stale runs; returns how long to sleep before the next look. */
  const reap = async (): Promise<number> => {
    for (const stale of await store.runs.reapStale(staleMs, RUNNER_LOST)) {
      logger.warn({ runId: stale.id, state: stale.state }, 'run taken back from a runner that stopped beating');
      if (stale.state === 'queued') {
        const name = stale.kind === 'sync' ? SYNC_QUEUE : ACTION_QUEUE;
        await queue.enqueue(name, stale.id);
        wake.jobQueued(name);
      } else {
        wake.runFinished({ id: stale.id, state: 'failed', outputJson: null, error: RUNNER_LOST });
        options.onFailed?.(stale);
      }
    }
    const nextMs = await store.runs.nextStaleInMs(staleMs);
    return Math.max(minSleepMs, Math.min(nextMs ?? staleMs, staleMs));
  };
  const loop = createSleepingLoop({ pass: reap, outage: createOutageLog(logger, 'reaping stale runs'), retryMs: minSleepMs });
  loop.start(minSleepMs);
  return () => loop.stop();
}
