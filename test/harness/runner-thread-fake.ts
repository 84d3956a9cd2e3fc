// A stand-in for bin/runner-thread-entry.ts in the runner thread's lifecycle tests: it speaks the
// same messages and does what its workerData says, counting its starts in shared memory.
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { deliverRelayed, type RunnerThreadCommand } from '../../bin/runner-thread.js';
import { createPool, createRelayedNotifications } from '../../server/store/index.js';

export interface FakeRunnerData {
  /**
   * `crash-once`: the first thread throws 50 ms after it started; `fail`: never starts; `echo`:
   * answers each run handed over with its input as output at once, and counts it done.
   */
  behaviour: 'crash-once' | 'fail' | 'echo';
  /**
   * Int32Array over a SharedArrayBuffer: [0] counts the threads started, [1] the `stop` commands
   * they heard. [2] is a gate for `holdLaterStarts`.
   */
  starts: Int32Array;
  /** Threads after the first say `started` only once the test sets starts[2] (and notifies it). */
  holdLaterStarts?: boolean;
  /** Threads after the first throw when told to stop, after counting the command. */
  throwOnStop?: boolean;
  /** The run slots the process shares with the thread (RunnerThreadData.slots). */
  slots: SharedArrayBuffer;
  /**
   * Listens to `relay_ping` through the process's LISTEN connection, as the real entry does, and
   * answers on `relay_pong` with `<start count>:<what happened>`: `heard:<payload>` for each
   * payload it hears, `reconnected` on each onReconnect. The payload `send-own` makes it send
   * `own` on `relay_ping` itself, then `sent:own` on `relay_pong`, one statement after the other.
   */
  relay?: { databaseUrl: string };
}

const port = parentPort;
if (port === null) throw new Error('runs as a worker thread');
const { behaviour, starts, slots, relay, holdLaterStarts, throwOnStop } = workerData as FakeRunnerData;
const count = Atomics.add(starts, 0, 1);

if (relay !== undefined) {
  // One connection: what the thread sends is committed in the order it was sent.
  const pool = createPool({ connectionString: relay.databaseUrl, max: 1 });
  const notifications = createRelayedNotifications(pool, pino({ level: 'silent' }), (channel) => port.postMessage({ type: 'listen', channel }));
  const pong = (what: string) => notifications.notify('relay_pong', `${count}:${what}`, { local: false });
  notifications.listen('relay_ping', (payload) => {
    pong(`heard:${payload}`);
    if (payload !== 'send-own') return;
    notifications.notify('relay_ping', 'own');
    pong('sent:own');
  });
  notifications.onReconnect(() => pong('reconnected'));
  port.on('message', (command: RunnerThreadCommand) => deliverRelayed(notifications, command));
}

if (behaviour === 'fail') {
  port.postMessage({ type: 'failed', message: 'cannot connect to the database at 127.0.0.1:1/none (ECONNREFUSED)' });
} else {
  if (holdLaterStarts === true && count > 0) Atomics.wait(starts, 2, 0);
  port.postMessage({ type: 'started', runnerId: `fake-${count}` });
  if (behaviour === 'crash-once' && count === 0) {
    setTimeout(() => {
      throw new Error('the runner blew up');
    }, 50);
  }
  port.on('message', (command: { type: string; run?: { id: string; input: unknown } }) => {
    if (command.type === 'stop') {
      Atomics.add(starts, 1, 1);
      if (throwOnStop === true && count > 0) throw new Error('the runner blew up while stopping');
      process.exit(0);
    }
    const run = command.run;
    if (command.type === 'run' && run !== undefined) {
      // The run is over: one handed-over run fewer (RunSlots' third counter).
      Atomics.sub(new Int32Array(slots), 2, 1);
      port.postMessage({ type: 'finished', run: { id: run.id, state: 'succeeded', outputJson: JSON.stringify(run.input), error: null } });
    }
  });
}
