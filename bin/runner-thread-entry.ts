// The runner thread (bin/runner-thread.ts starts it): the runner role of startSystem, with its own
// database pool, queue, proxy engine and isolates, on the configuration the process resolved.
// Reports `started` or `failed` once, and on `stop` stops the runner and ends the thread.
import { parentPort, workerData } from 'node:worker_threads';
import { createRelayedNotifications, type RelayedNotifications } from '../server/store/index.js';
import { deliverRelayed, type RunnerThreadCommand, type RunnerThreadData, type RunnerThreadMessage } from './runner-thread.js';
import { startSystem, type System } from './system.js';

const port = parentPort;
if (port === null) throw new Error('runner-thread-entry runs as a worker thread');
const data = workerData as RunnerThreadData;
const send = (message: RunnerThreadMessage) => port.postMessage(message);

// The thread hears PostgreSQL's notifications through the process's LISTEN connection, not one
// of its own: it asks for its channels while it starts, and they are relayed until it ends.
let notifications: RelayedNotifications | undefined;
const relayed = (command: RunnerThreadCommand) => deliverRelayed(notifications, command);
port.on('message', relayed);

let system: System | undefined;
try {
  // A Buffer arrives as a plain Uint8Array.
  const config = { ...data.config, encryptionKey: Buffer.from(data.config.encryptionKey) };
  system = await startSystem(config, {
    roles: ['runner'],
    proxyTuning: data.proxyTuning,
    runnerTuning: data.runnerTuning,
    // Runs the server thread hands over count against the same slots; their results go back by message.
    handedRuns: { slots: data.slots, finished: (run) => send({ type: 'finished', run }) },
    relayedNotifications: (pool, logger) => {
      notifications = createRelayedNotifications(pool, logger, (channel) => send({ type: 'listen', channel }));
      return notifications;
    },
  });
} catch (error) {
  // startSystem stopped what it had started; the process ends this thread once it reads this.
  port.off('message', relayed);
  send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
}

if (system !== undefined) {
  const started = system;
  send({ type: 'started', runnerId: started.worker?.id ?? 'unknown' });
  const onCommand = (command: RunnerThreadCommand) => {
    if (command.type === 'run') {
      started.worker?.adopt(command.run, command.startBy);
      return;
    }
    if (command.type === 'metrics') {
      void started.metrics.snapshot().then((snapshot) => send({ type: 'metrics', id: command.id, snapshot }));
      return;
    }
    if (command.type !== 'stop') return;
    // Notifications keep coming while the runner stops: a run finishing may wait for an action it triggered.
    port.off('message', onCommand);
    // process.exit in a worker ends this thread only: whatever handle a part left open does not keep it.
    started.stop().finally(() => process.exit(0));
  };
  port.on('message', onCommand);
}
