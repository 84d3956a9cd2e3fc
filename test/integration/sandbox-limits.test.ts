// The limits hold and a killed run takes nothing else down: CPU, memory, wall time, output size,
// abort, close; and a long series of runs keeps the isolates' heaps flat.
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, SandboxClosedError, type RunOutcome, type RunRequest, type Sandbox } from '../../runner/sandbox/index.js';
import { actionSource, bundleOnce } from '../harness/bundle-source.js';

const SIZE = 2;
// 64 MB keeps memory bombs quick; the default (128) behaves the same, only slower to fill.
const sandbox = createSandbox({ size: SIZE, limits: { memoryMb: 64 } });
afterAll(() => sandbox.close());

const CONTEXT = { connectionId: 'c', providerConfigKey: 'k', provider: 'p' };

async function run(body: string, options: Partial<Pick<RunRequest, 'limits' | 'signal' | 'input' | 'host'>> & { on?: Sandbox } = {}): Promise<RunOutcome> {
  return (options.on ?? sandbox).run({
    bundle: await bundleOnce(actionSource(body)),
    kind: 'action',
    context: CONTEXT,
    host: options.host ?? (async () => ({ status: 200, headers: {}, data: 'pong' })),
    log: () => undefined,
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
}

const HEALTHY = `await new Promise((r) => setTimeout(r, 200)); const pong = await nango.get({ endpoint: '/ping' }); return { pong: pong.data, sum: [1, 2, 3].reduce((a, b) => a + b) };`;

/**
 * A host whose calls the test answers: `entered` resolves once the guest's first `nango.get` has
 * reached the host (the run is under way), and every call waits until `release()`.
 */
function heldHost() {
  let enter!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const host: RunRequest['host'] = async () => {
    enter();
    await released;
    return { status: 200, headers: {}, data: 'released' };
  };
  return { host, entered, release };
}

/** The pool still has all its isolates and serves a normal run. */
async function expectPoolServes() {
  const outcome = await run(`return 'still serving';`);
  expect(outcome).toMatchObject({ ok: true, output: 'still serving' });
  expect(sandbox.stats()).toMatchObject({ isolates: SIZE, busy: 0 });
}

describe('sandbox limits', () => {
  it('kills an endless loop at its CPU limit while a run in the other isolate finishes normally', async () => {
    // A loop the limit did not end would never end: the test's timeout is the bound on it.
    const [looping, healthy] = await Promise.all([run(`await null; while (true) {}`, { limits: { cpuMs: 200 } }), run(HEALTHY)]);
    expect(looping).toMatchObject({ ok: false, failure: { type: 'cpu_limit', limitMs: 200 } });
    expect(looping.cpuMs).toBeGreaterThanOrEqual(200);
    expect(healthy).toMatchObject({ ok: true, output: { pong: 'pong', sum: 6 } });
    await expectPoolServes();
  });

  it('kills an endless loop in the bundle top level too', async () => {
    const outcome = await sandbox.run({
      bundle: await bundleOnce(`while (true) {}\nexport default {};`),
      kind: 'action',
      context: CONTEXT,
      host: async () => null,
      log: () => undefined,
      limits: { cpuMs: 150 },
    });
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'cpu_limit', limitMs: 150 } });
    await expectPoolServes();
  });

  it('stops a memory bomb with out_of_memory while the other isolate keeps working', async () => {
    const [bomb, healthy] = await Promise.all([run(`const hoard = []; while (true) hoard.push(new Array(100000).fill(Math.random()));`), run(HEALTHY)]);
    expect(bomb).toMatchObject({ ok: false, failure: { type: 'out_of_memory', limitMb: 64 } });
    expect(healthy).toMatchObject({ ok: true, output: { pong: 'pong' } });
    await expectPoolServes();
  });

  it('gives a run its own memory limit when it asks for one', async () => {
    const outcome = await run(`const hoard = []; while (true) hoard.push('x'.repeat(1e5) + Math.random());`, { limits: { memoryMb: 24 } });
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'out_of_memory', limitMb: 24 } });
    await expectPoolServes();
  });

  it('ends a never-resolving promise at the wall limit, without burning CPU', async () => {
    const outcome = await run(`await new Promise(() => {});`, { limits: { wallMs: 300 } });
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'wall_timeout', limitMs: 300 } });
    // Ended by the limit, not before it; and waiting cost (next to) no CPU time.
    expect(outcome.wallMs).toBeGreaterThanOrEqual(295);
    expect(outcome.cpuMs).toBeLessThan(100);
    await expectPoolServes();
  });

  it('ends a thread blocked in Atomics.wait at the wall limit', async () => {
    const outcome = await run(`Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); return 'woke';`, { limits: { wallMs: 300 } });
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'wall_timeout', limitMs: 300 } });
    await expectPoolServes();
  });

  it('counts timers against the wall limit', async () => {
    const outcome = await run(`await new Promise((r) => setTimeout(r, 5000)); return 'late';`, { limits: { wallMs: 200 } });
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'wall_timeout', limitMs: 200 } });
  });

  it('aborts the signal of a host operation the killed run was waiting for', async () => {
    let aborted = false;
    const outcome = await sandbox.run({
      bundle: await bundleOnce(actionSource(`await nango.get({ endpoint: '/slow' }); return 'answered';`)),
      kind: 'action',
      context: CONTEXT,
      host: (_op, _args, signal) =>
        new Promise((resolve) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve(null);
          }),
        ),
      log: () => undefined,
      limits: { wallMs: 200 },
    });
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'wall_timeout', limitMs: 200 } });
    expect(aborted).toBe(true);
    await expectPoolServes();
  });

  it('refuses an output over 2 MB by default', async () => {
    const outcome = await run(`return 'x'.repeat(3 * 1024 * 1024);`);
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'output_too_large', bytes: 3 * 1024 * 1024 + 2, limit: 2 * 1024 * 1024 } });
    await expectPoolServes();
  });

  it('measures the output in UTF-8 bytes, not characters', async () => {
    expect(await run(`return 'é'.repeat(49);`, { limits: { maxOutputBytes: 100 } })).toMatchObject({ ok: true, outputJson: `"${'é'.repeat(49)}"` });
    // 62 characters, 122 bytes.
    expect(await run(`return 'é'.repeat(60);`, { limits: { maxOutputBytes: 100 } })).toMatchObject({ ok: false, failure: { type: 'output_too_large', bytes: 122, limit: 100 } });
  });

  it('applies the output limit to an ActionError payload', async () => {
    const outcome = await run(`throw new nango.ActionError({ dump: 'y'.repeat(5000) });`, { limits: { maxOutputBytes: 1000 } });
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'output_too_large', limit: 1000 } });
  });

  it('stops a run at once when its signal aborts', async () => {
    const controller = new AbortController();
    const { host, entered } = heldHost();
    // The run waits on a host call that never answers (and its wall limit is beyond the test's
    // timeout): only the abort can end it.
    const pending = run(`await nango.get({ endpoint: '/never' }); return 'answered';`, { signal: controller.signal, host, limits: { wallMs: 120_000 } });
    await entered;
    controller.abort();
    const outcome = await pending;
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'aborted' } });
    await expectPoolServes();
  });

  it('stops a busy loop when its signal aborts', async () => {
    const controller = new AbortController();
    const { host, entered, release } = heldHost();
    release(); // the host call answers at once: the run goes on into its loop
    const pending = run(`await nango.get({ endpoint: '/go' }); while (true) {}`, { signal: controller.signal, host, limits: { cpuMs: 120_000, wallMs: 120_000 } });
    await entered;
    controller.abort();
    expect(await pending).toMatchObject({ ok: false, failure: { type: 'aborted' } });
    await expectPoolServes();
  });

  it('does not start a run whose signal is already aborted', async () => {
    const outcome = await run(`throw new Error('must not run');`, { signal: AbortSignal.abort() });
    expect(outcome).toEqual({ ok: false, failure: { type: 'aborted' }, cpuMs: 0, wallMs: 0 });
  });

  it('queues runs beyond the pool size and lets a queued run be aborted', async () => {
    const small = createSandbox({ size: 1 });
    try {
      const firstBody = `await nango.get({ endpoint: '/held' }); return 'first';`;
      // Bundled first, so that the runs reach the pool in this order.
      for (const body of [firstBody, `return 'second';`, `return 'third';`]) await bundleOnce(actionSource(body));
      // The first run holds the only isolate until the test lets its host call answer.
      const { host, entered, release } = heldHost();
      const first = run(firstBody, { on: small, host });
      await entered;
      const second = run(`return 'second';`, { on: small });
      const controller = new AbortController();
      const third = run(`return 'third';`, { on: small, signal: controller.signal });
      await expect.poll(() => small.stats(), { timeout: 20_000 }).toMatchObject({ busy: 1, queued: 2 });
      controller.abort();
      release();
      expect(await third).toMatchObject({ ok: false, failure: { type: 'aborted' } });
      expect(await first).toMatchObject({ ok: true, output: 'first' });
      expect(await second).toMatchObject({ ok: true, output: 'second' });
    } finally {
      await small.close();
    }
  });

  it('ends running runs as aborted on close and refuses new ones', async () => {
    const closing = createSandbox({ size: 1 });
    const { host, entered } = heldHost();
    const running = run(`await nango.get({ endpoint: '/never' });`, { on: closing, host, limits: { wallMs: 120_000 } });
    // One run under way (its host call never answers), the other waiting for the isolate.
    await entered;
    const queued = run(`return 1;`, { on: closing });
    await expect.poll(() => closing.stats(), { timeout: 20_000 }).toMatchObject({ busy: 1, queued: 1 });
    // close() waits for isolated-vm to let go of the killed run: the queued one is refused meanwhile.
    const closed = closing.close();
    await expect(queued).rejects.toBeInstanceOf(SandboxClosedError);
    await closed;
    expect(await running).toMatchObject({ ok: false, failure: { type: 'aborted' } });
    await expect(run(`return 1;`, { on: closing })).rejects.toBeInstanceOf(SandboxClosedError);
    await closing.close();
  });
});

describe('sandbox limits: host services', () => {
  it('refuses the URLSearchParams bomb of the security review at once, with a RangeError the function can catch', async () => {
    const outcome = await run(`try { new URLSearchParams('a=b&'.repeat(5_000_000)); return 'parsed'; } catch (e) { return e.name + ': ' + e.message; }`);
    expect(outcome).toMatchObject({ ok: true, output: 'RangeError: The query string is longer than 262144 characters.' });
  });

  it('refuses every host service input over its bound before copying it out', async () => {
    const calls: string[] = [];
    const outcome = await sandbox.run({
      bundle: await bundleOnce(
        actionSource(`
          const refused = {};
          const attempt = async (name, call) => { try { await call(); refused[name] = 'accepted'; } catch (e) { refused[name] = e.name + ': ' + e.message; } };
          const long = (n) => 'x'.repeat(n);
          await attempt('url', () => new URL('https://a.example/' + long(256 * 1024)));
          await attempt('url base', () => new URL('/x', 'https://a.example/' + long(256 * 1024)));
          await attempt('url setter', () => { new URL('https://a.example/').pathname = long(256 * 1024 + 1); });
          await attempt('searchParams', () => new URL('https://a.example/').searchParams.set('k', long(256 * 1024)));
          await attempt('query pairs', () => new URLSearchParams('a&'.repeat(10_001)));
          await attempt('query serialize', () => { const p = new URLSearchParams(); for (let i = 0; i <= 10_000; i++) p.append('k', 'v'); return p.toString(); });
          await attempt('encode', () => new TextEncoder().encode(long(16 * 1024 * 1024 + 1)));
          await attempt('decode', () => new TextDecoder().decode(new Uint8Array(16 * 1024 * 1024 + 1)));
          await attempt('label', () => new TextDecoder(long(65)));
          await attempt('btoa', () => btoa(long(16 * 1024 * 1024 + 1)));
          await attempt('atob', () => atob(long(16 * 1024 * 1024 + 4)));
          await attempt('endpoint', () => nango.get({ endpoint: '/' + long(256 * 1024) }));
          await attempt('json body', () => nango.post({ endpoint: '/x', data: { blob: long(16 * 1024 * 1024) } }));
          await attempt('binary body', () => nango.post({ endpoint: '/x', data: new Uint8Array(16 * 1024 * 1024 + 1) }));
          await attempt('metadata', () => nango.setMetadata({ blob: long(16 * 1024 * 1024) }));
          return { refused, canParse: URL.canParse('https://a.example/' + long(256 * 1024)) };
        `),
      ),
      kind: 'action',
      context: CONTEXT,
      host: async (op) => {
        calls.push(op);
        return null;
      },
      log: () => undefined,
      limits: { memoryMb: 256 },
    });
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.failure));
    const { refused, canParse } = outcome.output as { refused: Record<string, string>; canParse: boolean };
    for (const [name, result] of Object.entries(refused)) expect(result, name).toMatch(/^RangeError: .* (longer|larger|more) than \d+/);
    expect(Object.keys(refused)).toHaveLength(15);
    expect(canParse).toBe(false);
    expect(calls, 'nothing over a bound reaches the host').toEqual([]);
  });

  it('serves what real functions need: base64 of a 10 MiB file, 10,000 query pairs, a 10 MiB upload', async () => {
    const uploads: unknown[] = [];
    const outcome = await sandbox.run({
      bundle: await bundleOnce(
        actionSource(`
          const file = 'x'.repeat(10 * 1024 * 1024);
          const encoded = btoa(file);
          const roundTrip = atob(encoded) === file;
          const pairs = new URLSearchParams('a=b&'.repeat(10_000)).size;
          const bytes = new TextEncoder().encode(file);
          await nango.post({ endpoint: '/upload', data: bytes });
          return { encoded: encoded.length, roundTrip, pairs, decoded: new TextDecoder().decode(bytes).length };
        `),
      ),
      kind: 'action',
      context: CONTEXT,
      host: async (_op, args) => {
        uploads.push((args as { data?: unknown }).data);
        return { status: 200, headers: {}, data: null };
      },
      log: () => undefined,
      limits: { memoryMb: 256 },
    });
    expect(outcome).toMatchObject({ ok: true, output: { encoded: 13_981_016, roundTrip: true, pairs: 10_000, decoded: 10 * 1024 * 1024 } });
    expect(uploads).toHaveLength(1);
    expect((uploads[0] as Uint8Array).byteLength).toBe(10 * 1024 * 1024);
  });

  it('charges host service time to the run: the parses a function asks for count in its CPU time', async () => {
    // The guest only waits while the host parses: its isolate's clock saw a fraction of this.
    const query = 'a=b&'.repeat(9000);
    const outcome = await run(`const query = 'a=b&'.repeat(9000); let pairs = 0; for (let i = 0; i < 50; i++) pairs += new URLSearchParams(query).size; return pairs;`);
    expect(outcome).toMatchObject({ ok: true, output: 450_000 });
    // The same parses here, in CPU time (not wall time: on a busy machine this thread may wait
    // for a core, and that wait is no work): the run was charged at least half of it.
    const before = process.cpuUsage();
    let pairs = 0;
    for (let index = 0; index < 50; index++) pairs += new URLSearchParams(query).size;
    const used = process.cpuUsage(before);
    const hostMs = (used.user + used.system) / 1000;
    expect(pairs).toBe(450_000);
    expect(outcome.cpuMs).toBeGreaterThan(hostMs / 2);
  });

  it('charges each host call its hop between threads (20 µs), so cheap calls in a loop add up', async () => {
    const outcome = await run(`for (let i = 0; i < 20_000; i++) crypto.randomUUID(); return 'done';`);
    expect(outcome).toMatchObject({ ok: true, output: 'done' });
    expect(outcome.cpuMs).toBeGreaterThanOrEqual(400);
  });

  it('ends a loop of host calls at its CPU limit, with host time in its cpuMs', async () => {
    const outcome = await run(`const text = 'x'.repeat(1_000_000); while (true) btoa(text);`, { limits: { cpuMs: 300, wallMs: 20_000 } });
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'cpu_limit', limitMs: 300 } });
    expect(outcome.cpuMs).toBeGreaterThanOrEqual(300);
    await expectPoolServes();
  });
});

describe('sandbox over many runs', () => {
  // How fast a no-op run answers is a benchmark's figure, not this test's: bench:actions measures
  // a no-op action end to end (its p50 and p99 after warm-up and thousands of runs).
  it('keeps heaps bounded over 1,400 runs', async () => {
    const pool = createSandbox({ size: 2 });
    try {
      // Each run builds ~0.5 MB and keeps it reachable from its context (a global closure): a
      // context that outlived its run would keep it too.
      const busy = await bundleOnce(actionSource(`const rows = Array.from({ length: 5000 }, (_, i) => ({ i, text: 'row ' + i })); globalThis.keep = () => rows; return rows.length;`));
      const noop = await bundleOnce(actionSource(`return null;`));
      const request = { kind: 'action' as const, context: CONTEXT, host: async () => null, log: () => undefined };
      let peakHeapBytes = 0;
      for (let round = 0; round < 600; round++) {
        const outcomes = await Promise.all([pool.run({ ...request, bundle: busy }), pool.run({ ...request, bundle: busy })]);
        for (const outcome of outcomes) expect(outcome).toMatchObject({ ok: true, output: 5000 });
        peakHeapBytes = Math.max(peakHeapBytes, pool.stats().heapUsedBytes);
      }
      for (let index = 0; index < 200; index++) {
        const outcome = await pool.run({ ...request, bundle: noop });
        expect(outcome.ok).toBe(true);
      }
      const stats = pool.stats();
      console.log(`sandbox: 1,400 runs on 2 isolates → heap peak ${(peakHeapBytes / 1048576).toFixed(1)} MB (garbage included), recycled ${stats.recycled}`);
      // 1,400 runs over 2 isolates: 2 replacements for the run count (every 500), and at most one
      // more if garbage happens to be read near the limit. A context outliving its run (0.5 MB
      // each here) fills an isolate every ~230 runs: out-of-memory failures above, or 5+ replacements.
      expect(stats.runs).toBe(1400);
      expect(stats.recycled).toBeLessThanOrEqual(3);
      expect(peakHeapBytes).toBeGreaterThan(0);
    } finally {
      await pool.close();
    }
  });

  it('frees the host side of finished runs although the isolate collects its side lazily', async () => {
    // Regression: isolated-vm kept each run's host callbacks (and through them the bridge, the
    // run's operations and whatever they closed over) until the isolate's own lazy GC, so the
    // runner's heap grew by ~20 KB a run (8,000 bridges alive after 8,000 runs).
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'the test workers run with --expose-gc').toBeTypeOf('function');
    const pool = createSandbox({ size: 2 });
    try {
      const bundle = await bundleOnce(actionSource(`return (await nango.get({ endpoint: '/x' })).data;`));
      const runs = async (count: number) => {
        for (let index = 0; index < count; index++) {
          // 256 KB of host state per run, reachable only from the run's own host operation.
          const hostState = Buffer.alloc(256 * 1024, index % 251);
          const outcome = await pool.run({ kind: 'action', context: CONTEXT, bundle, host: async () => ({ status: 200, headers: {}, data: hostState.length }), log: () => undefined });
          expect(outcome).toMatchObject({ ok: true, output: 256 * 1024 });
        }
      };
      await runs(20);
      gc?.();
      const before = process.memoryUsage().arrayBuffers;
      await runs(400);
      gc?.();
      const grownMb = (process.memoryUsage().arrayBuffers - before) / 1048576;
      // Retained, 400 runs would hold 100 MB of buffers.
      expect(grownMb).toBeLessThan(20);
    } finally {
      await pool.close();
    }
  });
});
