// Queue and channel names, with the payloads they carry. Names are stable: other processes of
// other versions read them during a rolling deploy.
export const ACTION_QUEUE = 'patchbay.action';
export const SYNC_QUEUE = 'patchbay.sync';
/**
 * Dry runs (`patchbay dryrun`) are announced on the jobs channel under this name, but have no
 * pg-boss ticket: their row in `dry_runs` is claimed directly (FOR UPDATE SKIP LOCKED).
 */
export const DRY_RUN_QUEUE = 'patchbay.dryrun';
export type QueueName = typeof ACTION_QUEUE | typeof SYNC_QUEUE | typeof DRY_RUN_QUEUE;

/** A job is only a wake-up ticket for a run; the run's row in `function_runs` is the truth. */
export interface RunJob {
  runId: string;
}

/** NOTIFY payload: the queue that has new work. */
export const JOBS_CHANNEL = 'patchbay_jobs';
/** NOTIFY payload: the id of a run that reached a final state. */
export const RUNS_CHANNEL = 'patchbay_runs';
/**
 * NOTIFY, any payload: sync schedules changed (paused, resumed, a new frequency); schedulers look
 * at once. Whoever changes `sync_schedules` by hand can send it too.
 */
export const SCHEDULES_CHANNEL = 'patchbay_schedules';
