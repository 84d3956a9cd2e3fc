// The job flow: pg-boss tickets wake runners, LISTEN/NOTIFY makes it immediate. See README.md.
export { createJobQueue, type FetchedTicket, type JobQueue } from './boss.js';
export { createRunSlots, type DirectRunner, type DirectSlot, type RunSlots } from './direct.js';
export { createWake, type FinishedRun, type PendingNotify, type Wake } from './wake.js';
export { ACTION_QUEUE, SYNC_QUEUE, DRY_RUN_QUEUE, JOBS_CHANNEL, RUNS_CHANNEL, type QueueName, type RunJob } from './names.js';
export { RUNNER_LOST, startReaper, type ReaperOptions } from './reaper.js';
export { startScheduler, type Scheduler, type SchedulerOptions } from './scheduler.js';
export { queueSyncRun, type SyncRunTarget } from './sync-runs.js';
export { createSleepingLoop, type SleepingLoop, type SleepingLoopOptions } from './sleeping-loop.js';
