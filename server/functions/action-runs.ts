// Queues an action run (or hands it straight to a runner of this process) and waits for its
// result: POST /action/trigger and a function's nango.triggerAction (runner/control-operations.ts)
// both go through here.
import { PatchbayError } from '../errors.js';
import { ACTION_QUEUE, type DirectRunner, type FinishedRun, type JobQueue, type Wake } from '../queue/index.js';
import { insertRunStatement, toRunError, type NewRun, type Store } from '../store/index.js';

// Contract §6: a run not started within 30 s fails instead of waiting for a runner that may never
// come, and no wait outlives the longest run a function may ask for.
export const ACTION_START_TIMEOUT_MS = 30_000;
const ACTION_FINISH_TIMEOUT_MS = 15 * 60_000;

export interface ActionRunDeps {
  store: Store;
  queue: JobQueue;
  wake: Wake;
  /** A runner of this process that takes waited-for runs straight (server/queue/direct.ts). */
  direct?: DirectRunner | undefined;
}

/**
 * Stores `run` (an action) with its ticket and the NOTIFY that wakes runners, in one statement: no
 * runner hears of a ticket before both exist, and neither exists without the other. With `wait`,
 * starts listening for the run's end first (it cannot end before its ticket exists) and answers
 * that wait (`started`), for awaitAction.
 */
export async function queueAction(deps: ActionRunDeps, run: NewRun, wait?: { startTimeoutMs: number }): Promise<{ started?: Promise<FinishedRun | undefined> }> {
  const started = wait === undefined ? undefined : deps.wake.waitForRun(run.id, wait.startTimeoutMs);
  // Waited for, and a runner of this process takes it: no ticket, no wake-up, no claim.
  const slot = wait === undefined ? undefined : deps.direct?.take();
  if (slot !== undefined) {
    let claimed;
    try {
      claimed = await deps.store.runs.createRunning(run, slot.runnerId);
    } catch (error) {
      slot.release();
      deps.wake.forget(run.id);
      throw error;
    }
    slot.start(claimed, Date.now() + (wait?.startTimeoutMs ?? 0));
    return { started };
  }
  const queued = deps.wake.jobQueuedNotify(ACTION_QUEUE);
  await deps.queue.enqueue(ACTION_QUEUE, run.id, { notify: queued, alongside: insertRunStatement(run) }).catch((error: unknown) => {
    deps.wake.forget(run.id);
    throw error;
  });
  queued.deliverLocally();
  return started === undefined ? {} : { started };
}

/** The run's finished state; `runner_unavailable` when no runner started it in time, `execution_timeout` when it never ended. */
export async function awaitAction(deps: ActionRunDeps, runId: string, started: Promise<FinishedRun | undefined>): Promise<FinishedRun> {
  let finished = await started;
  if (finished === undefined) {
    if (await deps.store.runs.failQueued(runId, toRunError('runner_unavailable'))) throw new PatchbayError('runner_unavailable');
    finished = (await deps.store.runs.finishedAmong([runId]))[0] ?? (await deps.wake.waitForRun(runId, ACTION_FINISH_TIMEOUT_MS));
  }
  if (finished === undefined) throw new PatchbayError('execution_timeout', { message: 'The action did not finish in time.' });
  return finished;
}

/** Queues `run` and answers its finished state (queueAction, then awaitAction). */
export async function runAction(deps: ActionRunDeps, run: NewRun, startTimeoutMs: number = ACTION_START_TIMEOUT_MS): Promise<FinishedRun> {
  const { started } = await queueAction(deps, run, { startTimeoutMs });
  return awaitAction(deps, run.id, started ?? Promise.resolve(undefined));
}
