// The isolate pool below its size: `minIsolates` made at start, more as concurrent runs need them,
// the extra ones disposed once idle (issue 18: an idle `patchbay start` stays small).
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, type RunOutcome, type RunRequest } from '../../runner/sandbox/index.js';
import { actionSource, bundleOnce } from '../harness/bundle-source.js';

const IDLE_MS = 300;
const sandbox = createSandbox({ size: 3, minIsolates: 1, isolateIdleMs: IDLE_MS, limits: { memoryMb: 64 } });
afterAll(() => sandbox.close());

async function run(body: string, host: RunRequest['host'] = async () => ({ status: 200, headers: {}, data: 'pong' })): Promise<RunOutcome> {
  return sandbox.run({
    bundle: await bundleOnce(actionSource(body)),
    kind: 'action',
    context: { connectionId: 'c', providerConfigKey: 'k', provider: 'p' },
    host,
    log: () => undefined,
  });
}

const until = async (check: () => boolean, timeoutMs: number) => {
  for (const startedAt = Date.now(); !check() && Date.now() - startedAt < timeoutMs; ) await new Promise((resolve) => setTimeout(resolve, 20));
};

describe('isolate pool with minIsolates', () => {
  it('starts with the minimum, grows to its size for concurrent runs, and shrinks back once idle', async () => {
    expect(sandbox.stats().isolates).toBe(1);
    // Each run waits in a host call until all three are under way: three runs at once, whatever
    // the machine's speed, so the pool must have grown to three isolates.
    let entered = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held: RunRequest['host'] = async () => {
      entered++;
      await released;
      return { status: 200, headers: {}, data: 'ran' };
    };
    const pending = Promise.all(Array.from({ length: 3 }, () => run(`return (await nango.get({ endpoint: '/held' })).data;`, held)));
    await until(() => entered === 3, 30_000);
    expect(sandbox.stats()).toMatchObject({ isolates: 3, busy: 3 });
    release();
    const outcomes = await pending;
    expect(outcomes.map((outcome) => outcome.ok && outcome.output)).toEqual(['ran', 'ran', 'ran']);
    await until(() => sandbox.stats().isolates === 1, 30_000);
    expect(sandbox.stats().isolates).toBe(1);
    // The one kept still serves.
    const after = await run(`return 'still serving';`);
    expect(after.ok && after.output).toBe('still serving');
  }, 60_000);

  it('queues runs beyond its size', async () => {
    const outcomes = await Promise.all(Array.from({ length: 5 }, (_, i) => run(`await new Promise((r) => setTimeout(r, 50)); return ${i};`)));
    expect(outcomes.map((outcome) => outcome.ok && outcome.output)).toEqual([0, 1, 2, 3, 4]);
    expect(sandbox.stats().isolates).toBeLessThanOrEqual(3);
  }, 60_000);
});
