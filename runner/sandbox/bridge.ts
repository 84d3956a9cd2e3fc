// The host end of one context's bridge: the operation call, the timer and the synchronous services
// handed to the guest at bootstrap. Values cross as copies the host makes; host exceptions become
// data here (no host Error, stack or path reaches the guest). Every input is size-checked
// (guest/bounds.ts) and the host time spent on the run's behalf is counted (`hostNs`), so the CPU
// limit covers it. Serves one run at a time: a warm context is attached to each of its runs in
// turn, and a call from any other run than the attached one is refused.
import ivm from 'isolated-vm';
import { Lru } from '../../server/lru.js';
import { MAX_CALL_BODY_BYTES, MAX_CALL_JSON_CHARS, MAX_LOG_MESSAGE_CHARS } from './guest/bounds.js';
import type { HostFailureData, HostReply, SyncReply } from './guest/protocol.js';
import { HOST_CALL_OVERHEAD_NS, MAX_REMEMBERED_FAILURES } from './limits.js';
import { servePure } from './services.js';
import type { HostCall, LogLevel } from './types.js';

/** What a failureRef stands for: a non-2xx proxy response or a failed operation. */
export type RecordedFailure = { kind: 'http'; status: number; headers: Record<string, string>; data: unknown } | { kind: 'host'; failure: HostFailureData };

export interface RunBinding {
  host: HostCall;
  log: (level: LogLevel, message: string, meta?: unknown) => void;
}

const LOG_LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);
const ERROR_NAMES: ReadonlySet<string> = new Set(['TypeError', 'RangeError', 'InvalidCharacterError', 'SyntaxError']);
// Service error messages are Node's (`Invalid URL`, `The encoded data was not valid…`); capped
// because some echo their input.
const MAX_SERVICE_MESSAGE_CHARS = 1000;

/**
 * A copy of `value` whose typed arrays own exactly their bytes. Structured clone copies a view's
 * whole ArrayBuffer, and a Node Buffer usually views an 8 KB pool shared with unrelated data.
 */
export function toExactBytes(value: unknown, seen: Set<object> = new Set()): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item = value[index] as unknown;
      const exact = toExactBytes(item, seen);
      if (exact !== item) (copy ??= value.slice())[index] = exact;
    }
    return copy ?? value;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const exact = toExactBytes(item, seen);
    if (exact !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = exact;
  }
  return copy ?? value;
}

/** A HostFailure thrown by the host, checked field by field; anything else is an internal failure. */
export function toFailureData(thrown: unknown): HostFailureData {
  const candidate = thrown as Partial<HostFailureData> & { hostFailure?: unknown };
  if (typeof thrown !== 'object' || thrown === null || candidate.hostFailure !== true || typeof candidate.code !== 'string') {
    return { code: 'internal_error', message: 'The operation failed inside Patchbay.' };
  }
  const failure: HostFailureData = { code: candidate.code, message: typeof candidate.message === 'string' ? candidate.message : candidate.code };
  if (typeof candidate.status === 'number') failure.status = candidate.status;
  const response = candidate.response;
  if (typeof response === 'object' && response !== null && typeof response.status === 'number') {
    failure.response = { status: response.status, headers: typeof response.headers === 'object' && response.headers !== null ? { ...response.headers } : {}, data: response.data };
  }
  return failure;
}

/**
 * An operation's arguments as the guest sends them: their JSON, and a binary request body apart
 * (`data` of nango.proxy). The guest checked both sizes before they crossed; checked again here.
 */
function parseCallArgs(argsJson: unknown, body: unknown): Record<string, unknown> {
  if (typeof argsJson !== 'string' || argsJson.length > MAX_CALL_JSON_CHARS) {
    throw { hostFailure: true, code: 'invalid_arguments', message: `The arguments must be JSON of at most ${MAX_CALL_JSON_CHARS} characters.` } satisfies HostFailureData & { hostFailure: true };
  }
  const parsed = JSON.parse(argsJson) as unknown;
  const args = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  if (body instanceof Uint8Array) {
    if (body.byteLength > MAX_CALL_BODY_BYTES) {
      throw { hostFailure: true, code: 'invalid_arguments', message: `A request body may be at most ${MAX_CALL_BODY_BYTES} bytes.` } satisfies HostFailureData & { hostFailure: true };
    }
    args.data = body;
  }
  return args;
}

function isErrorResponse(value: unknown): value is { status: number; headers?: Record<string, string>; data?: unknown } {
  return typeof value === 'object' && value !== null && typeof (value as { status?: unknown }).status === 'number' && (value as { status: number }).status >= 400;
}

function serviceError(error: unknown): SyncReply {
  const name = (error as { name?: unknown } | null)?.name;
  const message = (error as { message?: unknown } | null)?.message;
  return [
    false,
    typeof name === 'string' && ERROR_NAMES.has(name) ? name : 'Error',
    typeof message === 'string' ? message.slice(0, MAX_SERVICE_MESSAGE_CHARS) : 'The operation failed.',
  ];
}

// One shared reason: a per-run Error would capture a stack whose frames keep the run's request
// (and its host operations) alive for as long as anything holds the aborted signal.
const RUN_ENDED = new Error('The run has ended.');
const refusedService = (): SyncReply => serviceError(RUN_ENDED);

export class ContextBridge {
  /** Handed to the guest runtime's bootstrap, in this order. */
  readonly call: ivm.Reference<(op: unknown, argsJson: unknown, body: unknown, runToken: unknown) => Promise<unknown>>;
  readonly timer: ivm.Reference<(id: unknown, delayMs: unknown) => Promise<boolean>>;
  readonly service: ivm.Callback<(...args: unknown[]) => SyncReply>;

  #binding: RunBinding | undefined;
  #runEnded = new AbortController();
  #runToken = 0;
  #closed = true;
  #inFlight = 0;
  #nextFailureRef = 1;
  #hostNs = 0n;
  readonly #failures = new Lru<number, RecordedFailure>(MAX_REMEMBERED_FAILURES);
  readonly #timers = new Map<number, { handle: NodeJS.Timeout; resolve: (fired: boolean) => void }>();

  // isolated-vm keeps a global handle on each host function until the isolate collects the
  // guest's side, which it does lazily (hundreds of runs later): the functions reach the bridge
  // only through this slot, emptied on release, so a finished run's host state can be freed.
  readonly #self: { bridge: ContextBridge | undefined } = { bridge: this };

  constructor() {
    const self = this.#self;
    this.call = new ivm.Reference((op: unknown, argsJson: unknown, body: unknown, runToken: unknown) =>
      self.bridge === undefined ? Promise.reject(RUN_ENDED) : self.bridge.#call(op, argsJson, body, runToken),
    );
    this.timer = new ivm.Reference((id: unknown, delayMs: unknown) => (self.bridge === undefined ? Promise.resolve(false) : self.bridge.#startTimer(id, delayMs)));
    this.service = new ivm.Callback((...args: unknown[]) => (self.bridge === undefined ? refusedService() : self.bridge.#service(args)));
  }

  /** Starts a run on this context: its host operations, a new token, nothing of the last run's. */
  attach(binding: RunBinding): void {
    this.detach();
    this.#binding = binding;
    this.#closed = false;
    this.#runToken++;
    this.#runEnded = new AbortController();
    this.#failures.clear();
    this.#hostNs = 0n;
  }

  /** The attached run's token: the guest's `nango` for this run carries it on every call. */
  get runToken(): number {
    return this.#runToken;
  }

  /**
   * Host CPU spent on this run's behalf since attach: synchronous services, and decoding the
   * arguments and copying the reply of each operation, each call plus HOST_CALL_OVERHEAD_NS.
   * Not measured: isolated-vm's copies of a service's arguments and result (bounded by
   * guest/bounds.ts) and an operation's I/O.
   */
  get hostNs(): bigint {
    return this.#hostNs;
  }

  /** Ends the run's use of this bridge: timers cleared, later calls refused. Returns calls still in flight. */
  detach(): { inFlight: number } {
    this.#closed = true;
    this.#binding = undefined;
    this.#runEnded.abort(RUN_ENDED);
    for (const timer of this.#timers.values()) {
      clearTimeout(timer.handle);
      timer.resolve(false);
    }
    this.#timers.clear();
    return { inFlight: this.#inFlight };
  }

  release(): void {
    this.detach();
    this.#self.bridge = undefined;
    this.call.release();
    this.timer.release();
  }

  /** The failure a guest error refers to, if this run recorded it. */
  failure(failureRef: number): RecordedFailure | undefined {
    return this.#failures.peek(failureRef);
  }

  #remember(failure: RecordedFailure): number {
    const failureRef = this.#nextFailureRef++;
    this.#failures.set(failureRef, failure); // the oldest goes past MAX_REMEMBERED_FAILURES
    return failureRef;
  }

  async #call(op: unknown, argsJson: unknown, body: unknown, runToken: unknown): Promise<ivm.Copy<HostReply>> {
    const binding = this.#binding;
    if (this.#closed || binding === undefined || runToken !== this.#runToken) {
      return this.#reply({ ok: false, failureRef: 0, failure: { code: 'run_ended', message: 'The run has ended; nango can no longer be used.' } });
    }
    this.#inFlight++;
    let reply: HostReply;
    try {
      const started = process.hrtime.bigint();
      let pending: Promise<unknown>;
      try {
        // The operation's synchronous start (building the request, encoding a JSON body) is counted too.
        pending = binding.host(String(op), parseCallArgs(argsJson, body), this.#runEnded.signal);
      } finally {
        this.#hostNs += process.hrtime.bigint() - started + HOST_CALL_OVERHEAD_NS;
      }
      const value = await pending;
      if (op === 'proxy' && isErrorResponse(value)) {
        const failureRef = this.#remember({ kind: 'http', status: value.status, headers: { ...(value.headers ?? {}) }, data: value.data });
        reply = { ok: true, value, failureRef };
      } else {
        reply = { ok: true, value };
      }
    } catch (thrown) {
      const failure = toFailureData(thrown);
      reply = { ok: false, failureRef: this.#remember({ kind: 'host', failure }), failure };
    } finally {
      this.#inFlight--;
    }
    return this.#reply(reply);
  }

  #reply(reply: HostReply): ivm.Copy<HostReply> {
    const started = process.hrtime.bigint();
    try {
      return new ivm.ExternalCopy(toExactBytes(reply) as HostReply).copyInto({ release: true });
    } catch {
      // A value structured clone refuses (a function, a class with private state…).
      const failure: HostFailureData = { code: 'internal_error', message: 'The operation returned a value that cannot be copied into the function.' };
      return new ivm.ExternalCopy<HostReply>({ ok: false, failureRef: this.#remember({ kind: 'host', failure }), failure }).copyInto({ release: true });
    } finally {
      this.#hostNs += process.hrtime.bigint() - started;
    }
  }

  #startTimer(id: unknown, delayMs: unknown): Promise<boolean> {
    if (this.#closed || typeof id !== 'number' || this.#timers.has(id)) return Promise.resolve(false);
    const delay = typeof delayMs === 'number' && delayMs >= 0 ? delayMs : 0;
    return new Promise<boolean>((resolve) => {
      const handle = setTimeout(() => {
        this.#timers.delete(id);
        resolve(true);
      }, delay);
      this.#timers.set(id, { handle, resolve });
    });
  }

  #service(args: unknown[]): SyncReply {
    const started = process.hrtime.bigint();
    try {
      return [true, this.#serve(args)];
    } catch (error) {
      return serviceError(error);
    } finally {
      this.#hostNs += process.hrtime.bigint() - started + HOST_CALL_OVERHEAD_NS;
    }
  }

  /** The services that touch this run's state; the pure ones are services.ts's. */
  #serve([name, a, b, c, d]: unknown[]): unknown {
    switch (name) {
      case 'timer.clear': {
        const timer = typeof a === 'number' ? this.#timers.get(a) : undefined;
        if (timer !== undefined) {
          clearTimeout(timer.handle);
          this.#timers.delete(a as number);
          timer.resolve(false);
        }
        return null;
      }
      case 'log': {
        const binding = this.#binding;
        if (binding !== undefined && typeof a === 'string' && LOG_LEVELS.has(a)) {
          const message = String(b);
          try {
            binding.log(a as LogLevel, message.length > MAX_LOG_MESSAGE_CHARS ? `${message.slice(0, MAX_LOG_MESSAGE_CHARS)}…` : message, c);
          } catch {
            // A failing log sink must not fail the function.
          }
        }
        return null;
      }
      default:
        return servePure(name, a, b, c, d);
    }
  }
}
