// Runs handed straight to a runner of this process, without the queue: a request waiting for an
// action and a runner in the same process (`patchbay start`) need neither a pg-boss ticket, nor
// a NOTIFY to wake the runner, nor a claim. The run row is inserted already held by that runner
// (state running, beating), so the reaper takes it back like any run if the runner dies. The
// runner starts it in its next free slot — before queued runs only when none wait, see
// runner/worker.ts — and fails it with runner_unavailable if it could not start it in time.
// Anything else (too many handed over already, a runner restarting, X-Async, other processes)
// takes the queue.
import type { ClaimedRun } from '../store/index.js';

/** A place taken on a runner for one run: hand the run over, or release the place unused. */
export interface DirectSlot {
  /** The runner's id, written into the run row as the runner holding it. */
  readonly runnerId: string;
  /** Hands the run (inserted held by `runnerId`) to the runner, to start by `startBy` (epoch ms). */
  start(run: ClaimedRun, startBy: number): void;
  /** Gives the place back without a run (the insert failed). */
  release(): void;
}

export interface DirectRunner {
  /** A place on a runner of this process, or undefined when it takes no more (use the queue). */
  take(): DirectSlot | undefined;
}

/**
 * A runner's run slots and the runs handed over to it, counted in a SharedArrayBuffer, so that
 * the server thread and a runner thread see the same numbers without a message round trip.
 */
export interface RunSlots {
  /** Runs at once. */
  readonly capacity: number;
  readonly buffer: SharedArrayBuffer;
  /** Takes up to `wanted` slots; returns how many it got (0 when all are in use). */
  take(wanted: number): number;
  give(count: number): void;
  readonly inUse: number;
  /** Counts one more run handed over, unless `capacity + waiting` are (running or waiting) already. */
  takeHanded(): boolean;
  /** A handed-over run ended (or was never handed over). */
  handedDone(): void;
  readonly handed: number;
  /** Set by the runner's loop: whether its last look at the queue may have left runs there. */
  queueWaiting: boolean;
}

const IN_USE = 0;
const QUEUE_WAITING = 1;
const HANDED = 2;

/**
 * `waiting`: how many handed-over runs may wait for a slot beyond those running (default: as many
 * as run at once, so that twice the capacity of callers waits in memory, not in the queue).
 */
export function createRunSlots(capacity: number, buffer: SharedArrayBuffer = new SharedArrayBuffer(12), waiting: number = capacity): RunSlots {
  const counter = new Int32Array(buffer, 0, 3);
  const takeUpTo = (index: number, wanted: number, limit: number) => {
    for (;;) {
      const used = Atomics.load(counter, index);
      const taken = Math.min(wanted, limit - used);
      if (taken <= 0) return 0;
      if (Atomics.compareExchange(counter, index, used, used + taken) === used) return taken;
    }
  };
  return {
    capacity,
    buffer,
    take: (wanted) => takeUpTo(IN_USE, wanted, capacity),
    give(count) {
      if (count > 0) Atomics.sub(counter, IN_USE, count);
    },
    get inUse() {
      return Atomics.load(counter, IN_USE);
    },
    takeHanded: () => takeUpTo(HANDED, 1, capacity + waiting) === 1,
    handedDone() {
      Atomics.sub(counter, HANDED, 1);
    },
    get handed() {
      return Atomics.load(counter, HANDED);
    },
    get queueWaiting() {
      return Atomics.load(counter, QUEUE_WAITING) === 1;
    },
    set queueWaiting(waiting) {
      Atomics.store(counter, QUEUE_WAITING, waiting ? 1 : 0);
    },
  };
}
