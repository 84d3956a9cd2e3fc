// Runs a queue-draining pass one at a time: a call while a pass runs asks for one more after it,
// so a burst of wake-ups costs one extra pass, not one each. Used by the worker and the dry runner.
import type { OutageLog } from '../server/store/index.js';

/** `pass` drains what it can; `outage` hears how each pass went; nothing runs once `isRunning` is false. */
export function createPump(pass: () => Promise<void>, outage: OutageLog, isRunning: () => boolean): () => void {
  let pumping = false;
  let again = false;
  const pump = () => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    pass()
      .then(() => outage.succeeded(), (error: unknown) => outage.failed(error))
      .finally(() => {
        pumping = false;
        if (again && isRunning()) {
          again = false;
          pump();
        }
      });
  };
  return pump;
}
