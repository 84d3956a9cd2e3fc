// Per-connection pacing: remembers each connection's remaining quota and reset time from the
// provider's rate-limit headers and holds calls until the reset instead of sending them into a
// 429; also caps in-flight calls per connection. State is per process and bounded (LRU).
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
  remaining: number | undefined;
  resetAtMs: number | undefined;
}

export interface Pacer {
  acquire(key: string, limits: PaceLimits, signal?: AbortSignal): Promise<Slot>;
  observe(key: string, status: number, headers: Record<string, string | string[] | undefined>, retry: ProviderRetry): void;
  size(): number;
}

// Header names most APIs use when the catalog names none (IETF draft "RateLimit" fields too).
const STANDARD_REMAINING = ['x-ratelimit-remaining', 'ratelimit-remaining'];
const STANDARD_RESET = ['x-ratelimit-reset', 'ratelimit-reset'];

export function createPacer(options: PacerOptions): Pacer {
  const now = options.now ?? Date.now;
  const states = new Map<string, State>();

  const stateOf = (key: string): State => {
    let state = states.get(key);
    if (state === undefined) {
      state = { inFlight: 0, waiters: [], remaining: undefined, resetAtMs: undefined };
      if (states.size >= options.maxEntries) evictIdle();
    } else {
      states.delete(key); // re-insert: Map order is our LRU order
    }
    states.set(key, state);
    return state;
  };

  const evictIdle = () => {
    // Oldest first; entries with calls in flight or waiting are kept (they cannot be many).
    for (const [key, state] of states) {
      if (states.size < options.maxEntries) return;
      if (state.inFlight === 0 && state.waiters.length === 0) states.delete(key);
    }
  };

  /** ms until the quota resets when it is spent, else 0. Consumes one unit of known quota. */
  const quotaWait = (state: State): number => {
    if (state.remaining === undefined) return 0;
    if (state.remaining > 0) return 0;
    const wait = (state.resetAtMs ?? 0) - now();
    if (wait <= 0) {
      state.remaining = undefined; // the window has reset; the next response tells us more
      state.resetAtMs = undefined;
      return 0;
    }
    return wait;
  };

  const takeSlot = (state: State, limits: PaceLimits, signal: AbortSignal | undefined): Promise<void> | undefined => {
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

  return {
    async acquire(key, limits, signal) {
      const state = stateOf(key);
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
        if (state.remaining !== undefined) state.remaining--;
        let released = false;
        return {
          waitedMs: now() - started,
          release: () => {
            if (released) return;
            released = true;
            releaseSlot(state);
          },
        };
      }
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
      const remainingText = [retry.remaining, ...STANDARD_REMAINING]
        .map((name) => (name === undefined ? undefined : headerValue(headers, name)))
        .find((value) => value !== undefined);
      const remaining = remainingText === undefined ? Number.NaN : Number(remainingText.trim());
      if (!Number.isInteger(remaining) || remaining < 0) return;
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
      // Responses arrive out of order: keep the lower count within the same window.
      const resetAtMs = nowMs + resetWait;
      const sameWindow = state.resetAtMs !== undefined && Math.abs(state.resetAtMs - resetAtMs) < 1000;
      state.remaining = sameWindow && state.remaining !== undefined ? Math.min(state.remaining, remaining) : remaining;
      state.resetAtMs = resetAtMs;
    },

    size: () => states.size,
  };
}
