// The guest's end of the bridge: the host references handed to the runtime at bootstrap, kept in
// this module's closure (never on a global, never on an object user code can reach), and the
// three ways to use them. Runs INSIDE the isolate.
import { MAX_CALL_BODY_BYTES, MAX_CALL_JSON_CHARS } from './bounds.js';
import type { HostReply, SyncReply, SyncServiceName } from './protocol.js';
import { ErrorCtor, jsonStringify, RangeErrorCtor, reflectApply, sealedOptions, TypeErrorCtor } from './intrinsics.js';

/** An isolated-vm Reference to a host function, as the guest sees it. */
export interface HostReference {
  apply(receiver: undefined, args: unknown[], options: object): Promise<unknown>;
}

export interface HostLinks {
  /** `(op, argsJson, body, runToken) → HostReply`, async. */
  call: HostReference;
  /** `(timerId, delayMs) → fired`, resolves when the host timer fires or is cleared. */
  timer: HostReference;
  /** Synchronous services, `(name, ...args) → SyncReply`. */
  service: (...args: unknown[]) => unknown;
}

let links: HostLinks | undefined;

// Arguments go out as copies (a JSON string and an optional body: what crosses is exactly what
// was measured); the reply comes back as a copy the host made (an ExternalCopy), so nothing but
// data crosses either way.
const CALL_OPTIONS = sealedOptions({ arguments: { copy: true }, result: { promise: true } });
const TIMER_OPTIONS = sealedOptions({ arguments: { copy: true }, result: { promise: true, copy: true } });

export function connect(hostLinks: HostLinks): void {
  if (links !== undefined) throw new ErrorCtor('already connected');
  links = hostLinks;
}

/**
 * Calls a host operation with `args` as JSON (the host stores or sends them as JSON anyway) and
 * `body`, a binary request body, as bytes. Either over its bound (bounds.ts) is a RangeError here.
 * `runToken` is the run the caller's `nango` was made for: in a reused context, code a finished
 * run left behind holds an old token, and the host refuses its calls instead of serving them as
 * the current run's.
 */
export async function callHost(op: string, args: Record<string, unknown>, body: Uint8Array | undefined, runToken: number): Promise<HostReply> {
  const argsJson = jsonStringify(args) ?? '{}';
  if (argsJson.length > MAX_CALL_JSON_CHARS) throw new RangeErrorCtor(`The arguments of nango.${op}() are longer than ${MAX_CALL_JSON_CHARS} characters of JSON.`);
  if (body !== undefined && body.byteLength > MAX_CALL_BODY_BYTES) throw new RangeErrorCtor(`The request body is larger than ${MAX_CALL_BODY_BYTES} bytes.`);
  const reply = await linksOrThrow().call.apply(undefined, [op, argsJson, body, runToken], CALL_OPTIONS);
  return reply as HostReply;
}

export function waitTimer(id: number, delayMs: number): Promise<boolean> {
  return linksOrThrow().timer.apply(undefined, [id, delayMs], TIMER_OPTIONS) as Promise<boolean>;
}

/** Calls a synchronous host service; a failure is rethrown as a guest error of the same name. */
export function callService(name: SyncServiceName, ...args: unknown[]): unknown {
  const reply = reflectApply(linksOrThrow().service, undefined, [name, ...args]) as SyncReply;
  if (reply[0]) return reply[1];
  const [, errorName, message] = reply;
  const error = errorName === 'TypeError' ? new TypeErrorCtor(message) : errorName === 'RangeError' ? new RangeErrorCtor(message) : new ErrorCtor(message);
  if (errorName !== 'TypeError' && errorName !== 'RangeError') error.name = errorName;
  throw error;
}

function linksOrThrow(): HostLinks {
  if (links === undefined) throw new ErrorCtor('The Patchbay runtime is not connected.');
  return links;
}
