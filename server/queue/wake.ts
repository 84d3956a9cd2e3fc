// Wake-ups over LISTEN/NOTIFY: runners hear "a job was queued" the moment it happens, and a
// request waiting for a run hears "run X finished". Hints only: runners also poll, and waiting
// requests re-check the database on a slow timer and after the listener reconnects.
import type { Notifications, RunStatus, RunStore } from '../store/index.js';
import { JOBS_CHANNEL, RUNS_CHANNEL, SCHEDULES_CHANNEL, type QueueName } from './names.js';

// The fallback check for waiting requests: a lost notification costs at most this much delay.
const WAITER_POLL_MS = 1000;
// A delayed ticket's wake-up comes this much after its start time (pg-boss compares it with the
// database's clock; both count the same delay from the send). Wake-ups of one queue within one
// such step are sent as one.
const DUE_STEP_MS = 25;
// PostgreSQL caps a NOTIFY payload at 8000 bytes; a result that fits travels with the
// notification (no read of the run afterwards), a bigger one is read from the table.
const MAX_INLINE_RESULT_CHARS = 7000;

/** What a waiting request needs of a finished run. */
export type FinishedRun = Pick<RunStatus, 'id' | 'state' | 'outputJson' | 'error'>;

/** A notification to send inside the statement that makes it true, then deliver locally. */
export interface PendingNotify {
  channel: string;
  payload: string;
  deliverLocally(): void;
}

export interface Wake {
  jobQueued(queue: QueueName): void;
  /** `jobQueued`, sent by the statement that queued the run. */
  jobQueuedNotify(queue: QueueName): PendingNotify;
  onJobQueued(queue: QueueName, listener: () => void): void;
  /**
   * `jobQueued(queue)` once `ms` have passed: a ticket sent with a start time (a retry's backoff)
   * wakes the runners when it becomes due, instead of waiting for their slow poll.
   */
  jobDueIn(queue: QueueName, ms: number): void;
  /** Tells the schedulers of every process (this one at once) that sync schedules changed. */
  schedulesChanged(): void;
  /** Hears schedulesChanged, and a LISTEN connection that came back (changes may have been missed). */
  onSchedulesChanged(listener: () => void): void;
  runFinished(run: FinishedRun): void;
  /** `runFinished`, sent by the statement that stored the result. */
  runFinishedNotify(run: FinishedRun): PendingNotify;
  /**
   * Resolves with the finished run, or `undefined` once `timeoutMs` passed without it finishing.
   * Start waiting before the run can finish (before it is queued): a run that finished earlier
   * is only noticed by the fallback poll.
   */
  waitForRun(runId: string, timeoutMs: number): Promise<FinishedRun | undefined>;
  /** Answers this process's waiters for a run that finished on a runner of this process (its result came by message). */
  finishedHere(run: FinishedRun): void;
  /** Drops the waiters for a run that was never queued (they resolve `undefined`). */
  forget(runId: string): void;
  stop(): void;
}

interface Waiter {
  resolve(status: FinishedRun | undefined): void;
  timer: NodeJS.Timeout;
}

function finishedPayload(run: FinishedRun): string {
  const full = JSON.stringify(run);
  return full.length <= MAX_INLINE_RESULT_CHARS ? full : JSON.stringify({ id: run.id });
}

export function createWake(notifications: Notifications, runs: RunStore, options: { pollMs?: number } = {}): Wake {
  const pollMs = options.pollMs ?? WAITER_POLL_MS;
  const jobListeners = new Map<string, (() => void)[]>();
  const waiters = new Map<string, Set<Waiter>>();
  let poll: NodeJS.Timeout | undefined;
  let checking = false;
  const dueTimers = new Map<string, NodeJS.Timeout>();
  const scheduleListeners: (() => void)[] = [];
  const schedulesChanged = () => {
    for (const listener of scheduleListeners) listener();
  };

  const settle = (id: string, status: FinishedRun | undefined) => {
    const set = waiters.get(id);
    if (set === undefined) return;
    waiters.delete(id);
    for (const waiter of set) {
      clearTimeout(waiter.timer);
      waiter.resolve(status);
    }
    if (waiters.size === 0 && poll !== undefined) {
      clearInterval(poll);
      poll = undefined;
    }
  };

  const check = async (ids: string[]) => {
    if (ids.length === 0) return;
    for (const status of await runs.finishedAmong(ids)) settle(status.id, status);
  };

  const checkAll = () => {
    if (checking || waiters.size === 0) return;
    checking = true;
    check([...waiters.keys()])
      .catch(() => undefined)
      .finally(() => {
        checking = false;
      });
  };

  notifications.listen(JOBS_CHANNEL, (queue) => {
    for (const listener of jobListeners.get(queue) ?? []) listener();
  });
  notifications.listen(RUNS_CHANNEL, (payload) => {
    let run: Partial<FinishedRun> & { id: string };
    try {
      run = JSON.parse(payload) as FinishedRun;
    } catch {
      return;
    }
    if (!waiters.has(run.id)) return;
    if (run.state === 'succeeded' || run.state === 'failed' || run.state === 'interrupted') settle(run.id, { id: run.id, state: run.state, outputJson: run.outputJson ?? null, error: run.error ?? null });
    else check([run.id]).catch(() => undefined);
  });
  notifications.onReconnect(() => {
    checkAll();
    for (const listeners of jobListeners.values()) for (const listener of listeners) listener();
    schedulesChanged();
  });

  return {
    jobQueued(queue) {
      notifications.notify(JOBS_CHANNEL, queue);
    },
    onJobQueued(queue, listener) {
      const list = jobListeners.get(queue) ?? [];
      list.push(listener);
      jobListeners.set(queue, list);
    },
    jobDueIn(queue, ms) {
      const step = Math.ceil((Date.now() + Math.max(0, ms)) / DUE_STEP_MS) + 1;
      const key = `${queue} ${step}`;
      if (dueTimers.has(key)) return;
      const dueAt = step * DUE_STEP_MS;
      // A timer counts from the event loop's clock, which lags while code runs: it can fire
      // early by that much, and a runner woken before the ticket is due would find nothing.
      const arm = () => {
        const timer = setTimeout(() => {
          if (Date.now() < dueAt) return arm();
          dueTimers.delete(key);
          notifications.notify(JOBS_CHANNEL, queue);
        }, dueAt - Date.now());
        timer.unref();
        dueTimers.set(key, timer);
      };
      arm();
    },
    schedulesChanged() {
      notifications.notify(SCHEDULES_CHANNEL, '');
    },
    onSchedulesChanged(listener) {
      // Only processes with a scheduler listen to the channel.
      if (scheduleListeners.length === 0) notifications.listen(SCHEDULES_CHANNEL, schedulesChanged);
      scheduleListeners.push(listener);
    },
    runFinished(run) {
      notifications.notify(RUNS_CHANNEL, finishedPayload(run));
    },
    runFinishedNotify(run) {
      return notifications.raw(RUNS_CHANNEL, finishedPayload(run));
    },
    jobQueuedNotify(queue) {
      return notifications.raw(JOBS_CHANNEL, queue);
    },
    waitForRun(runId, timeoutMs) {
      return new Promise((resolve) => {
        const waiter: Waiter = {
          resolve,
          timer: setTimeout(() => {
            const set = waiters.get(runId);
            set?.delete(waiter);
            if (set?.size === 0) waiters.delete(runId);
            resolve(undefined);
          }, timeoutMs),
        };
        const set = waiters.get(runId) ?? new Set();
        set.add(waiter);
        waiters.set(runId, set);
        if (poll === undefined) {
          poll = setInterval(checkAll, pollMs);
          poll.unref();
        }
      });
    },
    finishedHere(run) {
      settle(run.id, run);
    },
    forget(runId) {
      settle(runId, undefined);
    },
    stop() {
      if (poll !== undefined) clearInterval(poll);
      poll = undefined;
      for (const timer of dueTimers.values()) clearTimeout(timer);
      dueTimers.clear();
      for (const [id, set] of waiters) {
        waiters.delete(id);
        for (const waiter of set) {
          clearTimeout(waiter.timer);
          waiter.resolve(undefined);
        }
      }
    },
  };
}
