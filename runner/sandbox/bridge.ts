// The host end of one context's bridge: the operation call, the timer and the synchronous services
// handed to the guest at bootstrap. Values cross as copies the host makes; host exceptions become
// data here (no host Error, stack or path reaches the guest). Serves one run, then refuses all.
import { getRandomValues, randomUUID } from 'node:crypto';
import ivm from 'isolated-vm';
import type { HostFailureData, HostReply, SyncReply, UrlParts } from './guest/protocol.js';
import { MAX_REMEMBERED_FAILURES } from './limits.js';
import type { HostCall, LogLevel } from './types.js';

/** What a failureRef stands for: a non-2xx proxy response or a failed operation. */
export type RecordedFailure = { kind: 'http'; status: number; headers: Record<string, string>; data: unknown } | { kind: 'host'; failure: HostFailureData };

export interface RunBinding {
  host: HostCall;
  log: (level: LogLevel, message: string, meta?: unknown) => void;
}

const LOG_LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);
const URL_SETTERS: ReadonlySet<string> = new Set(['protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);
const ERROR_NAMES: ReadonlySet<string> = new Set(['TypeError', 'RangeError', 'InvalidCharacterError', 'SyntaxError']);
// WebCrypto's bound for one getRandomValues call.
const MAX_RANDOM_BYTES = 65536;
// Service error messages are Node's (`Invalid URL`, `The encoded data was not valid…`); capped
// because some echo their input.
const MAX_SERVICE_MESSAGE_CHARS = 1000;

const encoder = new TextEncoder();

function toUrlParts(url: URL): UrlParts {
  return {
    href: url.href,
    origin: url.origin,
    protocol: url.protocol,
    username: url.username,
    password: url.password,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    pathname: url.pathname,
    search: url.search,
    hash: url.hash,
  };
}

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
  readonly call: ivm.Reference<(op: unknown, args: unknown) => Promise<unknown>>;
  readonly timer: ivm.Reference<(id: unknown, delayMs: unknown) => Promise<boolean>>;
  readonly service: ivm.Callback<(...args: unknown[]) => SyncReply>;

  #binding: RunBinding | undefined;
  readonly #runEnded = new AbortController();
  #closed = false;
  #inFlight = 0;
  #nextFailureRef = 1;
  readonly #failures = new Map<number, RecordedFailure>();
  readonly #timers = new Map<number, { handle: NodeJS.Timeout; resolve: (fired: boolean) => void }>();

  // isolated-vm keeps a global handle on each host function until the isolate collects the
  // guest's side, which it does lazily (hundreds of runs later): the functions reach the bridge
  // only through this slot, emptied on release, so a finished run's host state can be freed.
  readonly #self: { bridge: ContextBridge | undefined } = { bridge: this };

  constructor() {
    const self = this.#self;
    this.call = new ivm.Reference((op: unknown, args: unknown) => (self.bridge === undefined ? Promise.reject(RUN_ENDED) : self.bridge.#call(op, args)));
    this.timer = new ivm.Reference((id: unknown, delayMs: unknown) => (self.bridge === undefined ? Promise.resolve(false) : self.bridge.#startTimer(id, delayMs)));
    this.service = new ivm.Callback((...args: unknown[]) => (self.bridge === undefined ? refusedService() : self.bridge.#service(args)));
  }

  attach(binding: RunBinding): void {
    this.#binding = binding;
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
    return this.#failures.get(failureRef);
  }

  #remember(failure: RecordedFailure): number {
    const failureRef = this.#nextFailureRef++;
    this.#failures.set(failureRef, failure);
    if (this.#failures.size > MAX_REMEMBERED_FAILURES) this.#failures.delete(this.#failures.keys().next().value as number);
    return failureRef;
  }

  async #call(op: unknown, args: unknown): Promise<ivm.Copy<HostReply>> {
    const binding = this.#binding;
    if (this.#closed || binding === undefined) {
      return this.#reply({ ok: false, failureRef: 0, failure: { code: 'run_ended', message: 'The run has ended; nango can no longer be used.' } });
    }
    this.#inFlight++;
    let reply: HostReply;
    try {
      const value = await binding.host(String(op), args, this.#runEnded.signal);
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
    try {
      return new ivm.ExternalCopy(toExactBytes(reply) as HostReply).copyInto({ release: true });
    } catch {
      // A value structured clone refuses (a function, a class with private state…).
      const failure: HostFailureData = { code: 'internal_error', message: 'The operation returned a value that cannot be copied into the function.' };
      return new ivm.ExternalCopy<HostReply>({ ok: false, failureRef: this.#remember({ kind: 'host', failure }), failure }).copyInto({ release: true });
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
    try {
      return [true, this.#serve(args)];
    } catch (error) {
      return serviceError(error);
    }
  }

  #serve([name, a, b, c, d]: unknown[]): unknown {
    switch (name) {
      case 'url.parse':
        try {
          return toUrlParts(new URL(String(a), b === undefined ? undefined : String(b)));
        } catch {
          return null;
        }
      case 'url.set': {
        const url = new URL(String(a));
        if (typeof b !== 'string' || !URL_SETTERS.has(b)) throw new TypeError('Unknown URL component');
        (url as unknown as Record<string, string>)[b] = String(c);
        return toUrlParts(url);
      }
      case 'search.parse':
        return [...new URLSearchParams(String(a))];
      case 'search.serialize': {
        if (!Array.isArray(a)) throw new TypeError('Expected a list of pairs');
        return new URLSearchParams(a.map((pair): [string, string] => [String((pair as unknown[])[0]), String((pair as unknown[])[1])])).toString();
      }
      case 'text.encode':
        return encoder.encode(String(a));
      case 'text.decode': {
        const decoder = new TextDecoder(String(b), { fatal: c === true, ignoreBOM: d === true });
        if (a === null) return decoder.encoding;
        if (!(a instanceof Uint8Array)) throw new TypeError('Expected bytes');
        return decoder.decode(a);
      }
      case 'base64.encode':
        return btoa(String(a));
      case 'base64.decode':
        return atob(String(a));
      case 'crypto.uuid':
        return randomUUID();
      case 'crypto.random': {
        const size = Number(a);
        if (!Number.isInteger(size) || size < 0 || size > MAX_RANDOM_BYTES) throw new RangeError('Bad size');
        return getRandomValues(new Uint8Array(size));
      }
      case 'clone':
        // `a` arrived as a structured copy; returning it copies it back: a clone both ways.
        return a;
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
          try {
            binding.log(a as LogLevel, String(b), c);
          } catch {
            // A failing log sink must not fail the function.
          }
        }
        return null;
      }
      default:
        throw new TypeError('Unknown service');
    }
  }
}
