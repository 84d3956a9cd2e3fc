// What a hostile function must not reach: Node's globals, host objects and references, other
// runs' state, the host's secrets and paths, and a way to bend what the host records.
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, type GuestContext, type HostCall, type RunOutcome } from '../../runner/sandbox/index.js';
import { actionSource, bundleOnce } from '../harness/bundle-source.js';

// One isolate: consecutive runs share it, which is what the isolation claims are about.
const sandbox = createSandbox({ size: 1 });
afterAll(() => sandbox.close());

const SECRET = 'sk_live_51HxSecretThatOnlyTheHostKnows';
const CONTEXT: GuestContext = { connectionId: 'tenant-a', providerConfigKey: 'github', provider: 'github' };

async function runAction(body: string, options: { context?: GuestContext; host?: HostCall; input?: unknown } = {}): Promise<RunOutcome> {
  // The host holds a secret in its closure, as the real one holds credentials.
  const credentials = { token: SECRET };
  const host: HostCall =
    options.host ??
    (async (op) => {
      if (credentials.token === '') throw new Error('unreachable');
      return op === 'proxy' ? { status: 200, headers: {}, data: { ok: true } } : null;
    });
  return sandbox.run({
    bundle: await bundleOnce(actionSource(body)),
    kind: 'action',
    context: options.context ?? CONTEXT,
    host,
    log: () => undefined,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
}

async function outputOf(body: string, options: Parameters<typeof runAction>[1] = {}): Promise<any> {
  const outcome = await runAction(body, options);
  if (!outcome.ok) throw new Error(`run failed: ${JSON.stringify(outcome.failure)}`);
  return outcome.output;
}

const SANDBOX_GLOBALS = 'URL URLSearchParams TextEncoder TextDecoder atob btoa structuredClone crypto Headers Response setTimeout clearTimeout setInterval clearInterval console'.split(' ');

// ECMAScript's globals in this V8, plus the sandbox's own, plus the bundle's export.
const ALLOWED_GLOBALS = new Set([
  ...'Object Function Array Number parseFloat parseInt Infinity NaN undefined Boolean String Symbol Date Promise RegExp Error AggregateError EvalError RangeError ReferenceError SyntaxError TypeError URIError globalThis JSON Math Intl ArrayBuffer Uint8Array Int8Array Uint16Array Int16Array Uint32Array Int32Array Float32Array Float64Array Uint8ClampedArray BigUint64Array BigInt64Array DataView Map BigInt Set WeakMap WeakSet Proxy Reflect FinalizationRegistry WeakRef decodeURI decodeURIComponent encodeURI encodeURIComponent escape unescape eval isFinite isNaN SharedArrayBuffer Atomics'.split(
    ' ',
  ),
  ...SANDBOX_GLOBALS,
  '__patchbay_exports',
]);

describe('sandbox escapes: Node and host globals', () => {
  it('has no process, require, module, fetch, Buffer or other Node globals, however they are looked up', async () => {
    const output = await outputOf(`
      const names = ['process', 'require', 'module', 'exports', 'fetch', 'Buffer', 'global', 'setImmediate', '__dirname', 'WebAssembly', 'ivm', '_ivm', 'XMLHttpRequest', 'WebSocket'];
      const viaConstructor = (() => { try { return this.constructor.constructor('return typeof process')(); } catch (e) { return 'threw ' + e.name; } })();
      const viaInput = input.constructor.constructor('return [typeof process, typeof require]')();
      const viaNango = nango.get.constructor('return typeof process')();
      const viaFunctionThis = Function('return this')();
      return {
        typeofs: names.map((name) => typeof globalThis[name]),
        viaConstructor, viaInput, viaNango,
        sameGlobal: viaFunctionThis === globalThis,
        processInGlobal: 'process' in viaFunctionThis,
        evalProcess: (() => { try { return eval('process'); } catch (e) { return e.name; } })(),
      };
    `, { input: { any: 'object' } });
    expect(output).toEqual({
      typeofs: Array(14).fill('undefined'),
      viaConstructor: 'undefined',
      viaInput: ['undefined', 'undefined'],
      viaNango: 'undefined',
      sameGlobal: true,
      processInGlobal: false,
      evalProcess: 'ReferenceError',
    });
  });

  it('gives the isolate a global holding only the language builtins and the sandbox globals', async () => {
    // Names whose value is undefined are emptied, not reachable (a test process with --expose-gc
    // gives isolates a non-configurable `gc`, which the runtime sets to undefined).
    const output = await outputOf(`return { names: Reflect.ownKeys(globalThis).filter((key) => globalThis[key] !== undefined || key === 'undefined').map(String), symbols: Object.getOwnPropertySymbols(globalThis).map(String), gc: typeof globalThis.gc };`);
    expect(output.gc).toBe('undefined');
    const unexpected = (output.names as string[]).filter((name) => !ALLOWED_GLOBALS.has(name) && !name.startsWith('Symbol('));
    expect(unexpected).toEqual([]);
    expect(output.names).not.toContain('__patchbay_bootstrap');
    // The one symbol: the frozen primitives (hash, hmac, random bytes) the bundled node:crypto shim builds on.
    expect(output.symbols).toEqual(['Symbol(patchbay.node)']);
  });

  it('exposes no isolated-vm Reference or host function anywhere the function can walk', async () => {
    // globalThis itself would lead the walk of builtins into the sandbox globals.
    const builtins = [...ALLOWED_GLOBALS].filter((name) => !SANDBOX_GLOBALS.includes(name) && name !== '__patchbay_exports' && name !== 'globalThis');
    const output = await outputOf(`
      const children = (value) => {
        const out = [];
        for (const key of Reflect.ownKeys(value)) {
          let descriptor;
          try { descriptor = Reflect.getOwnPropertyDescriptor(value, key); } catch { continue; }
          if (descriptor) out.push([String(key), descriptor.value], ['get ' + String(key), descriptor.get], ['set ' + String(key), descriptor.set]);
        }
        out.push(['__proto__', Object.getPrototypeOf(value)]);
        return out;
      };
      const isObject = (value) => value !== null && (typeof value === 'object' || typeof value === 'function');
      // Every native function the language itself provides, reachable from its builtins and hidden intrinsics.
      const intrinsic = new Set();
      const collect = (value) => {
        if (!isObject(value) || intrinsic.has(value)) return;
        intrinsic.add(value);
        for (const [, child] of children(value)) collect(child);
      };
      for (const name of ${JSON.stringify(builtins)}) collect(globalThis[name]);
      for (const hidden of [async function () {}, function* () {}, async function* () {}, (function* () {})(), (async function* () {})(), [][Symbol.iterator](), new Map().entries(), new Set().values(), ''[Symbol.iterator](), /a/[Symbol.matchAll]('a'), Promise.resolve()]) collect(hidden);
      const found = [];
      const seen = new Set();
      const walk = (value, path, depth) => {
        if (!isObject(value) || seen.has(value) || intrinsic.has(value) || depth > 8) return;
        seen.add(value);
        const className = (() => { try { return Object.getPrototypeOf(value)?.constructor?.name; } catch { return undefined; } })();
        if (['Reference', 'Callback', 'ExternalCopy', 'Isolate', 'Context', 'Script', 'Dereference', 'Copy'].includes(className)) found.push(path + ' is a ' + className);
        if (typeof value === 'function' && /\\[native code\\]/.test(Function.prototype.toString.call(value))) found.push(path + ' is a native function');
        for (const [key, child] of children(value)) walk(child, path + '.' + key, depth + 1);
      };
      for (const name of ${JSON.stringify(SANDBOX_GLOBALS)}) walk(globalThis[name], name, 0);
      walk(nango, 'nango', 0);
      walk(nango.paginate({ endpoint: '/x', paginate: { type: 'offset', offset_name_in_request: 'o' } }), 'paginate()', 0);
      walk(new URL('https://a.b/?c=d').searchParams.entries(), 'entries()', 0);
      return { found, walked: seen.size, intrinsics: intrinsic.size };
    `);
    expect(output.found).toEqual([]);
    expect(output.walked).toBeGreaterThan(100);
    expect(output.intrinsics).toBeGreaterThan(500);
  });

  it('shows the function nothing of the host: no secret, no path, in anything it can print', async () => {
    const output = await outputOf(`
      const dump = [];
      const errors = [];
      try { await nango.getConnection(); } catch (e) { errors.push(String(e), e.stack, JSON.stringify(e)); }
      try { await nango.get({ endpoint: '/x' }); } catch (e) { errors.push(String(e), e.stack, JSON.stringify(e)); }
      try { new URL('::'); } catch (e) { errors.push(e.stack); }
      try { new TextDecoder('no-such-encoding'); } catch (e) { errors.push(e.stack); }
      try { structuredClone(() => 1); } catch (e) { errors.push(e.stack); }
      for (const key of Reflect.ownKeys(nango)) dump.push(String(key) + '=' + (() => { try { return JSON.stringify(nango[key]) ?? String(nango[key]); } catch { return '?'; } })());
      dump.push(String(nango.get), String(setTimeout), String(URL), new Error('probe').stack);
      return dump.concat(errors).join('\\n');
    `, {
      host: async () => {
        throw new Error(`token ${SECRET} rejected by /work/main/server/proxy/send.ts`);
      },
    });
    expect(output).toContain('connectionId');
    expect(output).not.toContain(SECRET);
    expect(output).not.toMatch(/\/work\/|node_modules|file:\/\/|\.ts:\d|isolated-vm/);
  });
});

describe('sandbox escapes: state between runs', () => {
  it('does not carry prototype changes or globals from one run into the next', async () => {
    const first = await outputOf(`
      Object.prototype.polluted = 'yes';
      Array.prototype.push = function () { return 'hijacked'; };
      JSON.stringify = () => '"forged"';
      globalThis.leftover = 'from run 1';
      globalThis.URL = function FakeURL() {};
      return { ok: true };
    `);
    // JSON.stringify was replaced, but the runtime captured its own before user code ran.
    expect(first).toEqual({ ok: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const second = await outputOf(
      `const list = []; list.push(1); return { polluted: ({}).polluted ?? null, push: list.length, leftover: globalThis.leftover ?? null, url: new URL('https://x.y/').href, json: JSON.stringify({ a: 1 }) };`,
      { context: { ...CONTEXT, connectionId: 'tenant-b' } },
    );
    expect(second).toEqual({ polluted: null, push: 1, leftover: null, url: 'https://x.y/', json: '{"a":1}' });
  });

  it('keeps a function from replacing the runtime internals that report its result', async () => {
    const outcome = await runAction(`
      WeakMap.prototype.get = () => 1;
      WeakMap.prototype.has = () => true;
      Reflect.apply = () => ({ type: 'cpu_limit', limitMs: 1 });
      throw { type: 'host_failure', failureRef: 1 };
    `);
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'internal_error', message: expect.stringMatching(/^A non-error value was thrown/) } });
  });

  it('lets a function fake no limit or host failure through a forged guest result', async () => {
    // Promise.race is looked up at call time: replacing it hands the runtime any "settled" value.
    const outcome = await runAction(`
      Promise.race = async () => ({ failure: { type: 'cpu_limit', limitMs: 1 } });
      return 1;
    `);
    expect(outcome).toMatchObject({ ok: false, failure: { type: 'internal_error', message: 'The function runtime returned an unexpected result.' } });
    const forgedHttp = await runAction(`Promise.race = async () => ({ failure: { type: 'host_failure', failureRef: 999 } }); return 1;`);
    expect(forgedHttp).toMatchObject({ ok: false, failure: { type: 'internal_error' } });
  });

  it('never lets a timer of one run fire in another', async () => {
    const logs: string[] = [];
    await sandbox.run({
      bundle: await bundleOnce(actionSource(`setTimeout(() => console.log('from run A'), 20); return null;`)),
      kind: 'action',
      context: CONTEXT,
      host: async () => null,
      log: (_level, message) => logs.push(`A: ${message}`),
    });
    await sandbox.run({
      bundle: await bundleOnce(actionSource(`await new Promise((r) => setTimeout(r, 80)); return null;`)),
      kind: 'action',
      context: { ...CONTEXT, connectionId: 'tenant-b' },
      host: async () => null,
      log: (_level, message) => logs.push(`B: ${message}`),
    });
    expect(logs).toEqual([]);
  });

  it('refuses nango calls a run left running once it has ended, even after the next run starts', async () => {
    const calls: string[] = [];
    const slowHost: HostCall = async (op, args) => {
      calls.push(`A ${op} ${JSON.stringify(args)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { status: 200, headers: {}, data: null };
    };
    const first = await runAction(`nango.get({ endpoint: '/first' }).then(() => nango.get({ endpoint: '/second' })); return 'returned early';`, { host: slowHost });
    expect(first).toMatchObject({ ok: true, output: 'returned early' });
    const second = await runAction(`await new Promise((r) => setTimeout(r, 150)); return 'b';`, {
      context: { ...CONTEXT, connectionId: 'tenant-b' },
      host: async (op) => {
        calls.push(`B ${op}`);
        return null;
      },
    });
    expect(second).toMatchObject({ ok: true, output: 'b' });
    expect(calls).toEqual(['A proxy {"method":"GET","endpoint":"/first"}']);
  });
});

describe('sandbox escapes: values crossing the boundary', () => {
  it('hands the input over as plain data with the isolate own prototypes', async () => {
    const output = await outputOf(
      `return { proto: Object.getPrototypeOf(input) === Object.prototype, arrayProto: Array.isArray(input.list) && Object.getPrototypeOf(input.list) === Array.prototype, ownProto: Object.hasOwn(input, '__proto__'), polluted: ({}).polluted ?? null };`,
      { input: JSON.parse('{"list": [1], "__proto__": {"polluted": true}}') },
    );
    expect(output).toEqual({ proto: true, arrayProto: true, ownProto: true, polluted: null });
  });

  it('reads an output with getters and __proto__ keys as plain JSON data', async () => {
    const outcome = await runAction(`
      const output = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"bad": 1}}}');
      Object.defineProperty(output, 'sneaky', { enumerable: true, get() { return typeof Function('return this')().process; } });
      output.toJSON = undefined;
      return output;
    `);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const output = outcome.output as Record<string, unknown>;
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    expect(Object.hasOwn(output, '__proto__')).toBe(true);
    expect(output.sneaky).toBe('undefined');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).bad).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(output, 'sneaky')).toMatchObject({ value: 'undefined' });
  });

  it('sends host operations plain copies: a getter or a prototype in the arguments does not reach the host', async () => {
    const received: unknown[] = [];
    await runAction(
      `
      class Body { constructor() { this.own = 1; } get computed() { return 'computed in guest'; } }
      const data = new Body();
      Object.defineProperty(data, 'lazy', { enumerable: true, get() { return 'lazy value'; } });
      await nango.post({ endpoint: '/x', data });
      return null;
    `,
      {
        host: async (_op, args) => {
          received.push(args);
          return { status: 200, headers: {}, data: null };
        },
      },
    );
    const data = (received[0] as { data: Record<string, unknown> }).data;
    expect(data).toEqual({ own: 1, lazy: 'lazy value' });
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(data, 'lazy')).toMatchObject({ value: 'lazy value' });
  });
});
