// Runs syncs on their schedules: every second, due schedules are taken (SKIP LOCKED, so every
// process can run this) and a sync run is queued for each (none when one is already queued).
// Schedules follow deploys and connections through `reconcile`, run when either changes and
// every minute as a catch-up.
import type { FastifyBaseLogger } from 'fastify';
import { createOutageLog, type OutageLog, type Store } from '../store/index.js';
import type { JobQueue } from './boss.js';
import { queueSyncRun } from './sync-runs.js';
import type { Wake } from './wake.js';

// The shortest frequency is 30 s; a 1 s tick starts a run at most a second late.
const TICK_MS = 1000;
const RECONCILE_MS = 60_000;
// Schedules taken per tick: a backlog (after downtime) drains over a few ticks.
const MAX_DUE_PER_TICK = 200;
// Changes arrive in bursts (a deploy, a batch of imported connections): one reconcile for them.
const RECONCILE_DEBOUNCE_MS = 100;

export interface SchedulerOptions {
  store: Store;
  queue: JobQueue;
  wake: Wake;
  logger: FastifyBaseLogger;
  tickMs?: number | undefined;
}

export interface Scheduler {
  /** Asks for a reconcile soon (after a deploy or a connection change). */
  changed(): void;
  stop(): Promise<void>;
}

export function startScheduler(options: SchedulerOptions): Scheduler {
  const { store, logger } = options;
  let busy: Promise<void> | undefined;
  let stopped = false;
  let debounce: NodeJS.Timeout | undefined;

  const queueRuns = async () => {
    // A sync with a run still waiting gets no second one: that run covers this turn too.
    for (const due of await store.schedules.takeDue(MAX_DUE_PER_TICK)) await queueSyncRun(options, due);
  };

  // Each tick would warn while the database is away: one line per outage instead.
  const starting = createOutageLog(logger, 'starting scheduled syncs');
  const reconciling = createOutageLog(logger, 'reconciling sync schedules');

  const exclusive = (work: () => Promise<unknown>, outage: OutageLog) => {
    if (stopped || busy !== undefined) return;
    busy = work()
      .then(() => outage.succeeded())
      .catch((error: unknown) => outage.failed(error))
      .finally(() => {
        busy = undefined;
      });
  };

  const reconcile = () => exclusive(async () => {
    await store.schedules.reconcile();
    await queueRuns();
  }, reconciling);

  const tick = setInterval(() => exclusive(queueRuns, starting), options.tickMs ?? TICK_MS);
  tick.unref();
  const catchUp = setInterval(reconcile, RECONCILE_MS);
  catchUp.unref();
  reconcile();

  return {
    changed() {
      if (debounce !== undefined) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = undefined;
        // A tick in progress delays this one; try again until it runs.
        if (busy !== undefined) return void busy.then(() => reconcile());
        reconcile();
      }, RECONCILE_DEBOUNCE_MS);
      debounce.unref();
    },
    async stop() {
      stopped = true;
      clearInterval(tick);
      clearInterval(catchUp);
      if (debounce !== undefined) clearTimeout(debounce);
      await busy;
    },
  };
}
