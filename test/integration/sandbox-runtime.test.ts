// What a function sees inside the sandbox: the web globals, the nango object and its errors,
// how each way of ending becomes a RunOutcome, and inspect().
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, type GuestContext, type HostCall, type RunOutcome, type RunRequest } from '../../runner/sandbox/index.js';
import { actionSource, bundleOnce, bundleSource, syncSource } from '../harness/bundle-source.js';

const sandbox = createSandbox({ size: 2 });
afterAll(() => sandbox.close());

const CONTEXT: GuestContext = { connectionId: 'conn-1', providerConfigKey: 'github-prod', provider: 'github', activityLogId: 'log-1' };

interface Recorded {
  outcome: RunOutcome;
  calls: { op: string; args: unknown }[];
  logs: { level: string; message: string; meta?: unknown }[];
}

/** A host that records every call and answers with `answer` (default: echo as a 200). */
function recordingHost(answer?: (op: string, args: any) => unknown) {
  const calls: Recorded['calls'] = [];
  const host: HostCall = async (op, args) => {
    calls.push({ op, args });
    return answer !== undefined ? answer(op, args) : { status: 200, headers: { 'content-type': 'application/json' }, data: { echo: args } };
  };
  return { host, calls };
}

async function run(source: string, options: Partial<Omit<RunRequest, 'bundle'>> & { answer?: (op: string, args: any) => unknown } = {}): Promise<Recorded> {
  const { host, calls } = recordingHost(options.answer);
  const logs: Recorded['logs'] = [];
  const outcome = await sandbox.run({
    bundle: await bundleOnce(source),
    kind: options.kind ?? 'action',
    context: options.context ?? CONTEXT,
    host: options.host ?? host,
    log: (level, message, meta) => logs.push(meta === undefined ? { level, message } : { level, message, meta }),
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.entry !== undefined ? { entry: options.entry } : {}),
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
  });
  return { outcome, calls, logs };
}

/** Runs an action returning a value and gives the value (fails the test on any failure). */
async function evaluate(body: string, options: Parameters<typeof run>[1] = {}): Promise<any> {
  const { outcome } = await run(actionSource(body), options);
  if (!outcome.ok) throw new Error(`run failed: ${JSON.stringify(outcome.failure)}`);
  return outcome.output;
}

function failureOf(outcome: RunOutcome) {
  if (outcome.ok) throw new Error(`expected a failure, got ${outcome.outputJson}`);
  return outcome.failure;
}

describe('sandbox runtime: web globals', () => {
  it('parses URLs as WHATWG does, with a base, and exposes every component', async () => {
    const output = await evaluate(`
      const u = new URL('../c/d?x=1&y=%20z#frag', 'https://user:pw@Example.COM:8443/a/b/');
      return { href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password, host: u.host, hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search, hash: u.hash, json: JSON.stringify({ u }), string: String(u), name: u.constructor.name, tag: Object.prototype.toString.call(u) };
    `);
    const expected = new URL('../c/d?x=1&y=%20z#frag', 'https://user:pw@Example.COM:8443/a/b/');
    expect(output).toEqual({
      href: expected.href,
      origin: expected.origin,
      protocol: 'https:',
      username: 'user',
      password: 'pw',
      host: 'example.com:8443',
      hostname: 'example.com',
      port: '8443',
      pathname: '/a/c/d',
      search: '?x=1&y=%20z',
      hash: '#frag',
      json: JSON.stringify({ u: expected.href }),
      string: expected.href,
      name: 'URL',
      tag: '[object URL]',
    });
  });

  it('reflects searchParams changes in href, and search changes in searchParams', async () => {
    const output = await evaluate(`
      const u = new URL('https://api.example.com/items?page=1');
      const params = u.searchParams;
      params.set('page', '2');
      params.append('q', 'a b&c=d');
      params.append('q', 'é/+');
      const afterAppend = u.href;
      params.delete('page');
      const afterDelete = u.href;
      u.search = '?z=9&z=8';
      const fromSearch = [...params.entries()];
      params.sort();
      u.pathname = '/v2/items';
      u.hash = 'top';
      return { afterAppend, afterDelete, fromSearch, final: u.href, same: params === u.searchParams, size: params.size };
    `);
    expect(output).toEqual({
      afterAppend: 'https://api.example.com/items?page=2&q=a+b%26c%3Dd&q=%C3%A9%2F%2B',
      afterDelete: 'https://api.example.com/items?q=a+b%26c%3Dd&q=%C3%A9%2F%2B',
      fromSearch: [
        ['z', '9'],
        ['z', '8'],
      ],
      final: 'https://api.example.com/v2/items?z=9&z=8#top',
      same: true,
      size: 2,
    });
  });

  it('throws a TypeError for an invalid URL and answers canParse', async () => {
    const output = await evaluate(`
      let error;
      try { new URL('not a url'); } catch (e) { error = [e instanceof TypeError, e.message]; }
      return { error, can: URL.canParse('/x', 'https://a.b'), cannot: URL.canParse('/x') };
    `);
    expect(output).toEqual({ error: [true, 'Invalid URL: not a url'], can: true, cannot: false });
  });

  it('builds and reads URLSearchParams like Node does', async () => {
    const output = await evaluate(`
      const fromString = new URLSearchParams('?a=1&b=x+y&a=%F0%9F%8C%8D&empty=&flag');
      const fromRecord = new URLSearchParams({ name: 'Ann Lee', tags: 'a,b', sym: "*-._~!'()" });
      const fromPairs = new URLSearchParams([['k', 'v1'], ['k', 'v2']]);
      const seen = [];
      fromString.forEach((value, key) => seen.push(key + '=' + value));
      return {
        all: fromString.getAll('a'), b: fromString.get('b'), missing: fromString.get('nope'), has: fromString.has('flag'), hasValue: fromString.has('a', '1'),
        record: fromRecord.toString(), pairs: fromPairs.toString(), keys: [...fromPairs.keys()], seen, copy: new URLSearchParams(fromPairs).toString(),
      };
    `);
    expect(output).toEqual({
      all: ['1', '🌍'],
      b: 'x y',
      missing: null,
      has: true,
      hasValue: true,
      record: new URLSearchParams({ name: 'Ann Lee', tags: 'a,b', sym: "*-._~!'()" }).toString(),
      pairs: 'k=v1&k=v2',
      keys: ['k', 'k'],
      seen: ['a=1', 'b=x y', 'a=🌍', 'empty=', 'flag='],
      copy: 'k=v1&k=v2',
    });
  });

  it('encodes and decodes text in UTF-8, streamed, fatal and with other labels', async () => {
    const output = await evaluate(`
      const text = 'héllo wörld 🌍 ✓';
      const bytes = new TextEncoder().encode(text);
      const decoder = new TextDecoder();
      const streamed = decoder.decode(bytes.subarray(0, 14), { stream: true }) + decoder.decode(bytes.subarray(14), { stream: true }) + decoder.decode();
      let fatal;
      try { new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff, 0xfe, 0xfd])); } catch (e) { fatal = e.name; }
      const target = new Uint8Array(5);
      const into = new TextEncoder().encodeInto('aé🌍', target);
      return {
        bytes: Array.from(bytes), isU8: bytes instanceof Uint8Array, roundTrip: new TextDecoder().decode(bytes.buffer), streamed, fatal,
        lossy: new TextDecoder().decode(new Uint8Array([0x61, 0xff])), bom: new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x68])),
        latin1: new TextDecoder('latin1').decode(new Uint8Array([0xe9])), encoding: new TextDecoder('UTF8').encoding, into, target: Array.from(target),
      };
    `);
    const text = 'héllo wörld 🌍 ✓';
    expect(output).toEqual({
      bytes: [...Buffer.from(text)],
      isU8: true,
      roundTrip: text,
      streamed: text,
      fatal: 'TypeError',
      lossy: 'a\uFFFD',
      bom: 'h',
      latin1: 'é',
      encoding: 'utf-8',
      into: { read: 2, written: 3 },
      target: [0x61, 0xc3, 0xa9, 0, 0],
    });
  });

  it('has atob and btoa with their errors', async () => {
    const output = await evaluate(`
      let wide; try { btoa('🌍'); } catch (e) { wide = e.name; }
      let bad; try { atob('***'); } catch (e) { bad = e.name; }
      return { encoded: btoa('hello\\u00ff'), decoded: atob(' aGVs bG8= '), wide, bad };
    `);
    expect(output).toEqual({ encoded: Buffer.from('hello\u00ff', 'latin1').toString('base64'), decoded: 'hello', wide: 'InvalidCharacterError', bad: 'InvalidCharacterError' });
  });

  it('deep-copies Maps, Sets and Dates with structuredClone and refuses functions', async () => {
    const output = await evaluate(`
      const original = { when: new Date(86400000), map: new Map([['k', { n: 1 }]]), set: new Set([1, 2]), list: [{ deep: true }] };
      const copy = structuredClone(original);
      copy.map.get('k').n = 2; copy.list[0].deep = false;
      let refused; try { structuredClone({ f() {} }); } catch (e) { refused = e.name; }
      return { isDate: copy.when instanceof Date, time: copy.when.getTime(), isMap: copy.map instanceof Map, isSet: copy.set instanceof Set, setSize: copy.set.size, originalN: original.map.get('k').n, originalDeep: original.list[0].deep, copyN: copy.map.get('k').n, refused };
    `);
    expect(output).toEqual({ isDate: true, time: 86400000, isMap: true, isSet: true, setSize: 2, originalN: 1, originalDeep: true, copyN: 2, refused: 'DataCloneError' });
  });

  it('gives random UUIDs and random values from the host', async () => {
    const output = await evaluate(`
      const ids = new Set(Array.from({ length: 50 }, () => crypto.randomUUID()));
      const bytes = crypto.getRandomValues(new Uint8Array(64));
      const words = crypto.getRandomValues(new Uint32Array(8));
      let floats; try { crypto.getRandomValues(new Float64Array(2)); } catch (e) { floats = e.name; }
      let tooMany; try { crypto.getRandomValues(new Uint8Array(65537)); } catch (e) { tooMany = e.name; }
      return { unique: ids.size, sample: [...ids][0], nonZero: bytes.some((b) => b !== 0), words: words.some((w) => w !== 0), floats, tooMany };
    `);
    expect(output.unique).toBe(50);
    expect(output.sample).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(output).toMatchObject({ nonZero: true, words: true, floats: 'TypeMismatchError', tooMany: 'QuotaExceededError' });
  });

  it('fires timers in delay order, passes their arguments, and honours clearTimeout and clearInterval', async () => {
    const output = await evaluate(`
      const order = [];
      await new Promise((resolve) => {
        // Done once the four timers and three ticks have fired, however loaded the machine is.
        const push = (entry) => { order.push(entry); if (order.length === 7) setTimeout(resolve, 30); };
        setTimeout((tag) => push(tag), 40, 'forty');
        setTimeout(() => push('ten'), 10);
        setTimeout(() => push('zero-a'), 0);
        setTimeout(() => push('zero-b'));
        const cancelled = setTimeout(() => push('cancelled'), 20);
        clearTimeout(cancelled);
        let ticks = 0;
        const interval = setInterval(() => { ticks++; push('tick' + ticks); if (ticks === 3) clearInterval(interval); }, 5);
      });
      return order;
    `);
    expect(output.filter((entry: string) => !entry.startsWith('tick'))).toEqual(['zero-a', 'zero-b', 'ten', 'forty']);
    expect(output.filter((entry: string) => entry.startsWith('tick'))).toEqual(['tick1', 'tick2', 'tick3']);
  });

  it('waits the delay it was given (≥ 50 ms for 50)', async () => {
    const output = await evaluate(`const start = Date.now(); await new Promise((r) => setTimeout(r, 50)); return Date.now() - start;`);
    expect(output).toBeGreaterThanOrEqual(49);
  });

  it('routes console to the log callback with the right levels, objects as JSON', async () => {
    const { outcome, logs } = await run(
      actionSource(`
        console.log('plain', { a: 1, nested: [1, 'two'] }, 3, null, undefined);
        console.info('info');
        console.debug('debug');
        console.warn('careful');
        console.error(new TypeError('bad thing'));
        return null;
      `),
    );
    expect(outcome.ok).toBe(true);
    expect(logs.slice(0, 4)).toEqual([
      { level: 'info', message: 'plain {"a":1,"nested":[1,"two"]} 3 null undefined' },
      { level: 'info', message: 'info' },
      { level: 'debug', message: 'debug' },
      { level: 'warn', message: 'careful' },
    ]);
    expect(logs[4]?.level).toBe('error');
    expect(logs[4]?.message).toMatch(/^TypeError: bad thing\n\s+at .*function\.js/);
  });

  it('clears pending timers when the run ends: they never fire later', async () => {
    const { outcome, logs } = await run(actionSource(`setTimeout(() => console.log('late'), 30); setInterval(() => console.log('tick'), 10); return 'done';`));
    expect(outcome).toMatchObject({ ok: true, output: 'done' });
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(logs).toEqual([]);
  });

  it('fails the run with internal_error when a timer callback throws', async () => {
    const { outcome } = await run(actionSource(`await new Promise((resolve) => { setTimeout(() => { throw new RangeError('in a timer'); }, 1); setTimeout(resolve, 500); }); return 'not reached';`));
    expect(failureOf(outcome)).toMatchObject({ type: 'internal_error', name: 'RangeError', message: 'in a timer' });
  });
});

describe('sandbox runtime: nango', () => {
  it('exposes the context as fields', async () => {
    const output = await evaluate(`return { connectionId: nango.connectionId, providerConfigKey: nango.providerConfigKey, provider: nango.provider, activityLogId: nango.activityLogId, sync: typeof nango.batchSave };`);
    expect(output).toEqual({ connectionId: 'conn-1', providerConfigKey: 'github-prod', provider: 'github', activityLogId: 'log-1', sync: 'undefined' });
  });

  it('passes exactly what the function gave to the host proxy and returns an axios-shaped response', async () => {
    const { outcome, calls } = await run(
      actionSource(`
        const response = await nango.get({ endpoint: '/user/repos', params: { per_page: 5, skip: undefined }, headers: { 'X-Trace': 'abc' }, retries: 3 });
        const posted = await nango.post({ endpoint: '/repos', data: { name: 'x' }, connectionId: 'other-conn' });
        await nango.proxy({ endpoint: '/raw', method: 'put', data: new Uint8Array([1, 2, 3]), responseType: 'arraybuffer' });
        return { status: response.status, statusText: response.statusText, headers: response.headers, data: response.data, config: response.config, postedStatus: posted.status };
      `),
    );
    expect(calls.map((call) => call.op)).toEqual(['proxy', 'proxy', 'proxy']);
    // params are written into the endpoint by the Node client's own rules (sdk/params.ts).
    expect(calls[0]?.args).toEqual({ method: 'GET', endpoint: '/user/repos?per_page=5', headers: { 'X-Trace': 'abc' }, retries: 3 });
    expect(calls[1]?.args).toEqual({ method: 'POST', endpoint: '/repos', data: { name: 'x' }, connectionId: 'other-conn' });
    const raw = calls[2]?.args as { data: unknown };
    expect(raw).toMatchObject({ method: 'PUT', endpoint: '/raw', responseType: 'arraybuffer' });
    expect(raw.data).toBeInstanceOf(Uint8Array);
    expect([...(raw.data as Uint8Array)]).toEqual([1, 2, 3]);
    expect(outcome).toMatchObject({
      ok: true,
      output: {
        status: 200,
        statusText: 'OK',
        headers: { 'content-type': 'application/json' },
        data: { echo: calls[0]?.args },
        config: { endpoint: '/user/repos', params: { per_page: 5 }, headers: { 'X-Trace': 'abc' }, retries: 3, method: 'GET' },
        postedStatus: 200,
      },
    });
  });

  it('hands bytes from the host over as exactly those bytes', async () => {
    const pool = Buffer.from('secret-neighbour-bytes|payload|more-secret-bytes');
    const view = pool.subarray(23, 30);
    const output = await evaluate(`const r = await nango.get({ endpoint: '/file', responseType: 'arraybuffer' }); return { isU8: r.data instanceof Uint8Array, length: r.data.length, bufferLength: r.data.buffer.byteLength, text: new TextDecoder().decode(r.data) };`, {
      answer: () => ({ status: 200, headers: {}, data: view }),
    });
    expect(output).toEqual({ isU8: true, length: 7, bufferLength: 7, text: 'payload' });
  });

  it('throws an axios-shaped error for a status ≥ 400 that the function can catch', async () => {
    const output = await evaluate(
      `
      const seen = [];
      for (const endpoint of ['/missing', '/broken']) {
        try { await nango.get({ endpoint }); } catch (e) {
          seen.push({ name: e.name, isAxiosError: e.isAxiosError, message: e.message, code: e.code, status: e.status, response: e.response, isError: e instanceof Error, endpoint: e.config.endpoint });
        }
      }
      return seen;
    `,
      { answer: (_op, args) => (args.endpoint === '/missing' ? { status: 404, headers: { 'x-ratelimit-remaining': '9' }, data: { message: 'Not Found' } } : { status: 503, headers: {}, data: 'down' }) },
    );
    expect(output).toEqual([
      {
        name: 'AxiosError',
        isAxiosError: true,
        message: 'Request failed with status code 404',
        code: 'ERR_BAD_REQUEST',
        status: 404,
        response: { status: 404, statusText: 'Not Found', headers: { 'x-ratelimit-remaining': '9' }, data: { message: 'Not Found' } },
        isError: true,
        endpoint: '/missing',
      },
      { name: 'AxiosError', isAxiosError: true, message: 'Request failed with status code 503', code: 'ERR_BAD_RESPONSE', status: 503, response: { status: 503, statusText: 'Service Unavailable', headers: {}, data: 'down' }, isError: true, endpoint: '/broken' },
    ]);
  });

  it('reports an uncaught non-2xx as http_error with the response the host gave', async () => {
    const { outcome } = await run(actionSource(`await nango.get({ endpoint: '/x' }); return 'unreachable';`), { answer: () => ({ status: 422, headers: { 'content-type': 'application/json' }, data: { errors: ['bad'] } }) });
    expect(failureOf(outcome)).toEqual({ type: 'http_error', status: 422, headers: { 'content-type': 'application/json' }, data: { errors: ['bad'] } });
  });

  it('reports the host response, not a copy the function changed, for an escaping http error', async () => {
    const { outcome } = await run(actionSource(`try { await nango.get({ endpoint: '/x' }); } catch (e) { e.response.status = 200; e.response.data = 'forged'; throw e; }`), {
      answer: () => ({ status: 500, headers: {}, data: 'real' }),
    });
    expect(failureOf(outcome)).toEqual({ type: 'http_error', status: 500, headers: {}, data: 'real' });
  });

  it('reports a HostFailure with a response as http_error', async () => {
    const { outcome } = await run(actionSource(`await nango.get({ endpoint: '/x' });`), {
      host: async () => {
        throw { hostFailure: true, code: 'upstream_error', message: 'nope', response: { status: 401, headers: { a: 'b' }, data: { error: 'unauthorized' } } };
      },
    });
    expect(failureOf(outcome)).toEqual({ type: 'http_error', status: 401, headers: { a: 'b' }, data: { error: 'unauthorized' } });
  });

  it('turns a network_error HostFailure into an axios network error and network_error', async () => {
    const host: HostCall = async () => {
      throw { hostFailure: true, code: 'network_error', message: 'connect ECONNREFUSED' };
    };
    const caught = await evaluate(`try { await nango.get({ endpoint: '/x' }); } catch (e) { return { name: e.name, code: e.code, message: e.message, response: e.response ?? null, isAxiosError: e.isAxiosError }; }`, { host });
    expect(caught).toEqual({ name: 'AxiosError', code: 'ERR_NETWORK', message: 'connect ECONNREFUSED', response: null, isAxiosError: true });
    const { outcome } = await run(actionSource(`await nango.get({ endpoint: '/x' });`), { host });
    expect(failureOf(outcome)).toEqual({ type: 'network_error', message: 'connect ECONNREFUSED' });
  });

  it('turns other HostFailures into SDK errors and sdk_error with their code and status', async () => {
    const host: HostCall = async () => {
      throw { hostFailure: true, code: 'rate_limited', message: 'Retry in 90 s', status: 429 };
    };
    const caught = await evaluate(`try { await nango.getConnection(); } catch (e) { return { name: e.name, code: e.code, status: e.status, message: e.message, isError: e instanceof Error }; }`, { host });
    expect(caught).toEqual({ name: 'SDKError', code: 'rate_limited', status: 429, message: 'Retry in 90 s', isError: true });
    const { outcome } = await run(actionSource(`await nango.get({ endpoint: '/x' });`), { host });
    expect(failureOf(outcome)).toEqual({ type: 'sdk_error', code: 'rate_limited', message: 'Retry in 90 s', status: 429 });
  });

  it('never shows the function a host exception: its message, stack and paths stay outside', async () => {
    const host: HostCall = async () => {
      throw new Error('db password hunter2 at /work/main/server/store/db.ts:12');
    };
    const caught = await evaluate(`try { await nango.getMetadata(); } catch (e) { return { text: String(e) + e.stack + JSON.stringify(e), code: e.code }; }`, { host });
    expect(caught.code).toBe('internal_error');
    expect(caught.text).toContain('The operation failed inside Patchbay.');
    expect(caught.text).not.toMatch(/hunter2|\/work\/|db\.ts/);
  });

  it('forwards log calls with their level and meta', async () => {
    const { logs } = await run(
      actionSource(`
        await nango.log('plain');
        await nango.log('with meta', { id: 7, when: new Date(0) }, { level: 'warn' });
        await nango.log('level only', { level: 'error' });
        await nango.log({ an: 'object' }, undefined, { level: 'debug' });
        return null;
      `),
    );
    expect(logs).toEqual([
      { level: 'info', message: 'plain' },
      { level: 'warn', message: 'with meta', meta: { id: 7, when: '1970-01-01T00:00:00.000Z' } },
      { level: 'error', message: 'level only' },
      { level: 'debug', message: '{"an":"object"}' },
    ]);
  });

  it('maps connection and metadata methods to host operations of the same names', async () => {
    const { outcome, calls } = await run(
      actionSource(`
        const connection = await nango.getConnection();
        await nango.getConnection('other-key', 'other-conn');
        const metadata = await nango.getMetadata();
        await nango.setMetadata({ a: 1 });
        await nango.updateMetadata({ b: 2 });
        return { connection, metadata };
      `),
      { answer: (op) => (op === 'getConnection' ? { connection_id: 'conn-1', metadata: null } : op === 'getMetadata' ? { plan: 'pro' } : null) },
    );
    expect(calls).toEqual([
      // Credentials are asked for; the host includes them only with the integration's opt-in.
      { op: 'getConnection', args: { withCredentials: true } },
      { op: 'getConnection', args: { withCredentials: true, providerConfigKey: 'other-key', connectionId: 'other-conn' } },
      { op: 'getMetadata', args: {} },
      { op: 'setMetadata', args: { metadata: { a: 1 } } },
      { op: 'updateMetadata', args: { metadata: { b: 2 } } },
    ]);
    expect(outcome).toMatchObject({ ok: true, output: { connection: { connection_id: 'conn-1', metadata: null }, metadata: { plan: 'pro' } } });
  });

  it('gives syncs record, checkpoint and delete-tracking operations', async () => {
    const { outcome, calls } = await run(
      syncSource(`
        if (!(nango.lastSyncDate instanceof Date) || nango.lastSyncDate.toISOString() !== '2024-05-01T00:00:00.000Z' || nango.variant !== 'eu') throw new Error('context');
        await nango.batchSave([{ id: '1', name: 'a', _nango_metadata: { cursor: 'x' } }], 'Item');
        await nango.batchUpdate([{ id: '1', name: 'b' }], 'Item');
        await nango.batchDelete([{ id: '2' }], 'Item');
        const found = await nango.getRecordsByIds(['1', 3], 'Item');
        if (!(found instanceof Map) || found.get('1').name !== 'a' || found.size !== 1) throw new Error('map');
        const checkpoint = await nango.getCheckpoint();
        await nango.saveCheckpoint({ since: checkpoint.since + '!' });
        await nango.clearCheckpoint();
        await nango.setMergingStrategy({ strategy: 'ignore_if_modified_after' }, 'Item');
        await nango.trackDeletesStart('Item');
        const { deletedKeys } = await nango.trackDeletesEnd('Item');
        if (deletedKeys.join() !== '9') throw new Error('deleted');
      `),
      {
        kind: 'sync',
        context: { ...CONTEXT, lastSyncDate: '2024-05-01T00:00:00.000Z', variant: 'eu' },
        answer: (op) => ({ getRecordsByIds: [['1', { id: '1', name: 'a' }]], getCheckpoint: { since: 'then' }, trackDeletesEnd: { deletedKeys: ['9'] } })[op as string] ?? true,
      },
    );
    expect(outcome).toMatchObject({ ok: true, output: null });
    expect(calls).toEqual([
      { op: 'batchSave', args: { records: [{ id: '1', name: 'a' }], model: 'Item' } },
      { op: 'batchUpdate', args: { records: [{ id: '1', name: 'b' }], model: 'Item' } },
      { op: 'batchDelete', args: { records: [{ id: '2' }], model: 'Item' } },
      { op: 'getRecordsByIds', args: { ids: ['1', '3'], model: 'Item' } },
      { op: 'getCheckpoint', args: {} },
      { op: 'saveCheckpoint', args: { checkpoint: { since: 'then!' } } },
      { op: 'clearCheckpoint', args: {} },
      { op: 'setMergingStrategy', args: { strategy: 'ignore_if_modified_after', model: 'Item' } },
      { op: 'trackDeletesStart', args: { model: 'Item' } },
      { op: 'trackDeletesEnd', args: { model: 'Item' } },
    ]);
  });

  it('runs onWebhook with the payload as its second argument', async () => {
    const { outcome, calls } = await run(syncSource(`throw new Error('exec must not run');`, '', `await nango.batchSave([{ id: payload.id, name: payload.name }], 'Item');`), {
      kind: 'sync',
      entry: 'onWebhook',
      input: { id: '42', name: 'from webhook' },
      answer: () => true,
    });
    expect(outcome.ok).toBe(true);
    expect(calls).toEqual([{ op: 'batchSave', args: { records: [{ id: '42', name: 'from webhook' }], model: 'Item' } }]);
  });

  it('paginates through the host with the provider defaults from the context', async () => {
    const pages = [
      { status: 200, headers: { link: '<https://api.example.com/items?page=2>; rel="next"' }, data: [1, 2] },
      { status: 200, headers: {}, data: [3] },
    ];
    const { outcome, calls } = await run(actionSource(`const all = []; for await (const page of nango.paginate({ endpoint: '/items' })) all.push(...page); return all;`), {
      context: { ...CONTEXT, paginate: { type: 'link', link_rel_in_response_header: 'next', limit_name_in_request: 'per_page', limit: 2 } },
      answer: () => pages.shift(),
    });
    expect(outcome).toMatchObject({ ok: true, output: [1, 2, 3] });
    expect(calls.map((call) => call.args)).toEqual([
      { method: 'GET', endpoint: '/items?per_page=2' },
      { method: 'GET', endpoint: '/items?page=2', baseUrlOverride: 'https://api.example.com' },
    ]);
  });
});

describe('sandbox runtime: outcomes', () => {
  it('returns the output as JSON and as a value, undefined as null', async () => {
    const { outcome } = await run(actionSource(`return { n: 1, s: 'é', list: [true, null] };`));
    expect(outcome).toMatchObject({ ok: true, output: { n: 1, s: 'é', list: [true, null] }, outputJson: '{"n":1,"s":"é","list":[true,null]}' });
    expect(outcome.cpuMs).toBeGreaterThan(0);
    expect(outcome.wallMs).toBeGreaterThanOrEqual(outcome.cpuMs * 0.5);
    const empty = await run(actionSource(`return undefined;`));
    expect(empty.outcome).toMatchObject({ ok: true, output: null, outputJson: 'null' });
  });

  it('reports nango.ActionError and the sdk ActionError as action_error with their payload', async () => {
    const viaNango = await run(actionSource(`throw new nango.ActionError({ message: 'bad input', field: 'title' });`));
    expect(failureOf(viaNango.outcome)).toEqual({ type: 'action_error', payload: { message: 'bad input', field: 'title' } });
    const viaSdk = await run(actionSource(`const e = new ActionError({ code: 42 }); if (!(e instanceof Error) || e.name !== 'ActionError') throw new Error('shape'); throw e;`));
    expect(failureOf(viaSdk.outcome)).toEqual({ type: 'action_error', payload: { code: 42 } });
  });

  it('validates the input and the output with the zod schemas when there are some', async () => {
    const top = `import { z } from 'zod'; const schemas = { input: z.object({ title: z.string().min(1), count: z.coerce.number() }), output: z.object({ id: z.number() }) };`;
    const invalidInput = await run(actionSource(`return { id: 1 };`, top), { input: { title: '' } });
    const inputFailure = failureOf(invalidInput.outcome);
    expect(inputFailure.type).toBe('invalid_input');
    expect((inputFailure as { issues: { path: unknown[] }[] }).issues.map((issue) => issue.path)).toEqual([['title'], ['count']]);

    const parsed = await run(actionSource(`return { id: input.count * 2 };`, top), { input: { title: 't', count: '21' } });
    expect(parsed.outcome).toMatchObject({ ok: true, output: { id: 42 } });

    const invalidOutput = await run(actionSource(`return { id: 'not a number' };`, top), { input: { title: 't', count: 1 } });
    const outputFailure = failureOf(invalidOutput.outcome);
    expect(outputFailure.type).toBe('invalid_output');
    expect((outputFailure as { issues: { path: unknown[] }[] }).issues[0]?.path).toEqual(['id']);
  });

  it('reports other throws as internal_error with a stack of the function frames only', async () => {
    const { outcome } = await run(actionSource(`function helper() { null.boom; } helper();`));
    const failure = failureOf(outcome);
    expect(failure).toMatchObject({ type: 'internal_error', name: 'TypeError' });
    const { stack, message } = failure as { stack: string; message: string };
    expect(message).toMatch(/Cannot read properties of null/);
    expect(stack.split('\n')[0]).toBe(`TypeError: ${message}`);
    expect(stack).toMatch(/at helper \(function\.js:\d+:\d+\)/);
    expect(stack).not.toMatch(/patchbay-runtime|\/work\/|node_modules|isolated-vm|node:/);
  });

  it('reports a thrown non-error value readably', async () => {
    const { outcome } = await run(actionSource(`throw { reason: 'plain object' };`));
    expect(failureOf(outcome)).toEqual({ type: 'internal_error', name: 'Error', message: 'A non-error value was thrown: {"reason":"plain object"}', stack: '' });
  });

  it('reports a throw at the top level of the bundle as internal_error without host frames', async () => {
    const { outcome } = await run(`import { createAction } from 'patchbay';\nfunction load() { throw new SyntaxError('config broken'); }\nload();\nexport default createAction({} as any);`);
    const failure = failureOf(outcome) as { type: string; name: string; message: string; stack: string };
    expect(failure).toMatchObject({ type: 'internal_error', name: 'SyntaxError', message: 'config broken' });
    expect(failure.stack).toMatch(/at load \(function\.js/);
    expect(failure.stack).not.toMatch(/\/work\/|node_modules|isolated-vm boundary|file:/);
  });

  it('reports an output that JSON cannot carry as output_not_json', async () => {
    const { outcome } = await run(actionSource(`return { big: 10n };`));
    expect(failureOf(outcome)).toMatchObject({ type: 'output_not_json', message: expect.stringMatching(/BigInt/) });
  });

  it('reports definition problems as invalid_definition', async () => {
    const cases: [string, RegExp][] = [
      [`export const notDefault = 1;`, /no default export/],
      [`export default async function legacy(nango) {}`, /is a function/],
      [`export default { type: 'action' };`, /no exec function/],
      [`export default { type: 'webhook', exec() {} };`, /expected createAction/],
    ];
    for (const [source, message] of cases) {
      const { outcome } = await run(source);
      expect(failureOf(outcome), source).toMatchObject({ type: 'invalid_definition', message: expect.stringMatching(message) });
    }
    const wrongKind = await run(syncSource(`return;`), { kind: 'action' });
    expect(failureOf(wrongKind.outcome)).toMatchObject({ type: 'invalid_definition', message: 'The function is a sync but was run as a action.' });
    const noWebhook = await run(actionSource(`return 1;`), { entry: 'onWebhook' });
    expect(failureOf(noWebhook.outcome)).toMatchObject({ type: 'invalid_definition', message: 'The definition has no onWebhook function.' });
  });

  it('reports a bundle that does not compile as invalid_definition', async () => {
    const outcome = await sandbox.run({ bundle: { hash: 'broken-syntax', code: 'var x = ;\n;void 0;\n' }, kind: 'action', context: CONTEXT, host: async () => null, log: () => undefined });
    expect(failureOf(outcome)).toMatchObject({ type: 'invalid_definition', message: expect.stringMatching(/does not compile: .*Unexpected token/) });
  });
});

describe('sandbox inspect', () => {
  it('summarises an action', async () => {
    const bundle = await bundleSource(`
      import { createAction } from 'patchbay';
      import { z } from 'zod';
      export default createAction({ description: 'Create an issue', version: '1.2.0', scopes: ['repo'], input: z.object({ title: z.string() }), output: z.object({ id: z.number() }), async exec() { return { id: 1 }; } });
    `);
    expect(await sandbox.inspect(bundle)).toEqual({
      ok: true,
      summary: { type: 'action', description: 'Create an issue', version: '1.2.0', scopes: ['repo'], hasInput: true, hasOutput: true, hasOnWebhook: false },
    });
  });

  it('summarises a sync', async () => {
    const bundle = await bundleSource(`
      import { createSync } from 'patchbay';
      import { z } from 'zod';
      export default createSync({
        description: 'Issues', frequency: 'every 30 minutes', autoStart: false, trackDeletes: true, syncType: 'full', webhookSubscriptions: ['issues.opened'],
        models: { Issue: z.object({ id: z.string() }), Comment: z.object({ id: z.string() }) },
        limits: { timeoutMs: 600000 },
        async exec() {}, async onWebhook() {},
      });
    `);
    expect(await sandbox.inspect(bundle)).toEqual({
      ok: true,
      summary: {
        type: 'sync',
        description: 'Issues',
        version: '0.0.1',
        frequency: 'every 30 minutes',
        autoStart: false,
        trackDeletes: true,
        syncType: 'full',
        models: ['Issue', 'Comment'],
        webhookSubscriptions: ['issues.opened'],
        limits: { timeoutMs: 600000 },
        hasInput: false,
        hasOutput: false,
        hasOnWebhook: true,
      },
    });
  });

  it('explains why a bundle cannot be read', async () => {
    expect(await sandbox.inspect(await bundleSource(`export const x = 1;`))).toEqual({ ok: false, message: expect.stringMatching(/no default export/) });
    expect(await sandbox.inspect(await bundleSource(`throw new Error('top-level failure');`))).toEqual({ ok: false, message: 'Loading the function failed: Error: top-level failure' });
    expect(await sandbox.inspect(await bundleSource(`import { createSync } from 'patchbay'; export default createSync({ description: 'x', models: {}, async exec() {} } as any);`))).toEqual({
      ok: false,
      message: expect.stringMatching(/needs a frequency/),
    });
  });
});
