// The shape of Patchbay's background loops (the scheduler, the reaper, the webhook sender, the
// runner's job and dry-run passes): a pass does what is due and says how long nothing will be, the
// loop sleeps that long, and a notification that something changed wakes it early. Instead of a
// poll every second or so, an idle process sends PostgreSQL a few queries a minute.
import type { OutageLog } from '../store/index.js';

export interface SleepingLoopOptions {
  /** Does what is due; resolves with how long to sleep before the next pass (ms), or undefined: until woken. */
  pass: () => Promise<number | undefined>;
  /** Hears how each pass went: one line per database outage, not one per pass. */
  outage: OutageLog;
  /** After a failed pass, the next one comes this much later; without it, at the next wake. */
  retryMs?: number;
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
  // Set before a pass starts: a pass that wakes the loop itself asks for one more, not a second at once.
  let busy = false;
  let current: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const sleep = (ms: number | undefined) => {
    clearTimeout(timer);
    if (!running || ms === undefined) return;
    timer = setTimeout(wake, ms);
    timer.unref();
  };

  const passOnce = async (): Promise<number | undefined> => {
    try {
      const ms = await options.pass();
      options.outage.succeeded();
      return ms;
    } catch (error) {
      options.outage.failed(error);
      return options.retryMs;
    }
  };

  function wake(): void {
    if (!running) return;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    clearTimeout(timer);
    current = passOnce().then(
      (ms) => done(ms),
      () => done(options.retryMs),
    );
  }

  function done(sleepMs: number | undefined): void {
    busy = false;
    current = undefined;
    if (again) {
      again = false;
      wake();
    } else sleep(sleepMs);
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
