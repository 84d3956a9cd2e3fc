// A stand-in for bin/runner-thread-entry.ts in the runner thread's lifecycle tests: it speaks the
// same messages and does what its workerData says, counting its starts in shared memory.
import { parentPort, workerData } from 'node:worker_threads';

export interface FakeRunnerData {
  /**
   * `crash-once`: the first thread throws 50 ms after it started; `fail`: never starts; `echo`:
   * answers each run handed over with its input as output at once, and counts it done.
   */
  behaviour: 'crash-once' | 'fail' | 'echo';
  /** Int32Array over a SharedArrayBuffer: [0] counts the threads started. */
  starts: Int32Array;
  /** The run slots the process shares with the thread (RunnerThreadData.slots). */
  slots: SharedArrayBuffer;
}

const port = parentPort;
if (port === null) throw new Error('runs as a worker thread');
const { behaviour, starts, slots } = workerData as FakeRunnerData;
const count = Atomics.add(starts, 0, 1);

if (behaviour === 'fail') {
  port.postMessage({ type: 'failed', message: 'cannot connect to the database at 127.0.0.1:1/none (ECONNREFUSED)' });
} else {
  port.postMessage({ type: 'started', runnerId: `fake-${count}` });
  if (behaviour === 'crash-once' && count === 0) {
    setTimeout(() => {
      throw new Error('the runner blew up');
    }, 50);
  }
  port.on('message', (command: { type: string; run?: { id: string; input: unknown } }) => {
    if (command.type === 'stop') process.exit(0);
    const run = command.run;
    if (command.type === 'run' && run !== undefined) {
      // The run is over: one handed-over run fewer (RunSlots' third counter).
      Atomics.sub(new Int32Array(slots), 2, 1);
      port.postMessage({ type: 'finished', run: { id: run.id, state: 'succeeded', outputJson: JSON.stringify(run.input), error: null } });
    }
  });
}
