// Per-connection pacing: remembers each connection's remaining quota and reset time from the
// provider's rate-limit headers and holds calls until the reset instead of sending them into a
// 429; also caps in-flight calls per connection. State is per process and bounded (LRU).
import type { CancelSignal } from './cancel.js';
import { PatchbayError } from '../errors.js';
import type { ProviderRetry } from '../providers/catalog.js';
import { headerValue } from './headers.js';
import { headerWaitMs, isRateLimited, parseResetAt } from './retry-policy.js';
import { sleep } from './sleep.js';

export interface PacerOptions {
  /** Connections remembered at most; idle ones are forgotten first. */
  maxEntries: number;
  /** Calls waiting for a slot on one connection at most; more fail at once. */
  maxQueuePerConnection: number;
  now?: () => number;
}

export interface PaceLimits {
  concurrency: number;
  maxWaitMs: number;
}

export interface Slot {
  /** Time spent waiting for quota or for a free slot. */
  waitedMs: number;
  release(): void;
}

interface State {
  inFlight: number;
  waiters: (() => void)[];
  /** Calls the provider still allows in this window, minus the ones we sent since it said so. */
  remaining: number | undefined;
  resetAtMs: number | undefined;
  /** The window's full quota (x-ratelimit-limit), to pace the first burst of the next window. */
  limit: number | undefined;
  /** When the connection was last used, in uses of the pacer: least recently used ones are forgotten first. */
  lastUse: number;
}

export interface Pacer {
  /** A slot at once when the connection has quota and a free slot (the common case), else a promise of one. */
  acquire(key: string, limits: PaceLimits, signal?: CancelSignal): Slot | Promise<Slot>;
  observe(key: string, status: number, headers: Record<string, string | string[] | undefined>, retry: ProviderRetry): void;
  size(): number;
}

// Header names most APIs use when the catalog names none (IETF draft "RateLimit" fields too).
const STANDARD_REMAINING = ['x-ratelimit-remaining', 'ratelimit-remaining'];
const STANDARD_RESET = ['x-ratelimit-reset', 'ratelimit-reset'];
const STANDARD_LIMIT = ['x-ratelimit-limit', 'ratelimit-limit'];
/** How often a call held on an exhausted quota with an unknown reset looks again. */
const UNKNOWN_RESET_POLL_MS = 25;

function firstInteger(headers: Record<string, string | string[] | undefined>, names: (string | undefined)[]): number | undefined {
  for (const name of names) {
    if (name === undefined) continue;
    const value = headerValue(headers, name);
    if (value === undefined) continue;
    const number = Number(value.trim());
    return Number.isInteger(number) && number >= 0 ? number : undefined;
  }
  return undefined;
}

export function createPacer(options: PacerOptions): Pacer {
  const now = options.now ?? Date.now;
  const states = new Map<string, State>();

  // Recency is a counter stamped on each use, not Map order: re-inserting the key on every call
  // would churn the Map's table on the proxy's hot path.
  let uses = 0;
  const stateOf = (key: string): State => {
    let state = states.get(key);
    if (state === undefined) {
      if (states.size >= options.maxEntries) evictIdle();
      state = { inFlight: 0, waiters: [], remaining: undefined, resetAtMs: undefined, limit: undefined, lastUse: 0 };
      states.set(key, state);
    }
    state.lastUse = ++uses;
    return state;
  };

  /** Forgets the least recently used tenth of the idle connections (those with no call in flight or waiting). */
  const evictIdle = () => {
    const idle: [string, number][] = [];
    for (const [key, state] of states) if (state.inFlight === 0 && state.waiters.length === 0) idle.push([key, state.lastUse]);
    idle.sort((a, b) => a[1] - b[1]);
    const count = Math.max(1, Math.ceil(options.maxEntries / 10));
    for (const [key] of idle.slice(0, count)) states.delete(key);
  };

  /** ms to hold the next call: until the reset when the quota is spent, else 0. */
  const quotaWait = (state: State): number => {
    if (state.remaining === undefined || state.remaining > 0) return 0;
    if (state.resetAtMs === undefined) {
      // The estimated quota of a new window is spent before any response told us its reset:
      // wait for the calls in flight to report, or go ahead when none can.
      return state.inFlight > 0 ? UNKNOWN_RESET_POLL_MS : 0;
    }
    const wait = state.resetAtMs - now();
    if (wait > 0) return wait;
    // The window has reset. Pace its first burst by the known limit until a response says more.
    state.remaining = state.limit;
    state.resetAtMs = undefined;
    return 0;
  };

  const takeSlot = (state: State, limits: PaceLimits, signal: CancelSignal | undefined): Promise<void> | undefined => {
    // A call whose client is already gone must not take a place in the queue.
    if (signal?.aborted) throw signal.reason;
    if (state.inFlight < limits.concurrency) {
      state.inFlight++;
      return undefined;
    }
    if (state.waiters.length >= options.maxQueuePerConnection) {
      throw new PatchbayError('rate_limited', {
        message: 'Too many calls are waiting on this connection.',
        fields: { retry_after_ms: 1000 },
      });
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = state.waiters.indexOf(grant);
        if (index !== -1) state.waiters.splice(index, 1);
        reject(signal?.reason);
      };
      state.waiters.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  };

  const releaseSlot = (state: State) => {
    const next = state.waiters.shift();
    if (next) next(); // hand the slot over: inFlight stays the same
    else state.inFlight--;
  };

  const slotOf = (state: State, waitedMs: number): Slot => {
    if (state.remaining !== undefined) state.remaining--;
    let released = false;
    return {
      waitedMs,
      release: () => {
        if (released) return;
        released = true;
        releaseSlot(state);
      },
    };
  };

  const acquireWaiting = async (state: State, limits: PaceLimits, signal: CancelSignal | undefined): Promise<Slot> => {
    const started = now();
    for (;;) {
      const wait = quotaWait(state);
      if (wait > 0) {
        if (now() - started + wait > limits.maxWaitMs) {
          throw new PatchbayError('rate_limited', {
            message: `The provider's rate limit resets in ${wait} ms, beyond the configured maximum wait.`,
            fields: { retry_after_ms: wait },
          });
        }
        await sleep(wait, signal);
        continue;
      }
      const pending = takeSlot(state, limits, signal);
      if (pending) await pending;
      // While we waited for a slot, other calls may have spent the quota.
      if (quotaWait(state) > 0) {
        releaseSlot(state);
        continue;
      }
      return slotOf(state, now() - started);
    }
  };

  return {
    acquire(key, limits, signal) {
      const state = stateOf(key);
      if (signal?.aborted || state.inFlight >= limits.concurrency || quotaWait(state) > 0) return acquireWaiting(state, limits, signal);
      state.inFlight++;
      return slotOf(state, 0);
    },

    observe(key, status, headers, retry) {
      const state = states.get(key);
      if (state === undefined) return;
      const nowMs = now();
      if (isRateLimited(status, headers, retry)) {
        const wait = headerWaitMs(headers, retry, nowMs);
        if (wait !== undefined && wait > 0) {
          state.remaining = 0;
          state.resetAtMs = nowMs + wait;
        }
        return;
      }
      const remaining = firstInteger(headers, retry.remaining === undefined ? STANDARD_REMAINING : [retry.remaining, ...STANDARD_REMAINING]);
      if (remaining === undefined) return;
      const limit = firstInteger(headers, STANDARD_LIMIT);
      if (limit !== undefined && limit > 0) state.limit = limit;
      let resetWait: number | undefined;
      for (const name of [...retry.at, ...STANDARD_RESET]) {
        const value = headerValue(headers, name);
        if (value !== undefined) resetWait = parseResetAt(value, nowMs);
        if (resetWait !== undefined) break;
      }
      if (resetWait === undefined) {
        // Without a reset time we cannot hold calls sensibly: forget what we knew.
        state.remaining = undefined;
        state.resetAtMs = undefined;
        return;
      }
      // The provider counted this call, maybe not the others still in flight: assume it did not,
      // so that our own concurrency never pushes the window into a 429.
      const effective = Math.max(0, remaining - Math.max(0, state.inFlight - 1));
      // Responses arrive out of order: within one window keep the lower count.
      const resetAtMs = nowMs + resetWait;
      const sameWindow = state.resetAtMs !== undefined && Math.abs(state.resetAtMs - resetAtMs) < 1000;
      state.remaining = sameWindow && state.remaining !== undefined ? Math.min(state.remaining, effective) : effective;
      state.resetAtMs = resetAtMs;
    },

    size: () => states.size,
  };
}
