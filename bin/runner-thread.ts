// The runner role on a worker thread of this process (`patchbay start`): the isolates' host side
// (services, operations, copies in and out, a killed isolate's teardown) then runs on the
// runner's event loop, never on the HTTP server's, so a misbehaving function costs the runner,
// not /health or /proxy (security review: one URLSearchParams bomb stalled /health 9 s). This
// file starts the thread, stops it, and restarts it when it dies; runner-thread-entry.ts is the
// thread itself.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type pino from 'pino';
import type { Config } from '../server/config.js';
import type { MetricsSnapshot } from '../server/metrics/index.js';
import { createRunSlots, type DirectRunner, type FinishedRun, type RunSlots } from '../server/queue/index.js';
import type { ClaimedRun, ListeningNotifications, RelayedNotifications } from '../server/store/index.js';
import type { SystemOptions } from './system.js';

/** What the thread is started with (workerData): a structured copy, secrets included, never logged. */
export interface RunnerThreadData {
  /** The process's configuration with the database URL and both keys resolved (no data dir read). */
  config: Config & { databaseUrl: string; secretKey: string; encryptionKey: Buffer };
  proxyTuning?: SystemOptions['proxyTuning'];
  runnerTuning?: SystemOptions['runnerTuning'];
  /** The runner's run slots, counted by both threads (server/queue/direct.ts); new for each thread started. */
  slots: SharedArrayBuffer;
}

/** Thread → process. */
export type RunnerThreadMessage =
  | { type: 'started'; runnerId: string }
  | { type: 'failed'; message: string }
  | { type: 'metrics'; id: number; snapshot: MetricsSnapshot }
  /** A run handed over by `run` finished, its result stored. */
  | { type: 'finished'; run: FinishedRun }
  /** The thread listens to `channel`: relay its notifications (`notification`, `reconnected`). */
  | { type: 'listen'; channel: string };
/** Process → thread. */
export type RunnerThreadCommand =
  | { type: 'stop' }
  | { type: 'metrics'; id: number }
  | { type: 'run'; run: ClaimedRun; startBy: number }
  /** Heard on a channel the thread listens to, as sent (the thread skips its own). */
  | { type: 'notification'; channel: string; payload: string }
  /** The process's LISTEN connection came back: what was sent meanwhile is lost. */
  | { type: 'reconnected' };

/** In the thread: a relayed notification or reconnect goes to its notifications; other commands are not theirs. */
export function deliverRelayed(notifications: RelayedNotifications | undefined, command: RunnerThreadCommand): void {
  if (command.type === 'notification') notifications?.received(command.channel, command.payload);
  else if (command.type === 'reconnected') notifications?.reconnected();
}

export interface RunnerThread extends DirectRunner {
  /** The current thread's runner id (hostname:pid:random), as in the runs it claims. */
  readonly runnerId: string;
  readonly threadId: number;
  /** Threads started again after one died. */
  readonly restarts: number;
  /**
   * The thread's counters (runs, webhooks, the proxy calls functions make) for /metrics; undefined
   * when it does not answer within METRICS_TIMEOUT_MS (restarting, or too busy).
   */
  metrics(): Promise<MetricsSnapshot | undefined>;
  /** Lets running functions finish (the worker's stop grace), then ends the thread. Idempotent. */
  stop(): Promise<void>;
}

export interface RunnerThreadOptions {
  data: Omit<RunnerThreadData, 'slots'>;
  /**
   * The process's notifications: the thread opens no LISTEN connection (one PostgreSQL backend
   * fewer), it hears through this one's.
   */
  notifications: ListeningNotifications;
  /** A run handed to the thread (`take`) finished: answer the request waiting for it. */
  onRunFinished?: (run: FinishedRun) => void;
  logger: pino.Logger;
  /** The thread's module; a test passes its own. Default: runner-thread-entry next to this file. */
  entry?: URL;
  /** First wait before a restart; it doubles after each quick death, up to MAX_RESTART_DELAY_MS. */
  restartDelayMs?: number;
}

// A thread that dies at once (its database gone, say) is restarted 1 s, 2 s, 4 s… later, at most
// every 30 s: the log shows each death without flooding, and the runner is back soon after the
// cause goes. One that ran a minute is treated as a fresh case.
const RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;
// The thread's stop waits for running functions (the worker's stop grace, 10 s) and flushes its
// logs; past this it is terminated, and its claimed runs are taken back by the reaper.
const STOP_TIMEOUT_MS = 30_000;

// The thread's young generation: V8 grows it to 48 MB while the thread starts (migrations, module
// loading) and keeps it; 8 MB costs a few more scavenges of ~1 ms under load and takes ~15 MB
// off the idle RSS (measured: 170 → 155 MB for `patchbay start`, dist build).
const YOUNG_GENERATION_MB = 8;
// The thread's own heap (isolates have theirs): host copies of responses (10 MB each, 16 runs at
// once) fit many times over; past it the thread dies and is restarted, not the whole process.
const OLD_GENERATION_MB = 2048;
// Migrations done, a pool and a queue connected: a thread that has not said `started` by then
// is stuck (a database that does not answer), and a stop must not wait on it forever.
const START_TIMEOUT_MS = 120_000;
// A scrape must not hang on a thread that is restarting: its counters are left out of that one
// (Prometheus reads the gap as a missed sample, not as a reset).
const METRICS_TIMEOUT_MS = 2000;

function spawnThread(entry: URL, data: RunnerThreadData): Worker {
  const options = { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, maxOldGenerationSizeMb: OLD_GENERATION_MB } };
  // Run from source (npm start, tests) the entry is TypeScript: the thread registers tsx's loader
  // before importing it. Compiled into dist/ it is JavaScript.
  if (!entry.pathname.endsWith('.ts')) return new Worker(fileURLToPath(entry), options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return new Worker(`import(${tsx}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`, { ...options, eval: true });
}

interface Started {
  thread: Worker;
  runnerId: string;
  slots: RunSlots;
}

/** One thread's life: resolves once it reported `started`, rejects if it failed or died first. */
function startOnce(entry: URL, settings: Omit<RunnerThreadData, 'slots'>, notifications: ListeningNotifications, logger: pino.Logger): Promise<Started> {
  const slots = createRunSlots(settings.config.runnerConcurrency);
  const data: RunnerThreadData = { ...settings, slots: slots.buffer };
  const thread = spawnThread(entry, data);
  // From the thread's first `listen` (while it starts) to its exit, whichever way it ends.
  const relay = notifications.relay({
    received: (channel, payload) => thread.postMessage({ type: 'notification', channel, payload } satisfies RunnerThreadCommand),
    reconnected: () => thread.postMessage({ type: 'reconnected' } satisfies RunnerThreadCommand),
  });
  thread.on('message', (message: RunnerThreadMessage) => {
    if (message.type !== 'listen') return;
    // A bad channel name from the thread costs the thread its notifications, not the process.
    try {
      relay.listen(message.channel);
    } catch (error) {
      logger.error({ err: error }, 'the runner thread asked for a notification channel that cannot be listened to');
    }
  });
  thread.once('exit', () => relay.close());
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => fail(`it did not start within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    deadline.unref();
    const settle = () => {
      clearTimeout(deadline);
      thread.off('message', onMessage);
      thread.off('error', onError);
      thread.off('exit', onExit);
    };
    const fail = (reason: string) => {
      settle();
      // Whatever it throws while being terminated is already reported by this rejection.
      thread.on('error', () => undefined);
      void thread.terminate();
      reject(new Error(`the runner thread did not start: ${reason}`));
    };
    const onMessage = (message: RunnerThreadMessage) => {
      if (message.type === 'failed') fail(message.message);
      else if (message.type === 'started') {
        settle();
        resolve({ thread, runnerId: message.runnerId, slots });
      }
    };
    const onError = (error: Error) => fail(error.message);
    const onExit = (code: number) => fail(`it exited with code ${code}`);
    thread.on('message', onMessage);
    thread.on('error', onError);
    thread.on('exit', onExit);
  });
}

/** Asks a started thread to stop and waits for its end; terminates it if that takes past STOP_TIMEOUT_MS. */
async function stopThread(thread: Worker, logger: pino.Logger): Promise<void> {
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  // A thread that throws while stopping must not take the process with it (an 'error' nobody
  // hears is thrown): a watched thread has its own listener, one that finished starting during
  // the stop has none.
  thread.on('error', (error) => logger.error({ err: error }, 'runner thread failed while stopping'));
  const timeout = setTimeout(() => {
    logger.warn({ timeoutMs: STOP_TIMEOUT_MS }, 'runner thread did not stop in time; terminating it');
    void thread.terminate();
  }, STOP_TIMEOUT_MS);
  thread.postMessage({ type: 'stop' } satisfies RunnerThreadCommand);
  await exited;
  clearTimeout(timeout);
}

export async function startRunnerThread(options: RunnerThreadOptions): Promise<RunnerThread> {
  const entry = options.entry ?? new URL(`./runner-thread-entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  const { logger, data, notifications } = options;
  const firstDelayMs = options.restartDelayMs ?? RESTART_DELAY_MS;

  let current = await startOnce(entry, data, notifications, logger);
  let startedAt = performance.now();
  let restarts = 0;
  let delayMs = firstDelayMs;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  /** The wait before the next restart: doubled after each quick death, at most MAX_RESTART_DELAY_MS. */
  const takeDelay = () => {
    const wait = delayMs;
    delayMs = Math.min(delayMs * 2, MAX_RESTART_DELAY_MS);
    return wait;
  };

  const restartIn = (wait: number) => {
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      restarting = startOnce(entry, data, notifications, logger).then(
        async (started) => {
          if (stopping !== undefined) {
            // Asked, not terminated: a thread that just started may be making an isolate, and
            // isolated-vm aborts the whole process when a thread ends under its work.
            await stopThread(started.thread, logger);
            return;
          }
          restarts++;
          current = started;
          startedAt = performance.now();
          watch(started.thread);
          logger.info({ runner: started.runnerId, thread: started.thread.threadId, restarts }, 'runner thread restarted');
        },
        (error: unknown) => {
          if (stopping !== undefined) return;
          const next = takeDelay();
          logger.error({ err: error, restartInMs: next }, `runner thread restart failed; trying again in ${next} ms`);
          restartIn(next);
        },
      );
    }, wait);
  };

  // After `started`, a death is one error line (with the uncaught exception, if that was the
  // cause) and the thread is started again; the runs it held are failed over by the reaper
  // (RUNNER_LOST) and retried.
  const watch = (thread: Worker) => {
    let crash: Error | undefined;
    thread.on('message', (message: RunnerThreadMessage) => {
      if (message.type === 'finished') options.onRunFinished?.(message.run);
    });
    thread.on('error', (error) => {
      crash = error;
    });
    thread.once('exit', (code) => {
      if (stopping !== undefined) return;
      if (performance.now() - startedAt >= HEALTHY_AFTER_MS) delayMs = firstDelayMs;
      const wait = takeDelay();
      logger.error(
        { err: crash, code, restartInMs: wait },
        `runner thread died (exit code ${code}${crash === undefined ? '' : `, ${crash.message}`}); restarting it in ${wait} ms`,
      );
      restartIn(wait);
    });
  };
  watch(current.thread);

  let nextMetricsId = 0;
  const metrics = (): Promise<MetricsSnapshot | undefined> => {
    const thread = current.thread;
    if (stopping !== undefined || thread.threadId < 0) return Promise.resolve(undefined);
    const id = ++nextMetricsId;
    return new Promise((resolve) => {
      const done = (snapshot: MetricsSnapshot | undefined) => {
        clearTimeout(timer);
        thread.off('message', onMessage);
        thread.off('exit', onExit);
        resolve(snapshot);
      };
      const onMessage = (message: RunnerThreadMessage) => {
        if (message.type === 'metrics' && message.id === id) done(message.snapshot);
      };
      const onExit = () => done(undefined);
      const timer = setTimeout(() => done(undefined), METRICS_TIMEOUT_MS);
      thread.on('message', onMessage);
      thread.once('exit', onExit);
      thread.postMessage({ type: 'metrics', id } satisfies RunnerThreadCommand);
    });
  };

  return {
    metrics,
    take() {
      const { thread, runnerId, slots } = current;
      if (stopping !== undefined || restartTimer !== undefined || thread.threadId < 0 || !slots.takeHanded()) return undefined;
      return {
        runnerId,
        start: (run, startBy) => thread.postMessage({ type: 'run', run, startBy } satisfies RunnerThreadCommand),
        release: () => slots.handedDone(),
      };
    },
    get runnerId() {
      return current.runnerId;
    },
    get threadId() {
      return current.thread.threadId;
    },
    get restarts() {
      return restarts;
    },
    stop() {
      stopping ??= (async () => {
        clearTimeout(restartTimer);
        await restarting;
        const thread = current.thread;
        // Gone already (died, not restarted yet).
        if (thread.threadId < 0) return;
        await stopThread(thread, logger);
      })();
      return stopping;
    },
  };
}
