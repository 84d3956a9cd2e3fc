// Waited-for actions handed straight to the runner of the same process (server/queue/direct.ts):
// when every slot is busy they wait in the runner's memory — behind runs that reached the queue
// first — and fail with runner_unavailable, as queued ones do, when no slot comes in time.
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { addConnection, startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const FUNCTIONS = {
  'github/actions/step.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Calls the provider with its name; the provider answers when the test lets it',
      exec: async (nango, input: { name: string }) => (await nango.get({ endpoint: '/step', params: { name: input.name } })).data,
    });`,
};

describe('actions handed straight to the runner', () => {
  let upstream: Upstream;
  let functions: FunctionsFolder;
  let patchbay: TestPatchbay;
  // Calls to /step the test has not answered yet, by name.
  const held = new Map<string, ServerResponse>();
  const release = (name: string) => {
    const res = held.get(name);
    if (res === undefined) throw new Error(`${name} is not held`);
    held.delete(name);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name }));
  };
  const seen = () => upstream.requests.filter((request) => request.path === '/step').map((request) => request.query.get('name'));
  const trigger = (name: string, headers: Record<string, string> = {}) =>
    patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1', ...headers },
      body: { action_name: 'step', input: { name } },
    });

  beforeAll(async () => {
    upstream = await startUpstream();
    upstream.setFallback((req, res) => {
      const name = new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? '';
      held.set(name, res);
    });
    functions = await writeFunctions(FUNCTIONS);
    // 4 slots (the harness's PATCHBAY_RUNNER_CONCURRENCY), so 4 more may wait in memory.
    patchbay = await startPatchbay({
      label: 'actions-direct',
      functionsDir: functions.dir,
      providers: { github: { proxy: { base_url: upstream.url } } },
      runnerTuning: { actionStartTimeoutMs: 1500 },
    });
    await addConnection(patchbay, { provider: 'github', providerConfigKey: 'github', connectionId: 'gh-1', accessToken: 'token-one' });
  });

  afterAll(async () => {
    for (const name of [...held.keys()]) release(name);
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  it('starts a run that reached the queue before a waited-for one that came later', async () => {
    const busy = ['busy-1', 'busy-2', 'busy-3', 'busy-4'].map((name) => trigger(name));
    await expect.poll(() => held.size, { timeout: 30_000 }).toBe(4);
    // Every slot is busy: the async run queues (a ticket), then a waited-for run waits in memory.
    const queued = await trigger('queued', { 'x-async': 'true' });
    expect(queued.status).toBe(202);
    const waited = trigger('waited');
    release('busy-1');
    await expect.poll(() => held.size, { timeout: 30_000 }).toBe(4);
    release('busy-2');
    await expect.poll(() => held.size, { timeout: 30_000 }).toBe(4);
    expect(seen().slice(4)).toEqual(['queued', 'waited']);
    for (const name of ['busy-3', 'busy-4', 'queued', 'waited']) release(name);
    expect((await waited).json).toEqual({ name: 'waited' });
    expect((await Promise.all(busy)).map((res) => res.status)).toEqual([200, 200, 200, 200]);
  });

  it('fails a waited-for run with runner_unavailable when no slot frees in time, and never runs it', async () => {
    const before = upstream.requests.length;
    const busy = ['hold-1', 'hold-2', 'hold-3', 'hold-4'].map((name) => trigger(name));
    await expect.poll(() => held.size, { timeout: 30_000 }).toBe(4);
    // Four wait in the runner's memory, the rest in the queue: all past their start deadline.
    const late = await Promise.all(Array.from({ length: 6 }, (_, n) => trigger(`late-${n}`)));
    expect(late.map((res) => [res.status, res.json.error?.code])).toEqual(Array(6).fill([503, 'runner_unavailable']));
    for (const name of ['hold-1', 'hold-2', 'hold-3', 'hold-4']) release(name);
    expect((await Promise.all(busy)).map((res) => res.status)).toEqual([200, 200, 200, 200]);
    // None of the late runs ever started, here or later.
    const runs = (await patchbay.request('GET', '/runs?kind=action')).json.data as { state: string; error?: { code: string } }[];
    expect(seen().filter((name) => name?.startsWith('late-'))).toEqual([]);
    expect(upstream.requests.slice(before).map((request) => request.query.get('name')).sort()).toEqual(['hold-1', 'hold-2', 'hold-3', 'hold-4']);
    expect(runs.filter((run) => run.error?.code === 'runner_unavailable')).toHaveLength(6);
  });

  it('answers unknown_connection at once for a connection deleted since its last action', async () => {
    const created = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'github', connection_id: 'gh-2', credentials: { type: 'OAUTH2', access_token: 'token-two' } },
    });
    expect(created.status).toBe(201);
    const first = trigger('first', { 'connection-id': 'gh-2' });
    await expect.poll(() => held.has('first'), { timeout: 30_000 }).toBe(true);
    release('first');
    expect((await first).status).toBe(200);
    expect((await patchbay.request('DELETE', '/connections/gh-2?provider_config_key=github')).status).toBe(200);
    const after = await trigger('after', { 'connection-id': 'gh-2' });
    expect([after.status, after.json.error.code]).toEqual([404, 'unknown_connection']);
  });
});
