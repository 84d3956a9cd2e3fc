// Warm contexts: a function's runs reuse the context its bundle was evaluated in (module state
// persists, as on Lambda), and everything that must not cross does not: other functions, a run
// after a kill or a limit, a context worn by MAX_RUNS_PER_CONTEXT runs, code a finished run left
// behind, and functions that opt out with `reuseContext: false`.
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_RUNS_PER_CONTEXT } from '../../runner/sandbox/limits.js';
import { createSandbox, type GuestContext, type HostCall, type RunOutcome, type SandboxLimits } from '../../runner/sandbox/index.js';
import { bundleOnce } from '../harness/bundle-source.js';

// One isolate: every run of these tests lands on it, so "warm" and "fresh" are not a matter of
// which isolate a run happened to get.
const sandbox = createSandbox({ size: 1 });
afterAll(() => sandbox.close());

const CONTEXT: GuestContext = { connectionId: 'conn-a', providerConfigKey: 'github-prod', provider: 'github' };

/** An action counting its runs in a module-level variable; `options` go into createAction. */
function counterSource(tag: string, options = '', body = ''): string {
  return `import { createAction } from 'patchbay';
import { z } from 'zod';
let runs = 0;
const loadedAt = Math.random();
export default createAction({
  description: 'counter ${tag}',
  input: z.object({ spin: z.boolean().optional(), fail: z.boolean().optional() }).optional(),
  output: z.object({ runs: z.number(), loadedAt: z.number(), global: z.string().nullable() }),
  ${options}
  async exec(nango, input) {
    runs++;
    ${body}
    if (input?.fail) throw new Error('failed on purpose');
    if (input?.spin) for (;;) {}
    const seen = globalThis.leftover ?? null;
    globalThis.leftover = '${tag}';
    return { runs, loadedAt, global: seen };
  },
});
`;
}

async function run(source: string, options: { input?: unknown; host?: HostCall; context?: GuestContext; limits?: Partial<SandboxLimits> } = {}): Promise<RunOutcome> {
  return sandbox.run({
    bundle: await bundleOnce(source),
    kind: 'action',
    context: options.context ?? CONTEXT,
    input: options.input,
    host: options.host ?? (async () => ({ status: 200, headers: {}, data: null })),
    log: () => undefined,
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
  });
}

async function output(source: string, options: Parameters<typeof run>[1] = {}): Promise<{ runs: number; loadedAt: number; global: string | null }> {
  const outcome = await run(source, options);
  if (!outcome.ok) throw new Error(`run failed: ${JSON.stringify(outcome.failure)}`);
  return outcome.output as { runs: number; loadedAt: number; global: string | null };
}

describe('warm contexts', () => {
  it('runs a function again in the context its bundle was evaluated in', async () => {
    const source = counterSource('reuse');
    const before = sandbox.stats().warmRuns;
    const first = await output(source);
    const second = await output(source, { context: { ...CONTEXT, connectionId: 'conn-b' } });
    const third = await output(source);
    expect([first.runs, second.runs, third.runs]).toEqual([1, 2, 3]);
    expect(new Set([first.loadedAt, second.loadedAt, third.loadedAt]).size).toBe(1);
    expect(sandbox.stats().warmRuns - before).toBe(2);
    expect(sandbox.stats().warmContexts).toBeGreaterThanOrEqual(1);
  });

  it('never shares a context between two functions', async () => {
    const one = counterSource('function-one');
    const two = counterSource('function-two');
    await output(one);
    await output(one);
    const other = await output(two);
    expect(other).toMatchObject({ runs: 1, global: null });
    // And the first function's context still has its own state.
    expect(await output(one)).toMatchObject({ runs: 3, global: 'function-one' });
  });

  it('keeps the context after the function throws: the error is the function, not the context', async () => {
    const source = counterSource('throws');
    await output(source);
    const failed = await run(source, { input: { fail: true } });
    expect(failed).toMatchObject({ ok: false, failure: { type: 'internal_error', message: 'failed on purpose' } });
    expect(await output(source)).toMatchObject({ runs: 3 });
  });

  it('starts fresh after a run hit its CPU limit', async () => {
    const source = counterSource('killed');
    await output(source);
    await output(source);
    const killed = await run(source, { input: { spin: true }, limits: { cpuMs: 50 } });
    expect(killed).toMatchObject({ ok: false, failure: { type: 'cpu_limit' } });
    expect(await output(source)).toMatchObject({ runs: 1 });
  });

  it('starts fresh after a run left calls in flight', async () => {
    const source = counterSource('in-flight', '', `if (runs === 2) { nango.get({ endpoint: '/slow' }).catch(() => {}); }`);
    let release!: () => void;
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    const host: HostCall = async () => {
      await slow;
      return { status: 200, headers: {}, data: null };
    };
    await output(source, { host });
    expect(await output(source, { host })).toMatchObject({ runs: 2 });
    release();
    expect(await output(source)).toMatchObject({ runs: 1 });
  });

  it(`replaces a context after ${MAX_RUNS_PER_CONTEXT} runs`, async () => {
    const source = counterSource('worn');
    const counts: number[] = [];
    for (let index = 0; index < MAX_RUNS_PER_CONTEXT + 2; index++) counts.push((await output(source)).runs);
    expect(counts.slice(0, 3)).toEqual([1, 2, 3]);
    expect(counts[MAX_RUNS_PER_CONTEXT - 1]).toBe(MAX_RUNS_PER_CONTEXT);
    expect(counts.slice(MAX_RUNS_PER_CONTEXT)).toEqual([1, 2]);
  });

  it('gives every run a fresh context when the definition says reuseContext: false', async () => {
    const source = counterSource('fresh', 'reuseContext: false,');
    const runs = [await output(source), await output(source), await output(source)];
    expect(runs.map((result) => result.runs)).toEqual([1, 1, 1]);
    expect(runs.map((result) => result.global)).toEqual([null, null, null]);
  });

  it('does not keep a context whose bundle failed to load', async () => {
    const source = `let loads = (globalThis.loads ?? 0) + 1; globalThis.loads = loads; throw new Error('load ' + loads);`;
    const first = await run(source);
    const second = await run(source);
    expect(first).toMatchObject({ ok: false, failure: { type: 'internal_error', message: 'load 1' } });
    expect(second).toMatchObject({ ok: false, failure: { type: 'internal_error', message: 'load 1' } });
  });

  it("refuses a finished run's nango in the next run of the same context, and serves the next run's own", async () => {
    // Run 1 keeps its nango in module state; run 2 (another connection) tries to use it.
    const source = counterSource(
      'stale-nango',
      '',
      `if (runs === 1) globalThis.saved = nango;
       if (runs === 2) {
         const stale = await globalThis.saved.get({ endpoint: '/stale' }).then(() => 'served', (error) => error.code ?? error.message);
         const own = await nango.get({ endpoint: '/own' }).then(() => 'served', (error) => error.code ?? error.message);
         globalThis.leftover = stale + ',' + own;
         return { runs, loadedAt: 0, global: stale + ',' + own };
       }`,
    );
    const calls: string[] = [];
    const host = (connectionId: string): HostCall => async (op, args) => {
      calls.push(`${connectionId} ${op} ${String((args as { endpoint?: unknown }).endpoint)}`);
      return { status: 200, headers: {}, data: null };
    };
    await output(source, { host: host('conn-a') });
    const second = await output(source, { host: host('conn-b'), context: { ...CONTEXT, connectionId: 'conn-b' } });
    expect(second).toEqual({ runs: 2, loadedAt: 0, global: 'run_ended,served' });
    expect(calls).toEqual(['conn-b proxy /own']);
  });
});
