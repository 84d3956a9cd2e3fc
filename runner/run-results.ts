// Where a run's end goes: its result stored (guarded by the runner holding it) and the waiting
// request told — by NOTIFY, or by message for a run handed over directly — or the run queued
// again for another attempt.
import { backoffMs } from '../server/proxy/backoff.js';
import { ACTION_QUEUE, SYNC_QUEUE, type FinishedRun, type JobQueue, type QueueName, type Wake } from '../server/queue/index.js';
import type { ClaimedRun, FunctionKind, RunError, Store } from '../server/store/index.js';
import type { WebhookSender } from '../server/webhooks/index.js';

// Retries of a failed attempt wait 2 s, 4 s, 8 s…: an upstream hiccup gets time to pass.
const RETRY_BASE_SECONDS = 2;

export type RunResultToStore = { outputJson: string; interrupted?: RunError } | { error: RunError };

export interface RunResultsDeps {
  store: Store;
  queue: JobQueue;
  wake: Wake;
  runnerId: string;
  /** Sends the sync-completion and async-action webhooks; absent, none are sent. */
  webhooks?: WebhookSender | undefined;
  /** Tells the request waiting for a run handed over directly that it finished. */
  directFinished: (run: FinishedRun) => void;
}

export interface RunResults {
  /** Stores the result; `direct`: the run was handed over by a request of this process. */
  finish(run: ClaimedRun, result: RunResultToStore, direct: boolean): Promise<void>;
  /** Queues another attempt after a backoff, keeping the error. */
  retryLater(run: ClaimedRun, error: RunError): Promise<void>;
  /** A run this runner cannot finish (it stops): another attempt now, or `error` when none is left. */
  handBack(run: ClaimedRun, error: RunError, direct: boolean): Promise<void>;
}

const queueOf = (kind: FunctionKind): QueueName => (kind === 'sync' ? SYNC_QUEUE : ACTION_QUEUE);

function statusOf(run: ClaimedRun, result: RunResultToStore): FinishedRun {
  if (!('outputJson' in result)) return { id: run.id, state: 'failed', outputJson: null, error: result.error };
  if (result.interrupted === undefined) return { id: run.id, state: 'succeeded', outputJson: result.outputJson, error: null };
  return { id: run.id, state: 'interrupted', outputJson: result.outputJson, error: result.interrupted };
}

export function createRunResults(deps: RunResultsDeps): RunResults {
  const { store, queue, wake, runnerId } = deps;

  const finish = async (run: ClaimedRun, result: RunResultToStore, direct: boolean) => {
    const status = statusOf(run, result);
    // A run handed over by a request of this process: the request hears of it by message; no
    // other process waits for it (its waiters' fallback poll reads the row).
    const notify = direct ? undefined : wake.runFinishedNotify(status);
    if (!(await store.runs.finish(run.id, runnerId, result, notify))) return;
    if (notify === undefined) deps.directFinished(status);
    else notify.deliverLocally();
    // Queued in the background: a webhook never fails or delays a run.
    deps.webhooks?.runFinished(run, result);
  };

  return {
    finish,
    async retryLater(run, error) {
      if (!(await store.runs.requeue(run.id, runnerId, error))) return;
      const name = queueOf(run.kind);
      const waitMs = backoffMs(run.attempt, { baseMs: RETRY_BASE_SECONDS * 1000, maxMs: Infinity });
      await queue.enqueue(name, run.id, { startAfterSeconds: waitMs / 1000 });
      wake.jobDueIn(name, waitMs);
    },
    async handBack(run, error, direct) {
      if (run.attempt > run.maxRetries) return finish(run, { error }, direct);
      if (!(await store.runs.requeue(run.id, runnerId, error))) return;
      // This runner is stopping: another one takes it, told now.
      const name = queueOf(run.kind);
      await queue.enqueue(name, run.id);
      wake.jobQueued(name);
    },
  };
}
