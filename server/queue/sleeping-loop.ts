// The shape of Patchbay's background loops (the scheduler, the reaper, the webhook sender): a
// pass does what is due and says how long nothing will be, the loop sleeps that long, and a
// notification that something changed wakes it early. Instead of a poll every second or so, an
// idle process sends PostgreSQL a few queries a minute.
import type { OutageLog } from '../store/index.js';

export interface SleepingLoopOptions {
  /** Does what is due; resolves with how long to sleep before the next pass (ms). */
  pass: () => Promise<number>;
  /** Hears how each pass went: one line per database outage, not one per pass. */
  outage: OutageLog;
  /** After a failed pass, the next one comes this much later. */
  retryMs: number;
}

export interface SleepingLoop {
  /** A pass now, or right after the one running (however many wakes came meanwhile: one). */
  wake(): void;
  /** The first pass, now or after `delayMs`. */
  start(delayMs?: number): void;
  /** No pass after this; resolves once the one running (if any) ended. */
  stop(): Promise<void>;
}

export function createSleepingLoop(options: SleepingLoopOptions): SleepingLoop {
  let running = false;
  let current: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const sleep = (ms: number) => {
    clearTimeout(timer);
    if (!running) return;
    timer = setTimeout(wake, ms);
    timer.unref();
  };

  function wake(): void {
    if (!running) return;
    if (current !== undefined) {
      again = true;
      return;
    }
    clearTimeout(timer);
    let sleepMs = options.retryMs;
    current = options
      .pass()
      .then(
        (ms) => {
          sleepMs = ms;
          options.outage.succeeded();
        },
        (error: unknown) => options.outage.failed(error),
      )
      .finally(() => {
        current = undefined;
        if (again) {
          again = false;
          wake();
        } else sleep(sleepMs);
      });
  }

  return {
    wake,
    start(delayMs = 0) {
      if (running) return;
      running = true;
      if (delayMs > 0) sleep(delayMs);
      else wake();
    },
    async stop() {
      running = false;
      again = false;
      clearTimeout(timer);
      await current;
    },
  };
}
