// Per-connection pacing: remembers each connection's remaining quota and reset time from the
// provider's rate-limit headers and holds calls until the reset instead of sending them into a
// 429; also caps in-flight calls per connection. State is per process and bounded (LRU).
// Keys are (connection, host): a 429 from another host (a Base-Url-Override) says nothing of the
// provider's own quota. A hold never exceeds `maxHoldMs` (an absurd Retry-After is ignored, not
// obeyed for 68 years), and an operator can clear a connection's state.
import type { CancelSignal } from './cancel.js';
import { PatchbayError } from '../errors.js';
import type { ProviderRetry } from '../providers/catalog.js';
import { headerValue } from './headers.js';
import { headerWaitMs, isRateLimited, parseResetAt } from './retry-policy.js';
import { sleep } from './sleep.js';
import { targetKey } from './target.js';

/**
 * The pacer's key for a connection's calls to one host (`api.github.com.` and `api.github.com`
 * share one quota); `paceKeyOf(key, '')` is the prefix of all of them.
 */
export const paceKeyOf = (key: string, hostname: string) => `${key}\u0000${hostname.endsWith('.') ? hostname.slice(0, -1) : hostname}`;

/** The pacer's prefix for every host of one connection. */
export const pacePrefixOf = (providerConfigKey: string, connectionId: string) => paceKeyOf(targetKey(providerConfigKey, connectionId), '');

export interface PacerOptions {
  /** Connections remembered at most; idle ones are forgotten first. */
  maxEntries: number;
  /** Calls waiting for a slot on one connection at most; more fail at once. */
  maxQueuePerConnection: number;
  /** Longest a provider's rate-limit headers may hold a connection; longer waits are ignored (default 1 hour). */
  maxHoldMs?: number;
  /** The clock (default Date.now) and the wait a held call takes between looks (default sleep.ts): tests inject both. */
  now?: () => number;
  sleep?: (ms: number, signal?: CancelSignal) => Promise<void>;
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

/** What the pacer knows of one key, for operators. */
export interface PaceState {
  key: string;
  inFlight: number;
  waiting: number;
  remaining: number | undefined;
  /** When the provider's window resets (epoch ms), while calls are held or counted. */
  resetAtMs: number | undefined;
}

export interface Pacer {
  /** A slot at once when the connection has quota and a free slot (the common case), else a promise of one. */
  acquire(key: string, limits: PaceLimits, signal?: CancelSignal): Slot | Promise<Slot>;
  observe(key: string, status: number, headers: Record<string, string | string[] | undefined>, retry: ProviderRetry): void;
  /** The state of every key starting with `prefix`. */
  inspect(prefix: string): PaceState[];
  /** Forgets the quota of every key starting with `prefix` (calls in flight keep their slots). Returns how many were held. */
  reset(prefix: string): number;
  size(): number;
}

// Header names most APIs use when the catalog names none (IETF draft "RateLimit" fields too).
const STANDARD_REMAINING = ['x-ratelimit-remaining', 'ratelimit-remaining'];
const STANDARD_RESET = ['x-ratelimit-reset', 'ratelimit-reset'];
const STANDARD_LIMIT = ['x-ratelimit-limit', 'ratelimit-limit'];
/** How often a call held on an exhausted quota with an unknown reset looks again. */
const UNKNOWN_RESET_POLL_MS = 25;
/** How often a call held on a spent quota looks again whether it still must wait. */
const HOLD_RECHECK_MS = 1000;
/** What a call that found no free slot in time is told to wait before trying again. */
const SLOT_RETRY_AFTER_MS = 1000;

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

/** The longest window any provider documents is a day, but a connection held for hours is an outage of its own. */
export const DEFAULT_MAX_HOLD_MS = 3_600_000;

export function createPacer(options: PacerOptions): Pacer {
  const now = options.now ?? Date.now;
  const pause = options.sleep ?? sleep;
  const maxHoldMs = options.maxHoldMs ?? DEFAULT_MAX_HOLD_MS;
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

  /** ms to hold the next call: until the reset when the quota is spent, else 0. `own`: slots the asking call holds already. */
  const quotaWait = (state: State, own = 0): number => {
    if (state.remaining === undefined || state.remaining > 0) return 0;
    if (state.resetAtMs === undefined) {
      // The estimated quota of a new window is spent before any response told us its reset:
      // wait for the other calls in flight to report, or go ahead when none can.
      return state.inFlight - own > 0 ? UNKNOWN_RESET_POLL_MS : 0;
    }
    const wait = state.resetAtMs - now();
    if (wait > 0) return wait;
    // The window has reset. Pace its first burst by the known limit until a response says more,
    // less the calls still in flight: sent in the old window, they may reach the provider in this one.
    state.remaining = state.limit === undefined ? undefined : Math.max(0, state.limit - state.inFlight);
    state.resetAtMs = undefined;
    return 0;
  };

  const takeSlot = (state: State, limits: PaceLimits, signal: CancelSignal | undefined, waitLeftMs: number): Promise<void> | undefined => {
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
      const leave = (reason: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = state.waiters.indexOf(grant);
        if (index !== -1) state.waiters.splice(index, 1);
        reject(reason);
      };
      const grant = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => leave(signal?.reason);
      // Every slot may be held by calls that never end (a trickling provider): a waiting call
      // gives up at the configured maximum wait, as it does for a rate limit.
      const timer = setTimeout(
        () =>
          leave(
            new PatchbayError('rate_limited', {
              message: `No call slot on this connection freed up within ${limits.maxWaitMs} ms (${limits.concurrency} calls in flight).`,
              fields: { retry_after_ms: SLOT_RETRY_AFTER_MS },
            }),
          ),
        Math.max(0, waitLeftMs),
      );
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
        // In steps: an operator's reset (or a newer answer) lets a held call go within a second.
        await pause(Math.min(wait, HOLD_RECHECK_MS), signal);
        continue;
      }
      const pending = takeSlot(state, limits, signal, limits.maxWaitMs - (now() - started));
      if (pending) await pending;
      // While we waited for a slot, other calls may have spent the quota (its own slot is not one of them).
      if (quotaWait(state, 1) > 0) {
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
        if (wait !== undefined && wait > 0 && wait <= maxHoldMs) {
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
      if (resetWait === undefined || resetWait > maxHoldMs) {
        // Without a believable reset time we cannot hold calls sensibly: forget what we knew.
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

    inspect(prefix) {
      const found: PaceState[] = [];
      for (const [key, state] of states) {
        if (!key.startsWith(prefix)) continue;
        const held = state.resetAtMs !== undefined && state.resetAtMs > now();
        found.push({ key, inFlight: state.inFlight, waiting: state.waiters.length, remaining: state.remaining, resetAtMs: held ? state.resetAtMs : undefined });
      }
      return found;
    },

    reset(prefix) {
      let held = 0;
      for (const [key, state] of states) {
        if (!key.startsWith(prefix)) continue;
        if (quotaWait(state) > 0) held++;
        state.remaining = undefined;
        state.resetAtMs = undefined;
        state.limit = undefined;
      }
      return held;
    },

    size: () => states.size,
  };
}
