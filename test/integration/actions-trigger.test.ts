import { Nango } from '@nangohq/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIssueAction, SHARED_ACTIONS, writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, startUpstream, type Upstream } from '../harness/upstream.js';

const FUNCTIONS = {
  'github/actions/create-issue.ts': createIssueAction('patchbay'),
  'github/actions/whoami.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Calls the API as the run connection, or as another one when asked',
      exec: async (nango, input: { as?: string } | null) => {
        const res = await nango.get({ endpoint: '/user', ...(input?.as ? { connectionId: input.as } : {}) });
        return { connectionId: nango.connectionId, providerConfigKey: nango.providerConfigKey, auth: res.data.auth };
      },
    });`,
  'github/actions/refuse.ts': `
    import { createAction, ActionError } from 'patchbay';
    export default createAction({
      description: 'Always refuses',
      exec: async (nango) => { throw new nango.ActionError({ reason: 'not today', code: 42 }); },
    });`,
  'github/actions/missing-repo.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Reads a repository that does not exist',
      exec: async (nango) => (await nango.get({ endpoint: '/repos/acme/missing' })).data,
    });`,
  'github/actions/crash.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Throws a plain error',
      exec: async () => { const thing: any = undefined; return thing.field; },
    });`,
  'github/actions/slow.ts': SHARED_ACTIONS.slow,
  'github/actions/flaky.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Succeeds once the provider does',
      exec: async (nango) => (await nango.get({ endpoint: '/flaky' })).data,
    });`,
  'github/actions/notes.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Logs, reads and writes metadata, looks at its connection',
      exec: async (nango) => {
        console.log('starting', { step: 1 });
        await nango.log('about to write metadata', { level: 'warn' });
        await nango.updateMetadata({ touched: true });
        const metadata = await nango.getMetadata();
        const connection = await nango.getConnection();
        await nango.get({ endpoint: '/ping' });
        return { metadata, connection };
      },
    });`,
  'github/actions/spin.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Never stops computing',
      limits: { cpuMs: 300 },
      exec: async () => { let n = 0; while (true) n++; },
    });`,
  'github/actions/hog.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Allocates until something gives',
      limits: { memoryMb: 32 },
      exec: async () => { const keep: number[][] = []; while (true) keep.push(new Array(100_000).fill(7)); },
    });`,
  'github/actions/stuck.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Waits for a promise that never settles',
      limits: { timeoutMs: 400 },
      exec: () => new Promise(() => undefined),
    });`,
  'github/actions/huge.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Returns more than the output limit',
      exec: async () => ({ blob: 'x'.repeat(3 * 1024 * 1024) }),
    });`,
};

describe('actions: POST /action/trigger and GET /action/:id', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  let functions: FunctionsFolder;
  let nango: Nango;
  const trigger = (action: string, input?: unknown, headers: Record<string, string> = {}, connection = 'gh-1') =>
    patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'github', 'connection-id': connection, ...headers },
      body: { action_name: action, ...(input === undefined ? {} : { input }) },
    });

  beforeAll(async () => {
    upstream = await startUpstream();
    functions = await writeFunctions(FUNCTIONS);
    // The runner looks at the queue once an hour: notifications alone wake it, for a retry's
    // delayed ticket too.
    patchbay = await startPatchbay({ label: 'actions-trigger', functionsDir: functions.dir, providers: { github: { proxy: { base_url: upstream.url } } }, runnerTuning: { pollMs: 3_600_000 } });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
    for (const [id, token] of [
      ['gh-1', 'token-one'],
      ['gh-2', 'token-two'],
    ]) {
      const res = await patchbay.request('POST', '/connections', {
        body: { provider_config_key: 'github', connection_id: id, credentials: { type: 'OAUTH2', access_token: token }, metadata: { team: 'core' } },
      });
      expect(res.status).toBe(201);
    }
    nango = new Nango({ host: patchbay.url, secretKey: patchbay.secretKey });
  });
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  it("runs the issue's create-issue example through @nangohq/node and returns its output", async () => {
    upstream.script((_req, res, received) => {
      const body = JSON.stringify({ number: 17, html_url: `https://github.com${received.path}/17`, title: JSON.parse(received.body.toString()).title });
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(body);
    });
    const output = await nango.triggerAction('github', 'gh-1', 'create-issue', { repo: 'acme/app', title: 'Broken build' });
    expect(output).toEqual({ number: 17, url: 'https://github.com/repos/acme/app/issues/17' });
    const seen = upstream.requests.at(-1);
    expect(seen?.method).toBe('POST');
    expect(seen?.headers.authorization).toBe('Bearer token-one');
    expect(JSON.parse(seen?.body.toString() ?? '')).toEqual({ title: 'Broken build' });
  });

  it('fills providerConfigKey and connectionId from the run, and honours an explicit connectionId', async () => {
    upstream.setFallback((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ auth: req.headers.authorization }));
    });
    const own = await trigger('whoami', null);
    expect(own.status).toBe(200);
    expect(own.json).toEqual({ connectionId: 'gh-1', providerConfigKey: 'github', auth: 'Bearer token-one' });
    const other = await trigger('whoami', { as: 'gh-2' });
    expect(other.json).toEqual({ connectionId: 'gh-1', providerConfigKey: 'github', auth: 'Bearer token-two' });
  });

  it('validates the input against the schema: 400 invalid_action_input naming the field', async () => {
    const res = await trigger('create-issue', { repo: 'acme/app' });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_action_input');
    expect(JSON.stringify(res.json.error.payload)).toContain('title');
  });

  it('maps nango.ActionError to 500 action_script_runtime_error with its payload', async () => {
    const res = await trigger('refuse');
    expect(res.status).toBe(500);
    expect(res.json.error).toMatchObject({ code: 'action_script_runtime_error', payload: { reason: 'not today', code: 42 } });
  });

  it('maps an upstream HTTP error to 424 script_http_error with the upstream status and body', async () => {
    upstream.script(reply(404, { message: 'Not Found' }, { 'x-ratelimit-remaining': '4999', 'x-secret-header': 'no' }));
    const res = await trigger('missing-repo');
    expect(res.status).toBe(424);
    expect(res.json.error.code).toBe('script_http_error');
    expect(res.json.error.payload).toEqual({ message: 'Not Found' });
    expect(res.json.error.upstream.status).toBe(404);
    expect(res.json.error.upstream.headers['x-ratelimit-remaining']).toBe('4999');
    expect(res.json.error.upstream.headers['x-secret-header']).toBeUndefined();
  });

  it('maps a plain throw to 500 script_internal_error without host paths', async () => {
    const res = await trigger('crash');
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe('script_internal_error');
    expect(res.json.error.payload.name).toBe('TypeError');
    expect(res.text).not.toContain(process.cwd());
    expect(res.text).not.toContain('node_modules');
  });

  it('kills runaway functions with their own codes while the runner keeps serving', async () => {
    upstream.setFallback((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ auth: req.headers.authorization }));
    });
    const [spin, hog, stuck, huge, fine] = await Promise.all([trigger('spin'), trigger('hog'), trigger('stuck'), trigger('huge'), trigger('whoami', null)]);
    expect([spin.status, spin.json.error.code]).toEqual([500, 'execution_cpu_limit']);
    expect([hog.status, hog.json.error.code]).toEqual([500, 'execution_out_of_memory']);
    expect([stuck.status, stuck.json.error.code]).toEqual([500, 'execution_timeout']);
    expect([huge.status, huge.json.error.code]).toEqual([500, 'action_output_too_large']);
    expect(fine.status).toBe(200);
    const after = await trigger('whoami', null);
    expect(after.json.auth).toBe('Bearer token-one');
  });

  it('answers lookup failures with clear codes before queuing anything', async () => {
    expect((await trigger('nope')).json.error.code).toBe('not_found');
    expect((await trigger('nope')).status).toBe(404);
    const unknownConnection = await trigger('whoami', null, {}, 'gh-404');
    expect([unknownConnection.status, unknownConnection.json.error.code]).toEqual([404, 'unknown_connection']);
    const unknownKey = await trigger('whoami', null, { 'provider-config-key': 'gitlab' });
    expect([unknownKey.status, unknownKey.json.error.code]).toEqual([404, 'unknown_provider_config']);
    const badRetries = await trigger('whoami', null, { 'x-max-retries': '9' });
    expect([badRetries.status, badRetries.json.error.code]).toEqual([400, 'invalid_headers']);
    const missingName = await patchbay.request('POST', '/action/trigger', { headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' }, body: { input: {} } });
    expect([missingName.status, missingName.json.error.code]).toEqual([400, 'invalid_body']);
    const query = await patchbay.request('POST', '/action/trigger?x=1', { headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' }, body: { action_name: 'whoami' } });
    expect([query.status, query.json.error.code]).toEqual([400, 'invalid_query_params']);
    const nul = await patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' },
      body: '{"action_name":"whoami","input":{"text":"a\\u0000b"}}',
    });
    expect([nul.status, nul.json.error.code, nul.json.error.errors[0].path]).toEqual([400, 'invalid_body', ['input', 'text']]);
  });

  it('runs asynchronously with X-Async: 202 and Location, action_pending while it runs, then the output', async () => {
    const res = await trigger('slow', { ms: 800 }, { 'x-async': 'true' });
    expect(res.status).toBe(202);
    expect(res.json.statusUrl).toBe(`/action/${res.json.id}`);
    expect(res.headers.location).toBe(res.json.statusUrl);
    const pending = await patchbay.request('GET', res.json.statusUrl);
    expect(pending.status).toBe(404);
    expect(pending.json.error.code).toBe('action_pending');
    expect(['queued', 'running']).toContain(pending.json.error.state);
    let done = pending;
    const deadline = Date.now() + 10_000;
    while (done.status === 404 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      done = await patchbay.request('GET', res.json.statusUrl);
    }
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ waited: 800 });
    expect(await nango.getAsyncActionResult({ id: res.json.id })).toEqual({ waited: 800 });
  });

  it('works with triggerActionAsync of @nangohq/node and tells unknown from malformed ids', async () => {
    const { id, statusUrl } = await nango.triggerActionAsync('github', 'gh-1', 'slow', { ms: 10 });
    expect(statusUrl).toBe(`/action/${id}`);
    const unknown = await patchbay.request('GET', '/action/00000000-0000-4000-8000-000000000000');
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'not_found']);
    const malformed = await patchbay.request('GET', '/action/not-a-uuid');
    expect([malformed.status, malformed.json.error.code]).toEqual([400, 'invalid_uri_params']);
  });

  it('retries an async action after an upstream 503 when X-Max-Retries allows, and not otherwise', async () => {
    upstream.script(reply(503, { error: 'down' }), reply(200, { fine: true }));
    const res = await trigger('flaky', null, { 'x-async': 'true', 'x-max-retries': '1' });
    let done = await patchbay.request('GET', res.json.statusUrl);
    const deadline = Date.now() + 15_000;
    while (done.status === 404 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      done = await patchbay.request('GET', res.json.statusUrl);
    }
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ fine: true });
    expect(upstream.requests.filter((r) => r.path === '/flaky')).toHaveLength(2);

    upstream.script(reply(503, { error: 'down' }));
    const once = await trigger('flaky');
    expect(once.status).toBe(424);
    expect(upstream.requests.filter((r) => r.path === '/flaky')).toHaveLength(3);
  });

  it('logs the run with its lines, and its proxy calls as children; the function never sees credentials', async () => {
    const res = await trigger('notes');
    expect(res.status).toBe(200);
    expect(res.json.metadata).toEqual({ team: 'core', touched: true });
    expect(res.json.connection.connection_id).toBe('gh-1');
    expect(JSON.stringify(res.json)).not.toContain('token-one');
    await patchbay.system.logs.flush();
    const runs = await patchbay.request('GET', '/logs?type=action&connection_id=gh-1&limit=50');
    const run = runs.json.data.find((op: { request?: { function?: string } }) => op.request?.function === 'notes');
    expect(run).toBeDefined();
    expect(run.state).toBe('success');
    expect(run.messages.map((m: { message: string }) => m.message)).toEqual(expect.arrayContaining([expect.stringContaining('starting'), 'about to write metadata']));
    const children = await patchbay.request('GET', `/logs?parent_id=${run.id}`);
    expect(children.json.data).toHaveLength(1);
    expect(children.json.data[0]).toMatchObject({ type: 'proxy', parent_id: run.id });
  });
});
