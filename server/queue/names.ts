// Queue and channel names, with the payloads they carry. Names are stable: other processes of
// other versions read them during a rolling deploy.
export const ACTION_QUEUE = 'patchbay.action';
export const SYNC_QUEUE = 'patchbay.sync';
export type QueueName = typeof ACTION_QUEUE | typeof SYNC_QUEUE;

/** A job is only a wake-up ticket for a run; the run's row in `function_runs` is the truth. */
export interface RunJob {
  runId: string;
}

/** NOTIFY payload: the queue that has new work. */
export const JOBS_CHANNEL = 'patchbay_jobs';
/** NOTIFY payload: the id of a run that reached a final state. */
export const RUNS_CHANNEL = 'patchbay_runs';
