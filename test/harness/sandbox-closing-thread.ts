// Run as a process: `node --no-node-snapshot --import tsx test/harness/sandbox-closing-thread.ts <threads>`.
// Starts that many worker threads one after another. Each runs four endless functions in its own
// sandbox, closes the sandbox while they loop and ends at once, as a runner thread does when it
// stops. The process exits 0 when every thread ended; isolated-vm answering a thread that is
// gone aborts it instead.
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { createSandbox } from '../../runner/sandbox/index.js';
import { actionSource, bundleOnce } from './bundle-source.js';

const RUNS = 4;

if (isMainThread) {
  const threads = Number(process.argv[2] ?? 1);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(import.meta.url);
  for (let index = 0; index < threads; index++) {
    const thread = new Worker(`import(${tsx}).then((tsx) => { tsx.register(); return import(${entry}); })`, { eval: true });
    const failures = await new Promise<unknown>((resolve, reject) => {
      thread.once('message', resolve);
      thread.once('error', reject);
    });
    await new Promise((resolve) => thread.once('exit', resolve));
    process.stdout.write(`${JSON.stringify(failures)}\n`);
  }
} else {
  const sandbox = createSandbox({ size: RUNS, minIsolates: RUNS });
  const bundle = await bundleOnce(actionSource('await null; while (true) {}'));
  const context = { connectionId: 'c', providerConfigKey: 'k', provider: 'p' };
  const runs = Array.from({ length: RUNS }, () =>
    sandbox.run({ bundle, kind: 'action', context, host: async () => ({ status: 200, headers: {}, data: '' }), log: () => undefined }),
  );
  // Long enough for the loops to be under way on a quiet machine; on a busy one some are killed before they start.
  await new Promise((resolve) => setTimeout(resolve, 50));
  await sandbox.close();
  const outcomes = await Promise.all(runs);
  parentPort?.postMessage(outcomes.map((outcome) => (outcome.ok ? 'answered' : outcome.failure.type)));
  process.exit(0);
}
