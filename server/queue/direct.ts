// Runs handed straight to a runner of this process, without the queue: a request waiting for an
// action, and a runner with a free slot in the same process (`patchbay start`), need neither a
// pg-boss ticket, nor a NOTIFY to wake the runner, nor a claim. The run row is inserted already
// running under that runner, so the reaper takes it back like any run if the runner dies.
// Anything else (no free slot, a runner restarting, X-Async, other processes) takes the queue.
import type { ClaimedRun } from '../store/index.js';

/** A slot taken on a runner for one run: start the run in it, or release it unused. */
export interface DirectSlot {
  /** The runner's id, written into the run row as the runner holding it. */
  readonly runnerId: string;
  /** Hands the run (inserted as running under `runnerId`) to the runner; the slot is its now. */
  start(run: ClaimedRun): void;
  /** Gives the slot back without a run (the insert failed). */
  release(): void;
}

export interface DirectRunner {
  /** A free slot on a runner of this process, or undefined when it has none (use the queue). */
  take(): DirectSlot | undefined;
}

/**
 * A runner's run slots as one counter that both its own loop (fetching tickets) and the request
 * side (direct hand-offs) take from. Backed by a SharedArrayBuffer, so that the server thread
 * and a runner thread count the same slots without a message round trip.
 */
export interface RunSlots {
  readonly capacity: number;
  readonly buffer: SharedArrayBuffer;
  /** Takes up to `wanted` slots; returns how many it got (0 when all are in use). */
  take(wanted: number): number;
  /**
   * One slot for a run handed over directly: none while runs may be waiting in the queue, so
   * that requests arriving later never overtake them (they queue behind).
   */
  takeDirect(): boolean;
  give(count: number): void;
  readonly inUse: number;
  /** Set by the runner's loop: whether its last look at the queue may have left runs there. */
  queueWaiting: boolean;
}

const IN_USE = 0;
const QUEUE_WAITING = 1;

export function createRunSlots(capacity: number, buffer: SharedArrayBuffer = new SharedArrayBuffer(8)): RunSlots {
  const counter = new Int32Array(buffer, 0, 2);
  const take = (wanted: number) => {
    for (;;) {
      const used = Atomics.load(counter, IN_USE);
      const taken = Math.min(wanted, capacity - used);
      if (taken <= 0) return 0;
      if (Atomics.compareExchange(counter, IN_USE, used, used + taken) === used) return taken;
    }
  };
  return {
    capacity,
    buffer,
    take,
    takeDirect() {
      return Atomics.load(counter, QUEUE_WAITING) === 0 && take(1) === 1;
    },
    give(count) {
      if (count > 0) Atomics.sub(counter, IN_USE, count);
    },
    get inUse() {
      return Atomics.load(counter, IN_USE);
    },
    get queueWaiting() {
      return Atomics.load(counter, QUEUE_WAITING) === 1;
    },
    set queueWaiting(waiting) {
      Atomics.store(counter, QUEUE_WAITING, waiting ? 1 : 0);
    },
  };
}
