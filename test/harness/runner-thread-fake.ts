// A stand-in for bin/runner-thread-entry.ts in the runner thread's lifecycle tests: it speaks the
// same messages and does what its workerData says, counting its starts in shared memory.
import { parentPort, workerData } from 'node:worker_threads';

export interface FakeRunnerData {
  /** `crash-once`: the first thread throws 50 ms after it started; `fail`: never starts. */
  behaviour: 'crash-once' | 'fail';
  /** Int32Array over a SharedArrayBuffer: [0] counts the threads started. */
  starts: Int32Array;
}

const port = parentPort;
if (port === null) throw new Error('runs as a worker thread');
const { behaviour, starts } = workerData as FakeRunnerData;
const count = Atomics.add(starts, 0, 1);

if (behaviour === 'fail') {
  port.postMessage({ type: 'failed', message: 'cannot connect to the database at 127.0.0.1:1/none (ECONNREFUSED)' });
} else {
  port.postMessage({ type: 'started', runnerId: `fake-${count}` });
  if (count === 0) {
    setTimeout(() => {
      throw new Error('the runner blew up');
    }, 50);
  }
  port.on('message', (command: { type: string }) => {
    if (command.type === 'stop') process.exit(0);
  });
}
