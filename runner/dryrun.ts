// Dry runs on the runner: a bundle sent by `patchbay dryrun` (POST /functions/dryrun), run once
// against a real connection, nothing stored. Proxy calls go to the provider through the real
// engine and are recorded (with the answers when asked); records, checkpoints and metadata
// writes are captured (dry-run-host.ts). The dry runner claims rows of `dry_runs` itself
// (no pg-boss ticket), beside the worker, and hands the result back in the row + a NOTIFY.
import { hostname } from 'node:os';
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { toConnectionDetails } from '../server/connection-json.js';
import { isPatchbayError, PatchbayError } from '../server/errors.js';
import { newLogId, type LogWriter } from '../server/logs/writer.js';
import type { Catalog } from '../server/providers/catalog.js';
import type { ProxyEngine } from '../server/proxy/index.js';
import { createSleepingLoop, DRY_RUN_QUEUE, type Wake } from '../server/queue/index.js';
import { createOutageLog, modelKey, toRunError, type ClaimedDryRun, type FunctionKind, type RunError, type Store } from '../server/store/index.js';
import { buildRunHost, toRunLogOperation, type RunLog, type RunLogLine } from './context.js';
import { buildCapturingOperations, createCapture, type ModelCapture } from './dry-run-host.js';
import { decideOutcome } from './outcome.js';
import { buildSyncOperations } from './sync-operations.js';
import { MAX_FUNCTION_RESPONSE_BYTES, type OperationDeps } from './operations.js';
import type { Sandbox } from './sandbox/index.js';
import { bodySha256, toSavedBody, type SavedConnection, type SavedRequest, type SavedResponse } from './saved-responses.js';
import { mapRunError, mapStack, parseSourceMap, type SourceLocation } from './source-map.js';

// Dry runs are a developer's loop, not production work: two at a time per runner leaves the
// isolates to deployed functions.
const DRY_RUN_CONCURRENCY = 2;
// NOTIFY wakes the dry runner at once, and again when the LISTEN connection comes back (wake.ts):
// the poll only covers a notification lost some other way, so it is slow.
const POLL_MS = 60_000;
// A sync's dry run pages through a real account: bounded well under a real sync's hour, since a
// request waits for it.
export const DRY_RUN_SYNC_WALL_MS = 15 * 60_000;
// Calls listed in a result, and the provider answers kept for --save-responses: enough for a
// paginated sync's first pages, small enough to send back in one response.
const MAX_RECORDED_CALLS = 1000;
const MAX_SAVED_RESPONSE_BYTES = 16 * 1024 * 1024;
// Sync operations that only read the store, used as they are; every other one is captured.
const SYNC_READS = ['listRecords'];

/** What the server hands the runner besides the bundle (the `request` of a dry_runs row). */
export interface DryRunRequest {
  integrationKey: string;
  connectionId: string;
  provider: string;
  kind: FunctionKind;
  functionName: string;
  /** The entry file, relative to the functions folder. */
  sourcePath: string;
  input?: unknown;
  /** Replaces the connection's metadata for this run only. */
  metadata?: Record<string, unknown> | undefined;
  /** What getCheckpoint answers (syncs); none by default, as a first run. */
  checkpoint?: Record<string, unknown> | null | undefined;
  /** `nango.lastSyncDate` (ISO), syncs. */
  lastSyncDate?: string | null | undefined;
  /** Keep each provider answer in the result. */
  saveResponses: boolean;
}

export interface DryRunCall {
  method: string;
  endpoint: string;
  /** Null when no answer came (network error, refused by Patchbay). */
  status: number | null;
  durationMs: number;
  attempts: number;
  error?: { code: string; message: string };
  /** With saveResponses, while the result has room. */
  request?: SavedRequest;
  response?: SavedResponse;
}

export interface DryRunError extends RunError {
  /** internal_error: the first frame in the author's own code. */
  location?: SourceLocation;
}

export interface DryRunResult {
  ok: boolean;
  /** Actions: the output as JSON text. */
  outputJson?: string;
  error?: DryRunError;
  logs: RunLogLine[];
  logsDropped: number;
  calls: DryRunCall[];
  callsDropped: number;
  /** Answers not kept (over the size bound) though saveResponses asked for them. */
  responsesDropped: number;
  models: Record<string, ModelCapture>;
  checkpoint?: { value: Record<string, unknown> | null };
  metadata?: { value: Record<string, unknown> };
  connection?: SavedConnection;
  cpuMs: number;
  wallMs: number;
}

export interface DryRunDeps {
  sandbox: Sandbox;
  store: Store;
  catalog: Catalog;
  logs: LogWriter;
  operations: OperationDeps;
}

/** Runs one dry run to its result; never throws for anything the function does. */
export async function executeDryRun(deps: DryRunDeps, dryRun: Pick<ClaimedDryRun, 'code' | 'sourceMap'>, request: DryRunRequest, signal: AbortSignal): Promise<DryRunResult> {
  const startedAt = new Date();
  const logId = newLogId();
  const log: RunLog = { lines: [], dropped: 0 };
  const recorder = createCallRecorder(request.saveResponses);
  const capture = createCapture();
  const keys = { integrationKey: request.integrationKey, connectionId: request.connectionId };
  const connection = async () => {
    const found = await deps.store.connections.get(request.integrationKey, request.connectionId);
    if (found === undefined) throw new PatchbayError('unknown_connection');
    return found;
  };
  const capturing = buildCapturingOperations(capture, {
    checkpoint: request.checkpoint ?? null,
    readMetadata: async () => request.metadata ?? (await connection()).metadata,
    readConnection: async () => {
      const { metadata: _replaced, ...details } = toConnectionDetails(await connection());
      return details;
    },
    readRecords: async (model, ids) => [...(await deps.store.records.getByIds({ ...keys, model: modelKey(model, 'base') }, ids)).entries()],
  });
  const operations: OperationDeps = { ...deps.operations, proxy: recordingEngine(deps.operations.proxy, recorder) };
  // A sync may read what is stored (read only); its writes are the captured ones above.
  const syncOperations = request.kind === 'sync' ? buildSyncOperations(deps.store, { runId: randomUUID(), ...keys, syncName: request.functionName, variant: 'base' }, {}) : {};
  const syncReads = Object.fromEntries(SYNC_READS.flatMap((name) => (syncOperations[name] === undefined ? [] : [[name, syncOperations[name]]])));
  const host = buildRunHost(operations, { providerConfigKey: request.integrationKey, connectionId: request.connectionId, logId, signal }, log, { ...syncReads, ...capturing });
  const provider = deps.catalog.get(request.provider);
  const code = dryRun.code;
  const outcome = await deps.sandbox.run({
    // By content, as deployed bundles: the next dry run of unchanged code compiles from cache.
    bundle: { hash: createHash('sha256').update(code).digest('hex'), code },
    kind: request.kind,
    input: request.input ?? null,
    context: {
      connectionId: request.connectionId,
      providerConfigKey: request.integrationKey,
      provider: request.provider,
      activityLogId: logId,
      ...(provider?.proxy.paginate === undefined ? {} : { paginate: provider.proxy.paginate }),
      ...(request.kind === 'sync' ? { lastSyncDate: request.lastSyncDate ?? null, variant: 'base' } : {}),
    },
    host: host.call,
    log: host.log,
    limits: request.kind === 'sync' ? { wallMs: DRY_RUN_SYNC_WALL_MS } : {},
    signal,
  });

  const map = parseSourceMap(dryRun.sourceMap);
  const logs = log.lines.map((line) => (line.message.includes('function.js:') ? { ...line, message: mapStack(line.message, map).stack } : line));
  let error: DryRunError | undefined;
  if (!outcome.ok) {
    error = decideOutcome(outcome.failure).error;
    if (outcome.failure.type === 'internal_error') {
      const mapped = mapRunError(error, outcome.failure.stack, map);
      error = { ...mapped.error, ...(mapped.location === undefined ? {} : { location: mapped.location }) };
    }
  }
  // Real calls with real credentials are audited like any: one log operation (action `dryrun`)
  // holding the run's lines, with the proxy calls as its children.
  const facts = { logId, kind: request.kind, action: 'dryrun' as const, integrationKey: request.integrationKey, connectionId: request.connectionId, startedAt };
  deps.logs.write(toRunLogOperation({ ...facts, request: { function: request.functionName, dryRun: true }, error }, logs, 0));
  return {
    ok: outcome.ok,
    ...(outcome.ok && request.kind !== 'sync' ? { outputJson: outcome.outputJson } : {}),
    ...(error === undefined ? {} : { error }),
    logs,
    logsDropped: log.dropped,
    calls: recorder.calls,
    callsDropped: recorder.callsDropped,
    responsesDropped: recorder.responsesDropped,
    models: capture.models,
    ...(capture.checkpoint === undefined ? {} : { checkpoint: capture.checkpoint }),
    ...(capture.metadata === undefined ? {} : { metadata: capture.metadata }),
    ...(capture.connection === undefined ? {} : { connection: capture.connection }),
    cpuMs: outcome.cpuMs,
    wallMs: outcome.wallMs,
  };
}

interface CallRecorder {
  calls: DryRunCall[];
  callsDropped: number;
  responsesDropped: number;
  record(call: DryRunCall, response?: () => SavedResponse): void;
}

function createCallRecorder(saveResponses: boolean): CallRecorder {
  let savedBytes = 0;
  const recorder: CallRecorder = {
    calls: [],
    callsDropped: 0,
    responsesDropped: 0,
    record(call, response) {
      if (recorder.calls.length >= MAX_RECORDED_CALLS) {
        recorder.callsDropped++;
        return;
      }
      if (saveResponses && response !== undefined) {
        const saved = response();
        const bytes = JSON.stringify(saved).length;
        if (savedBytes + bytes <= MAX_SAVED_RESPONSE_BYTES) {
          savedBytes += bytes;
          call.response = saved;
        } else {
          recorder.responsesDropped++;
        }
      }
      if (!saveResponses) delete call.request;
      recorder.calls.push(call);
    },
  };
  return recorder;
}

/**
 * The engine, with each call and its answer recorded. The body is read here (up to the bound
 * the operation enforces, plus one byte so it still sees an oversized one) and handed on.
 */
function recordingEngine(engine: ProxyEngine, recorder: CallRecorder): ProxyEngine {
  return {
    ...engine,
    async call(call) {
      const started = performance.now();
      const body = Buffer.isBuffer(call.body) ? call.body : undefined;
      const request: SavedRequest = { method: call.method, endpoint: call.endpoint, body_sha256: bodySha256(body) };
      const base = { method: call.method, endpoint: call.endpoint, request };
      let result;
      try {
        result = await engine.call(call);
      } catch (error) {
        const code = isPatchbayError(error) ? error.code : 'internal_error';
        const message = isPatchbayError(error) ? error.message : 'The call failed inside Patchbay.';
        recorder.record({ ...base, status: null, durationMs: Math.round(performance.now() - started), attempts: 0, error: { code, message } });
        throw error;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      try {
        for await (const chunk of result.body) {
          const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
          chunks.push(buffer);
          total += buffer.byteLength;
          if (total > MAX_FUNCTION_RESPONSE_BYTES) break;
        }
      } finally {
        if (total > MAX_FUNCTION_RESPONSE_BYTES) result.body.destroy();
      }
      const bytes = Buffer.concat(chunks, total);
      const headers = Object.fromEntries(Object.entries(result.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value]));
      recorder.record(
        { ...base, status: result.status, durationMs: Math.round(performance.now() - started), attempts: result.attempts.length },
        total > MAX_FUNCTION_RESPONSE_BYTES ? undefined : () => ({ status: result.status, headers, ...toSavedBody(bytes, headers['content-type']) }),
      );
      return { ...result, body: Readable.from([bytes]) };
    },
  };
}

export interface DryRunnerOptions {
  store: Store;
  wake: Wake;
  logger: FastifyBaseLogger;
  deps: DryRunDeps;
  pollMs?: number;
}

export interface DryRunner {
  start(): void;
  stop(): Promise<void>;
}

export function createDryRunner(options: DryRunnerOptions): DryRunner {
  const { store, wake, logger } = options;
  const id = `${hostname()}:${process.pid}:dryrun:${randomUUID().slice(0, 8)}`;
  const active = new Map<string, { abort: AbortController; done: Promise<void> }>();
  let running = false;

  const execute = async (claimed: ClaimedDryRun, abort: AbortController) => {
    let result: DryRunResult;
    try {
      result = await executeDryRun(options.deps, claimed, claimed.request as DryRunRequest, abort.signal);
    } catch (error) {
      logger.error({ err: error, dryRunId: claimed.id }, 'dry run failed inside the runner');
      result = failedResult(toRunError('script_internal_error', 'The dry run failed inside Patchbay.'));
    } finally {
      abort.abort();
    }
    const finished = wake.runFinishedNotify({ id: claimed.id, state: 'succeeded', outputJson: null, error: null });
    if (await store.dryRuns.finish(claimed.id, id, JSON.stringify(result), finished)) finished.deliverLocally();
  };

  const pumpOnce = async () => {
    while (running) {
      const free = DRY_RUN_CONCURRENCY - active.size;
      if (free <= 0) return;
      const claimed = await store.dryRuns.claim(free, id);
      for (const dryRun of claimed) {
        const abort = new AbortController();
        const entry = { abort, done: Promise.resolve() };
        active.set(dryRun.id, entry);
        entry.done = execute(dryRun, abort)
          .catch((error: unknown) => logger.error({ err: error, dryRunId: dryRun.id }, 'dry run bookkeeping failed'))
          .finally(() => {
            active.delete(dryRun.id);
            loop.wake();
          });
      }
      if (claimed.length < free) return;
    }
  };

  // Woken by a dry run's NOTIFY (and by its own ends); otherwise a pass a minute.
  const loop = createSleepingLoop({
    pass: async () => {
      await pumpOnce();
      return options.pollMs ?? POLL_MS;
    },
    outage: createOutageLog(logger, 'fetching dry runs'),
    retryMs: options.pollMs ?? POLL_MS,
  });

  return {
    start() {
      if (running) return;
      running = true;
      wake.onJobQueued(DRY_RUN_QUEUE, loop.wake);
      loop.start();
    },
    async stop() {
      if (!running) return;
      running = false;
      await loop.stop();
      // A dry run is a developer waiting at a terminal: cut, not drained; the request says so.
      for (const entry of active.values()) entry.abort.abort(new Error('runner stopping'));
      await Promise.all([...active.values()].map((entry) => entry.done));
    },
  };
}

function failedResult(error: RunError): DryRunResult {
  return { ok: false, error, logs: [], logsDropped: 0, calls: [], callsDropped: 0, responsesDropped: 0, models: {}, cpuMs: 0, wallMs: 0 };
}
