// Runs syncs on their schedules: due schedules are taken (SKIP LOCKED, so every process can run
// this) and a sync run is queued for each (none when one is already queued). Between looks the
// scheduler sleeps until the next schedule is due; a change to the schedules wakes it at once, in
// whatever process it was made (wake.schedulesChanged: a NOTIFY). Schedules follow deploys and
// connections through `reconcile`, run when either changes and every minute as a catch-up.
import type { FastifyBaseLogger } from 'fastify';
import { createOutageLog, type Store } from '../store/index.js';
import type { JobQueue } from './boss.js';
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
  let busy: Promise<void> | undefined;
  // Asked for while another was running: done after it (a reconcile covers a look too).
  let pending: 'look' | 'reconcile' | undefined;
  let stopped = false;
  let debounce: NodeJS.Timeout | undefined;
  let sleeping: NodeJS.Timeout | undefined;

  /** Queues the due runs; returns how long to sleep before the next look. */
  const queueRuns = async (): Promise<number> => {
    // A sync with a run still waiting gets no second one: that run covers this turn too.
    const due = await store.schedules.takeDue(MAX_DUE_PER_TICK);
    for (const sync of due) await queueSyncRun(options, sync);
    if (due.length === MAX_DUE_PER_TICK) return 0;
    const nextMs = await store.schedules.nextDueInMs();
    return nextMs === null ? MAX_SLEEP_MS : Math.min(Math.ceil(nextMs) + DUE_MARGIN_MS, MAX_SLEEP_MS);
  };

  const work = {
    look: queueRuns,
    reconcile: async () => {
      await store.schedules.reconcile();
      return queueRuns();
    },
  };
  // Each would warn while the database is away: one line per outage instead.
  const outages = { look: createOutageLog(logger, 'starting scheduled syncs'), reconcile: createOutageLog(logger, 'reconciling sync schedules') };

  /** Looks (or reconciles) now, or after the one running; then sleeps until the next schedule is due. */
  const run = (what: 'look' | 'reconcile') => {
    if (stopped) return;
    if (busy !== undefined) {
      if (pending !== 'reconcile') pending = what;
      return;
    }
    clearTimeout(sleeping);
    let sleepMs = RETRY_MS;
    busy = work[what]()
      .then((ms) => {
        sleepMs = ms;
        outages[what].succeeded();
      })
      .catch((error: unknown) => outages[what].failed(error))
      .finally(() => {
        busy = undefined;
        const next = pending;
        pending = undefined;
        if (next !== undefined) return run(next);
        if (stopped) return;
        sleeping = setTimeout(look, sleepMs);
        sleeping.unref();
      });
  };
  const look = () => run('look');
  const reconcile = () => run('reconcile');

  options.wake.onSchedulesChanged(look);
  const catchUp = setInterval(reconcile, RECONCILE_MS);
  catchUp.unref();
  reconcile();

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
      stopped = true;
      clearTimeout(sleeping);
      clearInterval(catchUp);
      if (debounce !== undefined) clearTimeout(debounce);
      await busy;
    },
  };
}
