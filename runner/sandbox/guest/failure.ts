// Turns whatever escaped a function into a GuestFailure: plain data, bounded, with stacks cut to
// the function's own frames. Errors the runtime built from host failures are recognised by
// identity (a map user code cannot reach), never by their shape. Runs INSIDE the isolate.
import { includes, jsonStringify, join, push, SealedWeakMap, slice, split, startsWith, StringCtor } from './intrinsics.js';
import { FUNCTION_FILENAME, type GuestFailure } from './protocol.js';

// Enough to read a zod error or an upstream message; a thrown megabyte string is not a message.
export const MAX_MESSAGE_CHARS = 16 * 1024;
const MAX_NAME_CHARS = 200;
// Deep enough for any real call chain; recursion overflows give thousands of identical frames.
const MAX_STACK_FRAMES = 50;

const hostFailureRefs = new SealedWeakMap<object, number>();

/** Remembers that `error` stands for the host's failure number `failureRef`. */
export function markHostFailure(error: object, failureRef: number): void {
  hostFailureRefs.set(error, failureRef);
}

function bound(text: string, max: number): string {
  return text.length > max ? `${slice(text, 0, max)}…` : text;
}

/** The header lines of a V8 stack and the frames of the function's bundle; runtime frames go. */
export function trimStack(stack: string): string {
  const kept: string[] = [];
  let seenFrame = false;
  let keptFrames = 0;
  for (const line of split(stack, '\n')) {
    if (!startsWith(line.trimStart(), 'at ')) {
      // Message lines come before the first frame; nothing after it is ours to keep.
      if (!seenFrame) push(kept, line);
      continue;
    }
    seenFrame = true;
    if (includes(line, FUNCTION_FILENAME) && keptFrames < MAX_STACK_FRAMES) {
      push(kept, line);
      keptFrames++;
    }
  }
  return bound(join(kept, '\n'), MAX_MESSAGE_CHARS);
}

function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function describeThrown(thrown: unknown): string {
  if (typeof thrown === 'string') return thrown;
  try {
    const json = jsonStringify(thrown);
    if (json !== undefined) return json;
  } catch {
    // Falls through to String().
  }
  try {
    return StringCtor(thrown);
  } catch {
    return 'a value that cannot be printed';
  }
}

export function isActionError(thrown: unknown): boolean {
  return typeof thrown === 'object' && thrown !== null && read(thrown, '__patchbay') === 'ActionError';
}

/** Classifies a thrown value. Never throws, whatever getters or proxies `thrown` has. */
export function toGuestFailure(thrown: unknown): GuestFailure {
  try {
    if (typeof thrown === 'object' && thrown !== null) {
      const failureRef = hostFailureRefs.get(thrown);
      if (failureRef !== undefined) return { type: 'host_failure', failureRef };
      if (isActionError(thrown)) {
        const payload = read(thrown, 'payload');
        let payloadJson: string | undefined;
        try {
          payloadJson = jsonStringify(payload === undefined ? null : payload);
        } catch {
          payloadJson = undefined;
        }
        return { type: 'action_error', payloadJson: payloadJson ?? jsonStringify({ message: describeThrown(read(thrown, 'message')) }) };
      }
      const name = read(thrown, 'name');
      const message = read(thrown, 'message');
      const stack = read(thrown, 'stack');
      if (typeof message === 'string' || typeof stack === 'string') {
        return {
          type: 'internal_error',
          name: bound(typeof name === 'string' && name !== '' ? name : 'Error', MAX_NAME_CHARS),
          message: bound(typeof message === 'string' ? message : '', MAX_MESSAGE_CHARS),
          stack: typeof stack === 'string' ? trimStack(stack) : '',
        };
      }
    }
    return { type: 'internal_error', name: 'Error', message: bound(`A non-error value was thrown: ${describeThrown(thrown)}`, MAX_MESSAGE_CHARS), stack: '' };
  } catch {
    return { type: 'internal_error', name: 'Error', message: 'A value that cannot be inspected was thrown.', stack: '' };
  }
}
