import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { addConnection, startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { spawnPatchbay, waitForExit, waitForOutput } from '../harness/process.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const FUNCTIONS = {
  'github/actions/count.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Tells the provider which call this is',
      exec: async (nango, input: { n: number }) => (await nango.get({ endpoint: '/count', params: { n: input.n } })).data,
    });`,
  'github/actions/stall.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Asks the provider whether to stall, then stalls or answers',
      exec: async (nango) => {
        const res = await nango.get({ endpoint: '/started' });
        if (res.data.stall) await new Promise((resolve) => setTimeout(resolve, 60_000));
        return { attempt: res.data.attempt };
      },
    });`,
};

describe('actions: several runners on one database', () => {
  let upstream: Upstream;
  let server: TestPatchbay;
  let functions: FunctionsFolder;
  const runners: TestPatchbay[] = [];
  let db: pg.Client;
  const trigger = (action: string, input: unknown, headers: Record<string, string> = {}) =>
    server.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1', ...headers },
      body: { action_name: action, input },
    });
  const waitFor = async (check: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    functions = await writeFunctions(FUNCTIONS);
    const providers = { github: { proxy: { base_url: upstream.url } } };
    server = await startPatchbay({ label: 'actions-runners', roles: ['server'], functionsDir: functions.dir, providers });
    await addConnection(server, { provider: 'github', providerConfigKey: 'github', connectionId: 'gh-1', accessToken: 'token-one' });
    db = new pg.Client({ connectionString: server.database.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    for (const runner of runners) await runner.stop();
    await server?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  const startRunner = async () => {
    const runner = await startPatchbay({
      label: 'actions-runners',
      roles: ['runner'],
      database: server.database,
      secretKey: server.secretKey,
      encryptionKey: server.encryptionKey,
      providers: { github: { proxy: { base_url: upstream.url } } },
    });
    runners.push(runner);
    return runner;
  };

  it('a synchronous action fails with runner_unavailable when no runner starts it in time', async () => {
    const quick = await startPatchbay({
      label: 'actions-runners',
      roles: ['server'],
      database: server.database,
      secretKey: server.secretKey,
      encryptionKey: server.encryptionKey,
      runnerTuning: { actionStartTimeoutMs: 500 },
    });
    try {
      // Answered after the configured 500 ms: with the default start timeout (30 s) the request
      // would outlast the test's own timeout, so no stopwatch is needed to tell them apart.
      const res = await quick.request('POST', '/action/trigger', {
        headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' },
        body: { action_name: 'count', input: { n: -1 } },
      });
      expect([res.status, res.json.error.code]).toEqual([503, 'runner_unavailable']);
      const { rows } = await db.query(`SELECT state FROM function_runs WHERE input = '{"n": -1}'::jsonb`);
      expect(rows).toEqual([{ state: 'failed' }]);
    } finally {
      await quick.stop();
    }
  });

  it('two runners share 60 concurrent actions and run each exactly once', async () => {
    await startRunner();
    await startRunner();
    upstream.setFallback((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ n: Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n')) }));
    });
    const results = await Promise.all(Array.from({ length: 60 }, (_, n) => trigger('count', { n })));
    expect(results.map((r) => r.status)).toEqual(Array(60).fill(200));
    expect(results.map((r) => r.json.n)).toEqual(Array.from({ length: 60 }, (_, n) => n));
    const seen = upstream.requests.filter((r) => r.path === '/count').map((r) => Number(r.query.get('n')));
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, n) => n));
    const { rows } = await db.query(`SELECT count(DISTINCT runner_id)::int AS runners FROM function_runs WHERE function_name = 'count' AND state = 'succeeded'`);
    expect(rows[0].runners).toBe(2);
  });

  it('a runner killed with SIGKILL mid-run: the async run is retried elsewhere, the synchronous one fails with runner_lost', async () => {
    for (const runner of runners.splice(0)) await runner.stop();
    let startedCalls = 0;
    upstream.setFallback((req, res) => {
      startedCalls++;
      res.writeHead(200, { 'content-type': 'application/json' });
      // The first two calls (one per action) stall on the runner we kill; later attempts answer.
      res.end(JSON.stringify({ stall: startedCalls <= 2, attempt: startedCalls }));
    });
    const doomed = spawnPatchbay('runner', { ...server.env, PATCHBAY_RUNNER_CONCURRENCY: '4' });
    await waitForOutput(doomed, /runner .* is running/);
    const asyncRun = await trigger('stall', null, { 'x-async': 'true', 'x-max-retries': '1' });
    expect(asyncRun.status).toBe(202);
    const syncRun = trigger('stall', null);
    await waitFor(() => startedCalls >= 2, 10_000);

    const exited = waitForExit(doomed);
    doomed.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    await startRunner();

    const sync = await syncRun;
    expect([sync.status, sync.json.error.code]).toEqual([500, 'runner_lost']);
    let done = await server.request('GET', asyncRun.json.statusUrl);
    while (done.status === 404 && Date.now() - killedAt < 15_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      done = await server.request('GET', asyncRun.json.statusUrl);
    }
    expect(done.status).toBe(200);
    expect(done.json.attempt).toBeGreaterThan(2);
    const { rows } = await db.query(`SELECT count(*)::int AS stuck FROM function_runs WHERE state IN ('running', 'queued')`);
    expect(rows[0].stuck).toBe(0);
  });

  it('the server refuses a deploy whose hash does not match its code', async () => {
    const res = await server.request('POST', '/functions/deploy', {
      body: { functions: [{ integration_key: 'github', kind: 'action', name: 'x', source_path: 'github/actions/x.ts', hash: 'a'.repeat(64), code: 'void 0', config: {} }] },
    });
    expect([res.status, res.json.error.code]).toEqual([400, 'invalid_body']);
    const list = await server.request('GET', '/functions');
    expect(list.json.functions.map((f: { name: string }) => f.name).sort()).toEqual(['count', 'stall']);
  });
});
