// The runner's loop: wake on NOTIFY (or the fallback poll), take runs (tickets from the queue,
// runs handed over directly by a request of this process), run each in the sandbox, decide what
// its outcome means, store it, tell the waiting request. Also beats for the runs it holds, so
// that server/queue/reaper.ts can take back the runs of a runner that died.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { FunctionRegistry } from '../server/functions/registry.js';
import type { LogWriter } from '../server/logs/writer.js';
import type { Catalog } from '../server/providers/catalog.js';
import { ACTION_QUEUE, RUNNER_LOST, SYNC_QUEUE, createRunSlots, createSleepingLoop, type DirectRunner, type FinishedRun, type JobQueue, type RunSlots, type Wake } from '../server/queue/index.js';
import { createOutageLog, toRunError, type ClaimedRun, type RunError, type Store } from '../server/store/index.js';
import type { WebhookSender } from '../server/webhooks/index.js';
import { toRunLogOperation, type RunLog } from './context.js';
import { decideOutcome } from './outcome.js';
import type { OperationDeps } from './operations.js';
import { createFunctionRunner } from './run-function.js';
import { createRunResults } from './run-results.js';
import type { Sandbox } from './sandbox/index.js';
import { createSourceMaps } from './source-map.js';
import type { ModelChanges } from './sync-operations.js';
import { createTicketPump } from './ticket-pump.js';

// NOTIFY wakes runners at once: when a ticket is sent, when a ticket sent for later becomes due
// (wake.jobDueIn, from the process that sent it), and when the LISTEN connection comes back.
// This slow poll covers the rest: a ticket pg-boss hands out again after it expired (its runner
// died between fetch and claim), a delayed ticket whose sender died before it was due.
const POLL_MS = 60_000;
// Beat well inside the stale window so one slow UPDATE never makes a live run look dead.
const HEARTBEAT_MS = 5000;
// On stop, running functions get this long to finish before they are cut off and handed back.
const STOP_GRACE_MS = 10_000;
// Claimed tickets are completed together this often: one statement for many runs.
const TICKET_FLUSH_MS = 200;
// Handed-over runs still waiting for a slot are checked this often against their start deadline.
const HANDED_EXPIRY_CHECK_MS = 1000;

export interface WorkerOptions {
  store: Store;
  queue: JobQueue;
  wake: Wake;
  sandbox: Sandbox;
  functions: FunctionRegistry;
  catalog: Catalog;
  logs: LogWriter;
  operations: OperationDeps;
  logger: FastifyBaseLogger;
  concurrency: number;
  /** Tests shorten these; the defaults are production values. */
  pollMs?: number;
  heartbeatMs?: number;
  stopGraceMs?: number;
  /** Sends the sync-completion and async-action webhooks; absent, none are sent. */
  webhooks?: WebhookSender;
  /**
   * The run slots, when another thread hands runs to this worker (bin/runner-thread.ts shares
   * them); by default the worker's own, `concurrency` of them.
   */
  slots?: RunSlots;
  /**
   * Tells the waiting request that a run handed to this worker directly finished (after its
   * result is stored). Default: this thread's wake, where the request waits when it runs here.
   */
  directFinished?: (run: FinishedRun) => void;
}

export interface Worker {
  readonly id: string;
  readonly active: number;
  /** Takes runs straight from a request of this thread (server/queue/direct.ts). */
  readonly direct: DirectRunner;
  /**
   * Takes a run a request handed over (inserted held by this worker, its place taken with
   * `direct.take()`): started in the next free slot, or failed with runner_unavailable if none
   * came by `startBy` (epoch ms).
   */
  adopt(run: ClaimedRun, startBy: number): void;
  start(): void;
  stop(): Promise<void>;
}

interface Active {
  run: ClaimedRun;
  abort: AbortController;
  done: Promise<void>;
  /** Handed over by a request (no ticket): its result goes back by `directFinished`, not NOTIFY. */
  direct: boolean;
}

// One shared reason: a per-run Error would capture a stack for every run.
const RUN_ENDED = new Error('The run has ended.');

export function createWorker(options: WorkerOptions): Worker {
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const { store, wake, logger } = options;
  const sourceMaps = createSourceMaps((hash) => store.functions.sourceMap(hash));
  const active = new Map<string, Active>();
  const slots = options.slots ?? createRunSlots(options.concurrency);
  const runFunction = createFunctionRunner(options);
  const results = createRunResults({
    store,
    queue: options.queue,
    wake,
    runnerId: id,
    webhooks: options.webhooks,
    directFinished: options.directFinished ?? ((run: FinishedRun) => wake.finishedHere(run)),
  });
  const timers: NodeJS.Timeout[] = [];
  let running = false;
  // Runs handed over by requests, waiting for a slot, oldest first.
  const handedWaiting: { run: ClaimedRun; startBy: number }[] = [];
  // Whether the last slot went to a handed-over run: while tickets may wait, the two take turns.
  let lastWasHanded = false;

  /** Runs `run`, then stores what its outcome means: a result, another attempt, or a hand-back. */
  const execute = async (run: ClaimedRun, abort: AbortController, direct: boolean) => {
    const startedAt = new Date();
    const changes: ModelChanges = {};
    const log: RunLog = { lines: [], dropped: 0 };
    let failure: RunError | undefined = toRunError('script_internal_error');
    try {
      const ran = await runFunction(run, abort.signal, changes, log);
      abort.abort(RUN_ENDED); // at once: storing the outcome below takes a round trip
      if (ran.bundleMissing) {
        failure = toRunError('script_internal_error', 'The function bundle is missing.');
        await results.finish(run, { error: failure }, direct);
        return;
      }
      const { outcome, host } = ran;
      const isSync = run.kind === 'sync';
      if (outcome.ok) {
        failure = undefined;
        await results.finish(run, { outputJson: isSync ? JSON.stringify({ models: changes }) : outcome.outputJson }, direct);
        return;
      }
      const decision = decideOutcome(outcome.failure);
      // The author's file:line in the answer, GET /action/:id and the run's log, not the bundle's.
      if (outcome.failure.type === 'internal_error') decision.error = await sourceMaps.mapError(run.bundleHash, decision.error, outcome.failure.stack, host.log);
      failure = decision.error;
      if (isSync && outcome.failure.type === 'wall_timeout') {
        // A sync cut short by its limit is interrupted, not a success (as in Nango): what it
        // saved stays, and its checkpoint lets the next run resume.
        await results.finish(run, { outputJson: JSON.stringify({ models: changes }), interrupted: decision.error }, direct);
      } else if (outcome.failure.type === 'aborted' && !running) {
        // Cut off by our own shutdown, not by the function: hand the run to another runner.
        await results.handBack(run, RUNNER_LOST, direct);
      } else if (decision.retryable && run.attempt <= run.maxRetries) {
        await results.retryLater(run, decision.error);
      } else {
        await results.finish(run, { error: decision.error }, direct);
      }
    } catch (error) {
      logger.error({ err: error, runId: run.id }, 'run failed inside the runner');
      failure = toRunError('script_internal_error', 'The run failed inside Patchbay.');
      await results.finish(run, { error: failure }, direct).catch(() => undefined);
    } finally {
      // The run is over, whatever ended it (a limit, an error, a promise left pending): the calls
      // it still has in flight or waiting for a slot are cut, so their connection slots are free.
      abort.abort(RUN_ENDED);
      const request = { function: run.functionName, attempt: run.attempt, runId: run.id, ...(run.kind === 'sync' ? { variant: run.variant, models: changes } : {}) };
      const facts = { logId: run.logId, kind: run.kind, action: 'run' as const, integrationKey: run.integrationKey, connectionId: run.connectionId, request, startedAt };
      options.logs.write(toRunLogOperation({ ...facts, error: failure }, log.lines, log.dropped));
    }
  };

  /** Runs `run` in a slot already taken for it; the slot is given back when it ends. */
  const launch = (run: ClaimedRun, direct: boolean) => {
    const abort = new AbortController();
    const entry: Active = { run, abort, done: Promise.resolve(), direct };
    active.set(run.id, entry);
    entry.done = execute(run, abort, direct)
      .catch((error: unknown) => logger.error({ err: error, runId: run.id }, 'run bookkeeping failed'))
      .finally(() => {
        active.delete(run.id);
        slots.give(1);
        if (direct) slots.handedDone();
        startHanded();
        if (running) pump();
      });
  };

  /** A handed-over run that got no slot by its deadline fails as a queued one would. */
  const expireHanded = (nowMs: number) => {
    for (let i = handedWaiting.length - 1; i >= 0; i--) {
      const waiting = handedWaiting[i] as (typeof handedWaiting)[number];
      if (waiting.startBy > nowMs) continue;
      handedWaiting.splice(i, 1);
      results
        .finish(waiting.run, { error: toRunError('runner_unavailable') }, true)
        .catch((error: unknown) => logger.error({ err: error, runId: waiting.run.id }, 'run bookkeeping failed'))
        .finally(() => slots.handedDone());
    }
  };

  /** Starts handed-over runs in the free slots; while tickets may wait, every other slot is theirs. */
  const startHanded = () => {
    expireHanded(Date.now());
    while (running && handedWaiting.length > 0) {
      if (lastWasHanded && slots.queueWaiting) return;
      if (slots.take(1) === 0) return;
      const next = handedWaiting.shift() as (typeof handedWaiting)[number];
      lastWasHanded = true;
      launch(next.run, true);
    }
  };

  const launchTicket = (run: ClaimedRun) => {
    lastWasHanded = false;
    launch(run, false);
  };
  const tickets = createTicketPump({ queue: options.queue, wake, store, slots, runnerId: id, launch: launchTicket, isRunning: () => running });
  // Passes run one at a time, woken by a NOTIFY, the poll or a run's end (each one after a pass
  // asks for one more). While the database is away, this says so once, not on every pass. After
  // each pass the slots it left go to handed-over runs.
  const loop = createSleepingLoop({
    pass: async () => {
      await tickets.pass().finally(startHanded);
      return undefined;
    },
    outage: createOutageLog(logger, 'fetching jobs'),
  });
  const pump = loop.wake;

  const every = (ms: number, work: () => Promise<unknown>, what: string) => {
    const outage = createOutageLog(logger, what);
    const timer = setInterval(() => {
      work().then(
        () => outage.succeeded(),
        (error: unknown) => outage.failed(error),
      );
    }, ms);
    timer.unref();
    timers.push(timer);
  };

  const adopt = (run: ClaimedRun, startBy: number) => {
    handedWaiting.push({ run, startBy });
    startHanded();
  };
  const direct: DirectRunner = {
    take() {
      if (!running || !slots.takeHanded()) return undefined;
      return { runnerId: id, start: adopt, release: () => slots.handedDone() };
    },
  };

  return {
    id,
    get active() {
      return active.size;
    },
    direct,
    adopt,
    start() {
      if (running) return;
      running = true;
      for (const name of [ACTION_QUEUE, SYNC_QUEUE] as const) {
        wake.onJobQueued(name, () => {
          tickets.noteQueued();
          if (running) pump();
        });
      }
      // The poll, and once now: tickets sent for later by a process that will not wake us (it
      // stopped, or it is from before this start) get a wake-up for when they are due.
      const armDue = async () => {
        for (const [name, ms] of await options.queue.nextDueInMs([ACTION_QUEUE, SYNC_QUEUE])) if (ms > 0) wake.jobDueIn(name, ms);
      };
      every(
        options.pollMs ?? POLL_MS,
        async () => {
          tickets.noteQueued();
          pump();
          await armDue();
        },
        'poll',
      );
      armDue().catch((error: unknown) => logger.warn({ err: error }, 'reading when queued tickets are due failed'));
      every(options.heartbeatMs ?? HEARTBEAT_MS, async () => (active.size > 0 || handedWaiting.length > 0 ? store.runs.heartbeat(id) : 0), 'heartbeat');
      every(HANDED_EXPIRY_CHECK_MS, async () => startHanded(), 'starting handed-over runs');
      every(TICKET_FLUSH_MS, () => tickets.completeTickets(), 'completing tickets');
      loop.start();
    },
    async stop() {
      if (!running) return;
      running = false;
      for (const timer of timers.splice(0)) clearInterval(timer);
      // A pass under way may still launch runs: they are waited for below with the others.
      await loop.stop();
      // Handed over but never started: another attempt elsewhere if one is left, else runner_lost.
      for (const waiting of handedWaiting.splice(0)) {
        await results
          .handBack(waiting.run, RUNNER_LOST, true)
          .catch((error: unknown) => logger.warn({ err: error, runId: waiting.run.id }, 'handed-over run not handed back'))
          .finally(() => slots.handedDone());
      }
      const all = () => Promise.all([...active.values()].map((a) => a.done));
      const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), options.stopGraceMs ?? STOP_GRACE_MS).unref());
      if ((await Promise.race([all().then(() => 'done' as const), grace])) === 'timeout') {
        for (const entry of active.values()) entry.abort.abort(new Error('runner stopping'));
        await all();
      }
      await tickets.completeTickets().catch((error: unknown) => logger.warn({ err: error }, 'tickets not completed'));
    },
  };
}
