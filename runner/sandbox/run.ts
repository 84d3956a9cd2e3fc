// One run or inspection on one isolate: take the function's warm context or evaluate the bundle
// in a fresh one, call the guest's entry, enforce the limits (wall timer, CPU watchdog, abort,
// heap limit → isolate disposed), keep the context warm or release it, and check the guest's
// answer field by field: it is untrusted data.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type ivm from 'isolated-vm';
import type { RecordedFailure, RunBinding } from './bridge.js';
import { MAX_MESSAGE_CHARS, trimStack } from './guest/failure.js';
import { loadGuestRuntime } from './guest-script.js';
import { FUNCTION_FILENAME, type GuestRequest } from './guest/protocol.js';
import { MAX_RUNS_PER_CONTEXT, type SandboxLimits } from './limits.js';
import { releasePrepared, type IsolatePool, type IsolateSlot, type PreparedContext } from './pool.js';
import type { FunctionBundle, FunctionSummary, InspectResult, RunFailure, RunOutcome } from './types.js';

type KillReason = 'cpu_limit' | 'wall_timeout' | 'aborted';

/** How a session on an isolate ended, before the guest's answer is read. */
type Ending =
  | { how: 'answered'; value: unknown }
  | { how: 'limit'; failure: RunFailure }
  | { how: 'failed'; failure: RunFailure }
  | { how: 'broken'; error: unknown };

export interface Session {
  ending: Ending;
  cpuMs: number;
  wallMs: number;
  /** The isolate must be replaced: killed, or left with calls in flight into a dead context. */
  dirty: boolean;
  /** The run found its function's context warm (no bundle evaluation). */
  warm: boolean;
  failureOf(failureRef: number): RecordedFailure | undefined;
}

/** The guest's request; a run's token is the bridge's to give. */
export type SessionRequest = Omit<Extract<GuestRequest, { mode: 'run' }>, 'runToken'> | Extract<GuestRequest, { mode: 'inspect' }>;

interface SessionJob {
  bundle: FunctionBundle;
  request: SessionRequest;
  limits: SandboxLimits;
  signal?: AbortSignal | undefined;
  binding?: RunBinding | undefined;
}

// Copy rules for the entry call: the request goes in as a copy, the answer comes out as one.
const ENTER_OPTIONS = { arguments: { copy: true }, result: { promise: true, copy: true } } as const;

const bound = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

function cpuNs(isolate: ivm.Isolate, fallback: bigint): bigint {
  try {
    return isolate.cpuTime;
  } catch {
    return fallback;
  }
}

/** An error the bundle's top level threw, read on the host: only the function's frames are kept. */
function toTopLevelFailure(error: unknown): RunFailure {
  if (error instanceof Error) {
    return {
      type: 'internal_error',
      name: bound(error.name, 200),
      message: bound(error.message, MAX_MESSAGE_CHARS),
      stack: typeof error.stack === 'string' ? trimStack(error.stack) : '',
    };
  }
  return { type: 'internal_error', name: 'Error', message: 'A non-error value was thrown while loading the function.', stack: '' };
}

/** Whether the guest's answer asks for a fresh context next time (the definition's `reuseContext: false`). */
const wantsFresh = (answer: unknown) => typeof answer === 'object' && answer !== null && (answer as { fresh?: unknown }).fresh === true;

/** Runs one job on `slot`: the one place that creates, keeps and releases everything a run touches. */
export async function runSession(pool: IsolatePool, slot: IsolateSlot, job: SessionJob): Promise<Session> {
  slot.runs++;
  const warm = job.request.mode === 'run' ? slot.takeWarm(job.bundle.hash) : undefined;
  const prepared: PreparedContext = warm?.prepared ?? (await slot.takePrepared());
  const isolate = slot.isolate;
  const cpuStart = cpuNs(isolate, 0n);
  let cpuEnd: bigint | undefined;
  // The run's CPU: its isolate's, and the host's on its behalf (services, operation arguments and
  // replies), which the isolate's clock does not see: the guest only waits while the host works.
  const usedNs = () => (cpuEnd ?? cpuNs(isolate, cpuStart)) - cpuStart + prepared.bridge.hostNs;
  const wallStart = performance.now();

  let killReason: KillReason | undefined;
  let onKilled!: () => void;
  const killed = new Promise<'killed'>((resolve) => {
    onKilled = () => resolve('killed');
  });
  const kill = (reason: KillReason) => {
    if (killReason !== undefined) return;
    killReason = reason;
    cpuEnd = cpuNs(isolate, cpuStart);
    if (!isolate.isDisposed) isolate.dispose();
    onKilled();
  };
  const wallTimer = setTimeout(() => kill('wall_timeout'), job.limits.wallMs);
  const unwatch = pool.watchCpu(usedNs, job.limits.cpuMs, () => kill('cpu_limit'));
  const onAbort = () => kill('aborted');
  job.signal?.addEventListener('abort', onAbort, { once: true });
  const untrack = pool.track(onAbort);
  // close() may have run while this run waited for its context.
  if (pool.closed) onAbort();
  if (job.binding !== undefined) prepared.bridge.attach(job.binding);
  const request: GuestRequest = job.request.mode === 'run' ? { ...job.request, runToken: prepared.bridge.runToken } : job.request;

  let ending: Ending;
  try {
    if (job.signal?.aborted) onAbort();
    const work = (async (): Promise<Ending> => {
      if (warm === undefined) {
        let script: ivm.Script;
        try {
          script = await slot.script(job.bundle.hash, job.bundle.code, FUNCTION_FILENAME);
        } catch (error) {
          if (isolate.isDisposed) throw error;
          return { how: 'failed', failure: { type: 'invalid_definition', message: `The bundle does not compile: ${bound(error instanceof Error ? error.message : String(error), 1000)}` } };
        }
        try {
          await script.run(prepared.context);
        } catch (error) {
          if (isolate.isDisposed) throw error;
          return { how: 'failed', failure: toTopLevelFailure(error) };
        }
      }
      return { how: 'answered', value: await prepared.enter.apply(undefined, [request], ENTER_OPTIONS) };
    })();
    // When a kill wins the race, `work` rejects later with "isolate disposed": nothing to report,
    // but the pool's close() still waits for it (isolated-vm answers on this thread).
    work.catch(() => undefined);
    const first = await Promise.race([work, killed]);
    if (first === 'killed') pool.letGo(work);
    ending = first === 'killed' ? limitEnding(killReason, job.limits) : first;
  } catch (error) {
    ending = { how: 'broken', error };
  } finally {
    clearTimeout(wallTimer);
    unwatch();
    job.signal?.removeEventListener('abort', onAbort);
    untrack();
  }

  // The isolate disposed without a kill of ours: isolated-vm's heap limit.
  if (killReason !== undefined) ending = limitEnding(killReason, job.limits);
  else if (isolate.isDisposed) ending = { how: 'limit', failure: { type: 'out_of_memory', limitMb: slot.memoryMb } };

  const cpuMs = Number(usedNs()) / 1e6;
  const wallMs = performance.now() - wallStart;
  const { inFlight } = prepared.bridge.detach();
  const dirty = killReason !== undefined || isolate.isDisposed || inFlight > 0;
  // Kept for the function's next run when it answered (an error it threw included) and nothing
  // of it is still running; a limit, a failed load or calls left in flight drop it.
  const runs = (warm?.runs ?? 0) + 1;
  if (!dirty && job.request.mode === 'run' && ending.how === 'answered' && !wantsFresh(ending.value) && runs < MAX_RUNS_PER_CONTEXT) {
    slot.keepWarm(job.bundle.hash, { prepared, runs });
  } else {
    releasePrepared(prepared);
  }
  return {
    ending,
    cpuMs,
    wallMs,
    dirty,
    warm: warm !== undefined,
    // Read before the slot is released: the next run on this context clears the failures.
    failureOf: (failureRef) => prepared.bridge.failure(failureRef),
  };
}

function limitEnding(reason: KillReason | undefined, limits: SandboxLimits): Ending {
  switch (reason) {
    case 'cpu_limit':
      return { how: 'limit', failure: { type: 'cpu_limit', limitMs: limits.cpuMs } };
    case 'wall_timeout':
      return { how: 'limit', failure: { type: 'wall_timeout', limitMs: limits.wallMs } };
    default:
      return { how: 'limit', failure: { type: 'aborted' } };
  }
}

// ───────────────────────── reading the guest's answer ─────────────────────────

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const RUNTIME_FAILED: RunFailure = { type: 'internal_error', name: 'Error', message: 'The function runtime returned an unexpected result.', stack: '' };

function parseJson(text: unknown): { ok: true; value: unknown } | { ok: false } {
  if (typeof text !== 'string') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function fromRecorded(recorded: RecordedFailure | undefined): RunFailure {
  if (recorded === undefined) {
    return { type: 'internal_error', name: 'Error', message: 'An error from a nango call that ended with an earlier run, or too long ago, escaped the function.', stack: '' };
  }
  if (recorded.kind === 'http') return { type: 'http_error', status: recorded.status, headers: recorded.headers, data: recorded.data };
  const { failure } = recorded;
  if (failure.response !== undefined) return { type: 'http_error', status: failure.response.status, headers: failure.response.headers, data: failure.response.data };
  if (failure.code === 'network_error') return { type: 'network_error', message: failure.message };
  return { type: 'sdk_error', code: failure.code, message: failure.message, ...(failure.status !== undefined ? { status: failure.status } : {}) };
}

/** The guest's failure, field by field; anything off-shape is an internal error, never trusted. */
function toRunFailure(failure: unknown, session: Session, limits: SandboxLimits): RunFailure {
  if (!isRecord(failure)) return RUNTIME_FAILED;
  const text = (key: string) => (typeof failure[key] === 'string' ? (failure[key] as string) : undefined);
  switch (failure.type) {
    case 'action_error': {
      const json = text('payloadJson');
      if (json === undefined) return RUNTIME_FAILED;
      const bytes = Buffer.byteLength(json, 'utf8');
      if (bytes > limits.maxOutputBytes) return { type: 'output_too_large', bytes, limit: limits.maxOutputBytes };
      const parsed = parseJson(json);
      return { type: 'action_error', payload: parsed.ok ? parsed.value : null };
    }
    case 'host_failure':
      return typeof failure.failureRef === 'number' ? fromRecorded(session.failureOf(failure.failureRef)) : RUNTIME_FAILED;
    case 'internal_error':
      return {
        type: 'internal_error',
        name: bound(text('name') ?? 'Error', 200),
        message: bound(text('message') ?? '', MAX_MESSAGE_CHARS),
        // Trimmed again here: the guest's own trimming ran among user code.
        stack: trimStack(text('stack') ?? ''),
      };
    case 'invalid_input':
    case 'invalid_output': {
      const parsed = parseJson(failure.issuesJson);
      return { type: failure.type, issues: parsed.ok && Array.isArray(parsed.value) ? parsed.value : [] };
    }
    case 'invalid_definition':
      return { type: 'invalid_definition', message: bound(text('message') ?? 'Invalid definition', 1000) };
    case 'output_too_large':
      return { type: 'output_too_large', bytes: typeof failure.bytes === 'number' ? failure.bytes : limits.maxOutputBytes + 1, limit: limits.maxOutputBytes };
    case 'output_not_json':
      return { type: 'output_not_json', message: bound(text('message') ?? '', 1000) };
    default:
      return RUNTIME_FAILED;
  }
}

export function toRunOutcome(session: Session, limits: SandboxLimits): RunOutcome {
  const { ending, cpuMs, wallMs } = session;
  const fail = (failure: RunFailure): RunOutcome => ({ ok: false, failure, cpuMs, wallMs });
  switch (ending.how) {
    case 'limit':
    case 'failed':
      return fail(ending.failure);
    case 'broken':
      return fail({ type: 'internal_error', name: 'Error', message: 'The function runtime failed.', stack: '' });
    case 'answered': {
      const answer = ending.value;
      if (!isRecord(answer)) return fail(RUNTIME_FAILED);
      if (answer.ok !== true) return fail(toRunFailure(answer.failure, session, limits));
      if (typeof answer.outputJson !== 'string') return fail(RUNTIME_FAILED);
      const outputJson = answer.outputJson;
      const bytes = Buffer.byteLength(outputJson, 'utf8');
      if (bytes > limits.maxOutputBytes) return fail({ type: 'output_too_large', bytes, limit: limits.maxOutputBytes });
      const parsed = parseJson(outputJson);
      if (!parsed.ok) return fail({ type: 'output_not_json', message: 'The output is not valid JSON.' });
      return { ok: true, output: parsed.value, outputJson, cpuMs, wallMs };
    }
  }
}

// ───────────────────────── reading a definition ─────────────────────────

const stringList = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string').map((item) => bound(item, 200)) : undefined);

/**
 * What a definition read from a bundle depends on besides the bundle: the guest runtime that reads
 * it and this file, which checks what the guest answers (toInspectResult). Kept definitions are
 * keyed by it (runner/definition-cache.ts).
 */
export async function inspectFingerprint(): Promise<string> {
  const [runtime, checker] = await Promise.all([loadGuestRuntime(), readFile(fileURLToPath(import.meta.url))]);
  return createHash('sha256').update(runtime).update('\0').update(checker).digest('hex');
}

/** The guest's summary of a definition, checked and rebuilt field by field. */
export function toInspectResult(session: Session): InspectResult {
  const { ending } = session;
  if (ending.how === 'limit') return { ok: false, message: `Loading the function hit a limit: ${ending.failure.type}.` };
  if (ending.how === 'failed') {
    const failure = ending.failure;
    const message = failure.type === 'internal_error' ? `${failure.name}: ${failure.message}` : failure.type === 'invalid_definition' ? failure.message : failure.type;
    return { ok: false, message: `Loading the function failed: ${message}` };
  }
  if (ending.how === 'broken' || !isRecord(ending.value)) return { ok: false, message: 'The function runtime failed while reading the definition.' };
  const answer = ending.value;
  if (answer.ok !== true) return { ok: false, message: bound(typeof answer.message === 'string' ? answer.message : 'Invalid definition.', 1000) };
  const raw = answer.summary;
  if (!isRecord(raw) || (raw.type !== 'action' && raw.type !== 'sync' && raw.type !== 'on-event')) return { ok: false, message: 'The definition has no valid type.' };
  const summary: FunctionSummary = {
    type: raw.type,
    description: bound(typeof raw.description === 'string' ? raw.description : '', 10_000),
    version: bound(typeof raw.version === 'string' ? raw.version : '0.0.1', 100),
    hasInput: raw.hasInput === true,
    hasOutput: raw.hasOutput === true,
    hasOnWebhook: raw.hasOnWebhook === true,
  };
  if (raw.type === 'sync') {
    if (typeof raw.frequency !== 'string' || raw.frequency === '') return { ok: false, message: 'A sync needs a frequency (createSync({frequency: "every hour", …})).' };
    summary.frequency = bound(raw.frequency, 100);
    summary.autoStart = raw.autoStart !== false;
    summary.models = stringList(raw.models) ?? [];
    if (typeof raw.trackDeletes === 'boolean') summary.trackDeletes = raw.trackDeletes;
    if (typeof raw.syncType === 'string') summary.syncType = bound(raw.syncType, 100);
    const subscriptions = stringList(raw.webhookSubscriptions);
    if (subscriptions !== undefined) summary.webhookSubscriptions = subscriptions;
  }
  if (raw.type === 'on-event') {
    if (typeof raw.event !== 'string') return { ok: false, message: 'An on-event function needs an event.' };
    summary.event = bound(raw.event, 100);
  }
  const scopes = stringList(raw.scopes);
  if (scopes !== undefined) summary.scopes = scopes;
  if (isRecord(raw.limits)) {
    const limits: NonNullable<FunctionSummary['limits']> = {};
    for (const key of ['timeoutMs', 'cpuMs', 'memoryMb'] as const) {
      const value = raw.limits[key];
      if (typeof value === 'number' && Number.isFinite(value) && value > 0) limits[key] = value;
    }
    summary.limits = limits;
  }
  return { ok: true, summary };
}
