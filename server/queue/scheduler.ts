// Runs syncs on their schedules: due schedules are taken (SKIP LOCKED, so every process can run
// this) and a sync run is queued for each (none when one is already queued). Between looks the
// scheduler sleeps until the next schedule is due; a change to the schedules wakes it at once, in
// whatever process it was made (wake.schedulesChanged: a NOTIFY). Schedules follow deploys and
// connections through `reconcile`, run when either changes and every minute as a catch-up.
import type { FastifyBaseLogger } from 'fastify';
import { createOutageLog, type Store } from '../store/index.js';
import type { JobQueue } from './boss.js';
import { createSleepingLoop } from './sleeping-loop.js';
import { queueSyncRun } from './sync-runs.js';
import type { Wake } from './wake.js';

const RECONCILE_MS = 60_000;
// The longest sleep: the catch-up's period. It also bounds how late a schedule changed without a
// notification (by hand, in SQL, without NOTIFY patchbay_schedules) is seen.
const MAX_SLEEP_MS = RECONCILE_MS;
// While the database is away, a look is tried again this often (one log line per outage).
const RETRY_MS = 1000;
// A schedule is taken once the database's clock says it is due; the timer waits this much more.
const DUE_MARGIN_MS = 5;
// Schedules taken per look: a backlog (after downtime) drains over a few looks.
const MAX_DUE_PER_TICK = 200;
// Changes arrive in bursts (a deploy, a batch of imported connections): one reconcile for them.
const RECONCILE_DEBOUNCE_MS = 100;

export interface SchedulerOptions {
  store: Store;
  queue: JobQueue;
  wake: Wake;
  logger: FastifyBaseLogger;
}

export interface Scheduler {
  /** Asks for a reconcile soon (after a deploy or a connection change). */
  changed(): void;
  stop(): Promise<void>;
}

export function startScheduler(options: SchedulerOptions): Scheduler {
  const { store, logger } = options;
  let debounce: NodeJS.Timeout | undefined;
  // Asked for by a deploy or a connection change: the next pass reconciles before it looks.
  let reconcileNext = true;
  const reconciling = createOutageLog(logger, 'reconciling sync schedules');

  /** Queues the due runs (reconciling first when asked); returns how long to sleep before the next pass. */
  const pass = async (): Promise<number> => {
    if (reconcileNext) {
      reconcileNext = false;
      // A reconcile that fails is asked for again, and due schedules still run meanwhile.
      try {
        await store.schedules.reconcile();
        reconciling.succeeded();
      } catch (error) {
        reconcileNext = true;
        reconciling.failed(error);
      }
    }
    // A sync with a run still waiting gets no second one: that run covers this turn too.
    const due = await store.schedules.takeDue(MAX_DUE_PER_TICK);
    for (const sync of due) await queueSyncRun(options, sync);
    if (due.length === MAX_DUE_PER_TICK) return 0;
    const nextMs = await store.schedules.nextDueInMs();
    return nextMs === null ? MAX_SLEEP_MS : Math.min(Math.ceil(nextMs) + DUE_MARGIN_MS, MAX_SLEEP_MS);
  };
  // Each pass would warn while the database is away: one line per outage instead.
  const loop = createSleepingLoop({ pass, outage: createOutageLog(logger, 'starting scheduled syncs'), retryMs: RETRY_MS });
  const reconcile = () => {
    reconcileNext = true;
    loop.wake();
  };

  options.wake.onSchedulesChanged(loop.wake);
  const catchUp = setInterval(reconcile, RECONCILE_MS);
  catchUp.unref();
  loop.start();

  return {
    changed() {
      if (debounce !== undefined) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = undefined;
        reconcile();
      }, RECONCILE_DEBOUNCE_MS);
      debounce.unref();
    },
    async stop() {
      clearInterval(catchUp);
      if (debounce !== undefined) clearTimeout(debounce);
      await loop.stop();
    },
  };
}
