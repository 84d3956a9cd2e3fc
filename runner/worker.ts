// The runner's loop: wake on NOTIFY (or the fallback poll), fetch tickets, claim their runs, run
// each in the sandbox, store the outcome, tell the waiting request. Also beats for the runs it
// holds, so that server/queue/reaper.ts can take back the runs of a runner that died.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { FunctionRegistry } from '../server/functions/registry.js';
import type { LogWriter } from '../server/logs/writer.js';
import type { Catalog } from '../server/providers/catalog.js';
import { ACTION_QUEUE, RUNNER_LOST, SYNC_QUEUE, createRunSlots, type DirectRunner, type FinishedRun, type JobQueue, type QueueName, type RunSlots, type Wake } from '../server/queue/index.js';
import { toRunError, type ClaimedRun, type FunctionKind, type RunError, type Store } from '../server/store/index.js';
import { createOutageLog } from '../server/store/index.js';
import { buildSyncOperations, type ModelChanges } from './sync-operations.js';
import { buildRunHost, toRunLogOperation, type RunLog } from './context.js';
import { decideOutcome } from './outcome.js';
import { createPump } from './pump.js';
import { createSourceMaps } from './source-map.js';
import type { OperationDeps } from './operations.js';
import type { Sandbox, SandboxLimits } from './sandbox/index.js';
import type { WebhookSender } from '../server/webhooks/index.js';

// NOTIFY wakes runners at once; this poll only covers lost notifications and tickets whose
// start time (a retry's backoff) has come.
const POLL_MS = 2000;
// Beat well inside the stale window so one slow UPDATE never makes a live run look dead.
const HEARTBEAT_MS = 5000;
// Retries of a failed attempt wait 2 s, 4 s, 8 s…: an upstream hiccup gets time to pass.
const RETRY_BASE_SECONDS = 2;
// On stop, running functions get this long to finish before they are cut off and handed back.
const STOP_GRACE_MS = 10_000;
// A sync's next run waits while the previous one still runs; its ticket is looked at again
// after this long (the poll would find it too, this only keeps the table small).
const BUSY_SYNC_RETRY_SECONDS = 5;
// Syncs page through whole accounts: an hour by default (contract: up to 24 h) before a run is
// cut short and recorded as interrupted, its checkpoint kept for the next run.
const SYNC_WALL_MS = 60 * 60_000;
// Claimed tickets are completed together this often: one statement for many runs.
const TICKET_FLUSH_MS = 200;
// Compiled bundles kept in memory by hash; far more than a deployment usually has.
const MAX_CACHED_BUNDLES = 500;

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
  /** Starts a run a request handed over, inserted running under this worker, its slot taken. */
  adopt(run: ClaimedRun): void;
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
  const { store, queue, wake, logger } = options;
  const bundles = new Map<string, string>();
  const sourceMaps = createSourceMaps((hash) => store.functions.sourceMap(hash));
  const active = new Map<string, Active>();
  const slots = options.slots ?? createRunSlots(options.concurrency);
  const directFinished = options.directFinished ?? ((run: FinishedRun) => wake.finishedHere(run));
  const timers: NodeJS.Timeout[] = [];
  let running = false;

  const bundleCode = async (hash: string) => {
    const cached = bundles.get(hash);
    if (cached !== undefined) return cached;
    const code = (await store.functions.bundles([hash])).get(hash);
    if (code === undefined) return undefined;
    if (bundles.size >= MAX_CACHED_BUNDLES) bundles.delete(bundles.keys().next().value as string);
    bundles.set(hash, code);
    return code;
  };

  const retryLater = async (run: ClaimedRun, error: RunError) => {
    if (!(await store.runs.requeue(run.id, id, error))) return;
    await queue.enqueue(queueOf(run.kind), run.id, { startAfterSeconds: RETRY_BASE_SECONDS * 2 ** (run.attempt - 1) });
  };

  const finish = async (run: ClaimedRun, result: { outputJson: string; interrupted?: RunError } | { error: RunError }) => {
    const status: FinishedRun =
      'outputJson' in result
        ? result.interrupted === undefined
          ? { id: run.id, state: 'succeeded', outputJson: result.outputJson, error: null }
          : { id: run.id, state: 'interrupted', outputJson: result.outputJson, error: result.interrupted }
        : { id: run.id, state: 'failed', outputJson: null, error: result.error };
    // A run handed over by a request of this process: the request hears of it by message; no
    // other process waits for it (its waiters' fallback poll reads the row).
    const direct = active.get(run.id)?.direct === true;
    const finished = direct ? undefined : wake.runFinishedNotify(status);
    if (await store.runs.finish(run.id, id, result, finished)) {
      if (finished === undefined) directFinished(status);
      else finished.deliverLocally();
      // Queued in the background: a webhook never fails or delays a run.
      options.webhooks?.runFinished(run, result);
    }
  };

  const execute = async (run: ClaimedRun, abort: AbortController) => {
    const startedAt = new Date();
    const changes: ModelChanges = {};
    const log: RunLog = { lines: [], dropped: 0 };
    let state: 'success' | 'failed' = 'failed';
    let failure: RunError | undefined;
    try {
      const code = await bundleCode(run.bundleHash);
      if (code === undefined) {
        failure = toRunError('script_internal_error', 'The function bundle is missing.');
        await finish(run, { error: failure });
        return;
      }
      const deployed = await options.functions.find(run.integrationKey, run.kind, run.functionName);
      const provider = options.catalog.get(run.provider);
      const isSync = run.kind === 'sync';
      const syncKey = { integrationKey: run.integrationKey, connectionId: run.connectionId, syncName: run.functionName, variant: run.variant };
      const extra = isSync ? buildSyncOperations(store, { runId: run.id, ...syncKey }, changes) : {};
      const host = buildRunHost(options.operations, { providerConfigKey: run.integrationKey, connectionId: run.connectionId, logId: run.logId, signal: abort.signal, triggerDepth: run.triggerDepth }, log, extra);
      const lastSyncDate = isSync ? await store.runs.lastSuccessAt(syncKey) : null;
      const outcome = await options.sandbox.run({
        bundle: { hash: run.bundleHash, code },
        kind: run.kind,
        input: run.input,
        context: {
          connectionId: run.connectionId,
          providerConfigKey: run.integrationKey,
          provider: run.provider,
          activityLogId: run.logId,
          ...(provider?.proxy.paginate === undefined ? {} : { paginate: provider.proxy.paginate }),
          ...(isSync ? { lastSyncDate: lastSyncDate?.toISOString() ?? null, variant: run.variant } : {}),
        },
        host: host.call,
        log: host.log,
        limits: { ...(isSync ? { wallMs: SYNC_WALL_MS } : {}), ...limitsOf(deployed?.config) },
        signal: abort.signal,
      });
      abort.abort(RUN_ENDED); // at once: storing the outcome below takes a round trip
      if (outcome.ok) {
        state = 'success';
        await finish(run, { outputJson: isSync ? JSON.stringify({ models: changes }) : outcome.outputJson });
        return;
      }
      const decision = decideOutcome(outcome.failure);
      // The author's file:line in the answer, GET /action/:id and the run's log, not the bundle's.
      if (outcome.failure.type === 'internal_error') decision.error = await sourceMaps.mapError(run.bundleHash, decision.error, outcome.failure.stack, host.log);
      failure = decision.error;
      if (isSync && outcome.failure.type === 'wall_timeout') {
        // Contract §11: a sync cut short by its limit is interrupted, not a success; what it
        // saved stays, and its checkpoint lets the next run resume.
        await finish(run, { outputJson: JSON.stringify({ models: changes }), interrupted: decision.error });
        return;
      }
      if (outcome.failure.type === 'aborted' && !running) {
        // Cut off by our own shutdown, not by the function: hand the run to another runner.
        await handBack(run, RUNNER_LOST);
        return;
      }
      if (decision.retryable && run.attempt <= run.maxRetries) await retryLater(run, decision.error);
      else await finish(run, { error: decision.error });
    } catch (error) {
      logger.error({ err: error, runId: run.id }, 'run failed inside the runner');
      failure = toRunError('script_internal_error', 'The run failed inside Patchbay.');
      await finish(run, { error: failure }).catch(() => undefined);
    } finally {
      // The run is over, whatever ended it (a limit, an error, a promise left pending): the calls
      // it still has in flight or waiting for a slot are cut, so their connection slots are free.
      abort.abort(RUN_ENDED);
      const request = { function: run.functionName, attempt: run.attempt, runId: run.id, ...(run.kind === 'sync' ? { variant: run.variant, models: changes } : {}) };
      const facts = { logId: run.logId, kind: run.kind, action: 'run' as const, integrationKey: run.integrationKey, connectionId: run.connectionId, request, startedAt };
      options.logs.write(toRunLogOperation({ ...facts, error: state === 'success' ? undefined : (failure ?? toRunError('script_internal_error')) }, log.lines, log.dropped));
    }
  };

  const handBack = async (run: ClaimedRun, error: RunError) => {
    if (run.attempt <= run.maxRetries) {
      if (await store.runs.requeue(run.id, id, error)) await queue.enqueue(queueOf(run.kind), run.id);
    } else {
      await finish(run, { error });
    }
  };

  /** Runs `run` in a slot already taken for it; the slot is given back when it ends. */
  const launch = (run: ClaimedRun, direct: boolean) => {
    const abort = new AbortController();
    const entry: Active = { run, abort, done: Promise.resolve(), direct };
    active.set(run.id, entry);
    entry.done = execute(run, abort)
      .catch((error: unknown) => logger.error({ err: error, runId: run.id }, 'run bookkeeping failed'))
      .finally(() => {
        active.delete(run.id);
        slots.give(1);
        if (running) pump();
      });
  };

  // Tickets are done once their runs are claimed (by us or anyone): the run row is the truth.
  // They are completed in batches off the run's path; a ticket left open by a crash expires and
  // comes back, and its claim then changes nothing.
  const toComplete = new Map<QueueName, string[]>([
    [ACTION_QUEUE, []],
    [SYNC_QUEUE, []],
  ]);
  const completeTickets = async () => {
    for (const [name, ids] of toComplete) {
      if (ids.length === 0) continue;
      toComplete.set(name, []);
      await queue.complete(name, ids);
    }
  };

  /**
   * One queue: fetch what fits, claim, launch. Answers `more` when it may have more, `full` when
   * no slot was free to look (it may have runs waiting), `drained` when it had fewer than asked.
   */
  const pumpQueue = async (name: QueueName): Promise<'more' | 'full' | 'drained'> => {
    // Slots are taken before fetching (a request may hand a run over meanwhile) and the ones no
    // run came for are given back.
    const free = slots.take(options.concurrency);
    if (free === 0) return 'full';
    let launched = 0;
    try {
      return await fetchAndLaunch(name, free, () => launched++);
    } finally {
      slots.give(free - launched);
    }
  };

  const fetchAndLaunch = async (name: QueueName, free: number, launched: () => void) => {
    const tickets = await queue.fetch(name, free);
    if (tickets.length === 0) return 'drained';
    const runIds = [...new Set(tickets.map((t) => t.runId))];
    const claimed = await store.runs.claim(runIds, id);
    for (const run of claimed) {
      launched();
      launch(run, false);
    }
    // Runs are written before their tickets, so a ticket whose run is not queued any more is a
    // duplicate (a retried or re-issued ticket): done. A sync still queued waits for its
    // previous run to end: its ticket comes back a little later.
    if (name === SYNC_QUEUE && claimed.length < runIds.length) {
      const claimedIds = new Set(claimed.map((run) => run.id));
      for (const runId of await store.runs.stillQueued(runIds.filter((runId) => !claimedIds.has(runId)))) {
        await queue.enqueue(SYNC_QUEUE, runId, { startAfterSeconds: BUSY_SYNC_RETRY_SECONDS });
      }
    }
    toComplete.get(name)?.push(...tickets.map((t) => t.jobId));
    return tickets.length === free ? 'more' : 'drained';
  };

  const pumpOnce = async () => {
    while (running) {
      const actions = await pumpQueue(ACTION_QUEUE);
      const syncs = await pumpQueue(SYNC_QUEUE);
      // Runs handed over directly wait while the queue may hold runs that came first: a freed
      // slot then goes to the queue (this loop runs again when a run ends).
      slots.queueWaiting = actions !== 'drained' || syncs !== 'drained';
      if (actions !== 'more' && syncs !== 'more') return;
    }
  };

  // While the database is away, each loop says so once, not on every tick.
  const fetching = createOutageLog(logger, 'fetching jobs');
  const pump = createPump(pumpOnce, fetching, () => running);

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

  const direct: DirectRunner = {
    take() {
      if (!running || !slots.takeDirect()) return undefined;
      return { runnerId: id, start: (run) => adopt(run), release: () => slots.give(1) };
    },
  };

  const adopt = (run: ClaimedRun) => {
    launch(run, true);
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
          if (running) pump();
        });
      }
      every(options.pollMs ?? POLL_MS, async () => pump(), 'poll');
      every(options.heartbeatMs ?? HEARTBEAT_MS, async () => (active.size > 0 ? store.runs.heartbeat(id) : 0), 'heartbeat');
      every(TICKET_FLUSH_MS, completeTickets, 'completing tickets');
      pump();
    },
    async stop() {
      if (!running) return;
      running = false;
      for (const timer of timers.splice(0)) clearInterval(timer);
      const all = () => Promise.all([...active.values()].map((a) => a.done));
      const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), options.stopGraceMs ?? STOP_GRACE_MS).unref());
      if ((await Promise.race([all().then(() => 'done' as const), grace])) === 'timeout') {
        for (const entry of active.values()) entry.abort.abort(new Error('runner stopping'));
        await all();
      }
      await completeTickets().catch((error: unknown) => logger.warn({ err: error }, 'tickets not completed'));
    },
  };
}

// What a function may ask for in `limits`: the contract's 15 min for an action run (§6), and a
// heap that still leaves a runner with 16 isolates on a small machine alive.
const MAX_FUNCTION_WALL_MS = 15 * 60_000;
const MAX_FUNCTION_MEMORY_MB = 1024;

/** The limits a function declared, capped by what a runner grants. */
const queueOf = (kind: FunctionKind): QueueName => (kind === 'sync' ? SYNC_QUEUE : ACTION_QUEUE);

export function limitsOf(config: Record<string, unknown> | undefined): Partial<SandboxLimits> {
  const limits = (config?.limits ?? {}) as Record<string, unknown>;
  const bounded = (value: unknown, min: number, max: number) =>
    typeof value === 'number' && Number.isFinite(value) ? Math.min(Math.max(Math.floor(value), min), max) : undefined;
  const wallMs = bounded(limits.timeoutMs, 10, MAX_FUNCTION_WALL_MS);
  const cpuMs = bounded(limits.cpuMs, 10, MAX_FUNCTION_WALL_MS);
  const memoryMb = bounded(limits.memoryMb, 8, MAX_FUNCTION_MEMORY_MB);
  return {
    ...(wallMs === undefined ? {} : { wallMs }),
    ...(cpuMs === undefined ? {} : { cpuMs }),
    ...(memoryMb === undefined ? {} : { memoryMb }),
  };
}
