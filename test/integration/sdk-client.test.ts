import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isNangoHttpError, Nango, type NangoHttpError } from '../../sdk/index.js';
import { SHARED_ACTIONS, writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, reset, startUpstream, type Upstream } from '../harness/upstream.js';

// The same proxy config, in an app and in a function (the issue: code moves between them).
const SHARED_CALL = `{ endpoint: '/search', params: { ids: [1, 2], q: 'a b', filter: { state: 'open' } }, paramsSerializer: { indexes: true } }`;

const FUNCTIONS = {
  'github/actions/same-call.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Makes SHARED_CALL from inside a function',
      exec: async (nango) => (await nango.get(${SHARED_CALL})).status,
    });`,
  'github/actions/create-issue.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Create an issue',
      exec: async (nango, input: { repo: string; title: string }) => {
        const res = await nango.post({ endpoint: \`/repos/\${input.repo}/issues\`, data: { title: input.title } });
        return { number: res.data.number, title: input.title };
      },
    });`,
  'github/actions/refuse.ts': SHARED_ACTIONS.refuse,
  'github/actions/slow.ts': SHARED_ACTIONS.slow,
};

/** Catches what a promise rejects with (and fails if it resolves). */
async function failure(promise: Promise<unknown>): Promise<NangoHttpError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  return outcome.error as NangoHttpError;
}

/** A free port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('sdk: the Node client against a running Patchbay', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  let functions: FunctionsFolder;
  let nango: Nango;
  const keys = { providerConfigKey: 'github', connectionId: 'u-1' };
  const lastSeen = () => upstream.requests.at(-1);

  beforeAll(async () => {
    upstream = await startUpstream();
    functions = await writeFunctions(FUNCTIONS);
    patchbay = await startPatchbay({ label: 'sdk-client', functionsDir: functions.dir, providers: { github: { proxy: { base_url: upstream.url } } } });
    nango = new Nango({ secretKey: patchbay.secretKey, host: patchbay.url });
    await nango.createIntegration({ provider: 'github', unique_key: 'github' });
    for (const [id, token] of [
      ['u-1', 'token-one'],
      ['u-2', 'token-two'],
    ] as const) {
      const res = await patchbay.request('POST', '/connections', {
        body: { provider_config_key: 'github', connection_id: id, credentials: { type: 'OAUTH2', access_token: token }, metadata: { team: 'core' } },
      });
      expect(res.status).toBe(201);
    }
  });
  beforeEach(() => upstream.clear());
  afterAll(async () => {
    await nango?.close();
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  describe('proxy', () => {
    it("runs the issue's example: get /user with the connection's token", async () => {
      upstream.script(reply(200, { login: 'octocat' }, { 'x-ratelimit-remaining': '4999' }));
      const res = await nango.get<{ login: string }>({ endpoint: '/user', ...keys });
      expect(res.status).toBe(200);
      expect(res.statusText).toBe('OK');
      expect(res.data).toEqual({ login: 'octocat' });
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.config).toMatchObject({ endpoint: '/user', method: 'GET', ...keys, url: `${patchbay.url}/proxy/user` });
      expect(lastSeen()?.headers.authorization).toBe('Bearer token-one');
    });

    it('posts JSON data, forwards custom headers without the prefix and defaults the keys from the constructor', async () => {
      const scoped = new Nango({ secretKey: patchbay.secretKey, host: patchbay.url, ...keys });
      try {
        const res = await scoped.post({ endpoint: '/calendar/v3/users/me/calendarList', data: { id: 1, colorId: 'blue' }, headers: { 'X-Trace': 't-1' }, retries: 5 });
        expect(res.status).toBe(200);
        const seen = lastSeen();
        expect(seen?.method).toBe('POST');
        expect(seen?.path).toBe('/calendar/v3/users/me/calendarList');
        expect(JSON.parse(seen?.body.toString() ?? '')).toEqual({ id: 1, colorId: 'blue' });
        expect(seen?.headers['content-type']).toBe('application/json');
        expect(seen?.headers['x-trace']).toBe('t-1');
        expect(JSON.stringify(seen?.headers)).not.toContain(patchbay.secretKey);
      } finally {
        await scoped.close();
      }
    });

    it.each([
      ['put', 'PUT'],
      ['patch', 'PATCH'],
      ['delete', 'DELETE'],
    ] as const)('%s sends %s with its body', async (method, verb) => {
      await nango[method]({ endpoint: '/things/1', ...keys, data: { done: true } });
      expect(lastSeen()?.method).toBe(verb);
      expect(lastSeen()?.body.toString()).toBe('{"done":true}');
    });

    it('proxy() defaults to GET and sends no body for it', async () => {
      await nango.proxy({ endpoint: '/things', ...keys, data: { ignored: true } });
      expect(lastSeen()?.method).toBe('GET');
      expect(lastSeen()?.body.length).toBe(0);
    });

    it.each([
      ['an object with arrays (default: brackets)', { ids: [1, 2], q: 'a b' }, undefined, { ids: undefined, 'ids[]': ['1', '2'], q: ['a b'] }],
      ['indexes: null repeats the key', { ids: [1, 2] }, { indexes: null }, { ids: ['1', '2'] }],
      ['indexes: true numbers the brackets', { ids: [1, 2] }, { indexes: true }, { 'ids[0]': ['1'], 'ids[1]': ['2'] }],
      ['nested objects in brackets', { filter: { state: 'open' } }, undefined, { 'filter[state]': ['open'] }],
      ['URLSearchParams', new URLSearchParams([['a', '1'], ['a', '2']]), undefined, { a: ['1', '2'] }],
      ['a query string', 'per_page=5&sort=updated', undefined, { per_page: ['5'], sort: ['updated'] }],
      ['a custom serialize', { a: 1 }, { serialize: () => 'custom=yes' }, { custom: ['yes'], a: undefined }],
      ['a custom encode', { a: 'x' }, { encode: (value: string) => value.toUpperCase() }, { A: ['X'] }],
    ])('params as %s', async (_name, params, paramsSerializer, expected) => {
      await nango.get({ endpoint: '/search', ...keys, params: params as never, ...(paramsSerializer ? { paramsSerializer } : {}) });
      const query = lastSeen()?.query as URLSearchParams;
      for (const [name, values] of Object.entries(expected)) {
        if (values === undefined) expect(query.has(name), name).toBe(false);
        else expect(query.getAll(name), name).toEqual(values);
      }
    });

    it('downloads binary bodies intact with responseType arraybuffer', async () => {
      const bytes = randomBytes(256 * 1024);
      upstream.script(reply(200, bytes, { 'content-type': 'application/octet-stream' }));
      const res = await nango.get<Buffer>({ endpoint: '/files/blob', ...keys, responseType: 'arraybuffer' });
      expect(Buffer.isBuffer(res.data)).toBe(true);
      expect(res.data.equals(bytes)).toBe(true);
    });

    it('gives text with responseType text and a Node Readable with stream', async () => {
      upstream.script(reply(200, { a: 1 }), reply(200, 'line 1\nline 2'));
      const text = await nango.get<string>({ endpoint: '/a', ...keys, responseType: 'text' });
      expect(text.data).toBe('{"a":1}');
      const stream = await nango.get<Readable>({ endpoint: '/b', ...keys, responseType: 'stream' });
      expect(stream.data).toBeInstanceOf(Readable);
      const chunks: Buffer[] = [];
      for await (const chunk of stream.data) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('line 1\nline 2');
    });

    it('uploads bytes and streams as they are', async () => {
      const bytes = randomBytes(64 * 1024);
      await nango.put({ endpoint: '/upload/bytes', ...keys, data: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
      expect(lastSeen()?.body.equals(bytes)).toBe(true);
      expect(lastSeen()?.headers['content-type']).toBe('application/octet-stream');
      await nango.post({ endpoint: '/upload/stream', ...keys, data: Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]) });
      expect(lastSeen()?.body.equals(bytes)).toBe(true);
    });

    it('honours retries: Patchbay retries a 503 until the third attempt succeeds', async () => {
      upstream.script(reply(503, { error: 'busy' }), reply(503, { error: 'busy' }), reply(200, { ok: true }));
      const res = await nango.get({ endpoint: '/flaky', ...keys, retries: 2 });
      expect(res.data).toEqual({ ok: true });
      expect(upstream.requests.filter((request) => request.path === '/flaky')).toHaveLength(3);
    });

    it('gives up after retries + 1 attempts and throws the last 503', async () => {
      upstream.setFallback(reply(503, { error: 'still busy' }));
      const error = await failure(nango.get({ endpoint: '/down', ...keys, retries: 1 }));
      expect(error.response?.status).toBe(503);
      expect(upstream.requests.filter((request) => request.path === '/down')).toHaveLength(2);
    });

    it('retries on the extra statuses of retryOn', async () => {
      upstream.script(reply(409, {}), reply(200, { ok: true }));
      await nango.get({ endpoint: '/conflict', ...keys, retries: 1, retryOn: [409] });
      expect(upstream.requests.filter((request) => request.path === '/conflict')).toHaveLength(2);
    });
  });

  it('sends the same URL for the same config from an app and from a function', async () => {
    const config = { endpoint: '/search', params: { ids: [1, 2], q: 'a b', filter: { state: 'open' } }, paramsSerializer: { indexes: true } };
    await nango.get({ ...config, providerConfigKey: 'github', connectionId: 'u-1' });
    const fromApp = upstream.requests.at(-1)?.url;
    expect(await nango.triggerAction('github', 'u-1', 'same-call')).toBe(200);
    const fromFunction = upstream.requests.at(-1)?.url;
    expect(fromApp).toBe('/search?ids[0]=1&ids[1]=2&q=a+b&filter[state]=open'.replace(/\[/g, '%5B').replace(/\]/g, '%5D'));
    expect(fromFunction).toBe(fromApp);
  });

  describe('errors', () => {
    it('throws an axios-shaped error for a 4xx, with the upstream status, body and headers', async () => {
      upstream.script(reply(404, { message: 'Not Found' }, { 'x-github-request-id': 'r-1' }));
      const error = await failure(nango.get({ endpoint: '/repos/acme/missing', ...keys }));
      expect(isNangoHttpError(error)).toBe(true);
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ name: 'AxiosError', isAxiosError: true, code: 'ERR_BAD_REQUEST', status: 404, message: 'Request failed with status code 404' });
      expect(error.response).toMatchObject({ status: 404, statusText: 'Not Found', data: { message: 'Not Found' } });
      expect(error.response?.headers['x-github-request-id']).toBe('r-1');
      expect(error.config).toMatchObject({ endpoint: '/repos/acme/missing', method: 'GET' });
    });

    it('throws ERR_BAD_RESPONSE for a 5xx', async () => {
      upstream.script(reply(500, { oops: true }));
      const error = await failure(nango.get({ endpoint: '/broken', ...keys }));
      expect(error.code).toBe('ERR_BAD_RESPONSE');
      expect(error.response?.data).toEqual({ oops: true });
    });

    it("throws Patchbay's own error body for an unknown connection", async () => {
      const error = await failure(nango.get({ endpoint: '/user', providerConfigKey: 'github', connectionId: 'nobody' }));
      expect(error.response?.status).toBe(404);
      expect(error.response?.data).toMatchObject({ error: { code: 'unknown_connection' } });
    });

    it('never shows the secret key in the message, the config or the JSON form', async () => {
      upstream.script(reply(401, { message: 'Bad credentials' }));
      const error = await failure(nango.get({ endpoint: '/user', ...keys }));
      expect(JSON.stringify(error)).not.toContain(patchbay.secretKey);
      expect(JSON.stringify(error.config)).not.toContain(patchbay.secretKey);
      expect(error.message).not.toContain(patchbay.secretKey);
      expect(JSON.stringify(error.toJSON())).toContain('Request failed with status code 401');
    });

    it('throws ECONNREFUSED with no response when nothing listens', async () => {
      const offline = new Nango({ secretKey: 'k', host: `http://127.0.0.1:${await closedPort()}` });
      const error = await failure(offline.get({ endpoint: '/user', ...keys }));
      expect(error).toMatchObject({ isAxiosError: true, code: 'ECONNREFUSED' });
      expect(error.message).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
      expect(error.response).toBeUndefined();
      await offline.close();
    });

    it('throws ECONNRESET ("socket hang up") when the server drops the connection', async () => {
      const standIn = await startUpstream();
      standIn.setFallback(reset());
      const client = new Nango({ secretKey: 'k', host: standIn.url });
      try {
        const error = await failure(client.triggerAction('github', 'u-1', 'anything'));
        expect(error).toMatchObject({ isAxiosError: true, code: 'ECONNRESET', message: 'socket hang up' });
        expect(error.response).toBeUndefined();
      } finally {
        await client.close();
        await standIn.close();
      }
    });
  });

  describe('actions', () => {
    it("runs the issue's triggerAction example and resolves with the output", async () => {
      upstream.script(reply(201, { number: 17 }));
      const out = await nango.triggerAction('github', 'u-1', 'create-issue', { repo: 'octo/hello', title: 'Bug' });
      expect(out).toEqual({ number: 17, title: 'Bug' });
      expect(lastSeen()?.path).toBe('/repos/octo/hello/issues');
    });

    it('throws the action error with its payload (500 action_script_runtime_error)', async () => {
      const error = await failure(nango.triggerAction('github', 'u-1', 'refuse'));
      expect(error.response?.status).toBe(500);
      expect(error.response?.data).toMatchObject({ error: { code: 'action_script_runtime_error', payload: { reason: 'not today' } } });
    });

    it('runs an action asynchronously: {id, statusUrl}, pending (404) while it runs, then the output', async () => {
      const { id, statusUrl } = await nango.triggerActionAsync('github', 'u-1', 'slow', { ms: 400 });
      expect(statusUrl).toBe(`/action/${id}`);
      const pending = await failure(nango.getAsyncActionResult({ id }));
      expect(pending.response?.status).toBe(404);
      let output: unknown;
      const deadline = Date.now() + 10_000;
      while (output === undefined && Date.now() < deadline) {
        output = await nango.getAsyncActionResult({ statusUrl }).catch(async (error: NangoHttpError) => {
          expect(error.response?.status).toBe(404);
          await new Promise((resolve) => setTimeout(resolve, 100));
          return undefined;
        });
      }
      expect(output).toEqual({ waited: 400 });
    });

    it('needs an id or a statusUrl', async () => {
      await expect(nango.getAsyncActionResult({})).rejects.toThrow('Either id or statusUrl must be provided');
    });
  });

  describe('connections, metadata and integrations', () => {
    it('lists and reads connections, with the token', async () => {
      const { connections } = await nango.listConnections({ integrationId: 'github' });
      expect(connections.map((connection) => connection.connection_id).sort()).toEqual(['u-1', 'u-2']);
      expect((await nango.listConnections('u-2')).connections.map((connection) => connection.connection_id)).toEqual(['u-2']);
      const connection = await nango.getConnection('github', 'u-1');
      expect(connection).toMatchObject({ connection_id: 'u-1', provider_config_key: 'github', credentials: { type: 'OAUTH2', access_token: 'token-one' } });
      expect(await nango.getToken('github', 'u-1')).toBe('token-one');
    });

    it('sets, updates and reads metadata', async () => {
      const set = await nango.setMetadata('github', 'u-1', { team: 'core', region: 'eu' });
      expect(set.status).toBe(200);
      await nango.updateMetadata('github', ['u-1'], { region: 'us' });
      expect(await nango.getMetadata('github', 'u-1')).toEqual({ team: 'core', region: 'us' });
      await expect(nango.setMetadata('github', '', {})).rejects.toThrow('Connection Id is required');
    });

    it('creates, reads, updates, lists and deletes integrations, then connections go with them', async () => {
      const created = await nango.createIntegration({ provider: 'github', unique_key: 'github-temp', display_name: 'Temp' });
      expect(created.data).toMatchObject({ unique_key: 'github-temp', provider: 'github', display_name: 'Temp' });
      expect((await nango.getIntegration({ uniqueKey: 'github-temp' })).data.display_name).toBe('Temp');
      expect((await nango.updateIntegration({ uniqueKey: 'github-temp' }, { display_name: 'Renamed' })).data.display_name).toBe('Renamed');
      expect((await nango.listIntegrations()).configs.map((integration) => integration.unique_key).sort()).toEqual(['github', 'github-temp']);
      expect((await nango.deleteIntegration('github-temp')).data).toEqual({ success: true });
      const missing = await failure(nango.getIntegration({ uniqueKey: 'github-temp' }));
      expect(missing.response?.status).toBe(404);
    });

    it('deletes a connection', async () => {
      await patchbay.request('POST', '/connections', { body: { provider_config_key: 'github', connection_id: 'u-temp', credentials: { type: 'OAUTH2', access_token: 't' } } });
      expect((await nango.deleteConnection('github', 'u-temp')).data).toEqual({ success: true });
      expect((await failure(nango.getConnection('github', 'u-temp'))).response?.status).toBe(404);
    });
  });
});

describe('sdk: the requests it sends, against a stand-in server', () => {
  let standIn: Upstream;
  let nango: Nango;
  const seen = () => standIn.requests.at(-1);

  beforeAll(async () => {
    standIn = await startUpstream();
    nango = new Nango({ secretKey: 'sk-test', host: `${standIn.url}/` }, { userAgent: 'my-app/1.2' });
  });
  beforeEach(() => standIn.clear());
  afterAll(async () => {
    await nango?.close();
    await standIn?.close();
  });

  it('sends the bearer key and the user agent on every request, and the Nango-Is-* flags when true', async () => {
    await nango.listConnections();
    expect(seen()?.headers).toMatchObject({ authorization: 'Bearer sk-test', accept: 'application/json, text/plain, */*' });
    expect(seen()?.headers['user-agent']).toMatch(/^patchbay-node\/\d+\.\d+\.\d+ \(.+; node\.js\/.+\); my-app\/1\.2$/);
    expect(Object.keys(seen()?.headers ?? {}).filter((name) => name.startsWith('nango-is-'))).toEqual([]);
    const flagged = new Nango({ secretKey: 'sk-test', host: standIn.url, isSync: true, isScript: true, dryRun: true });
    await flagged.listConnections();
    expect(seen()?.headers).toMatchObject({ 'nango-is-sync': 'true', 'nango-is-script': 'true', 'nango-is-dry-run': 'true' });
    await flagged.close();
  });

  // undici may open a second socket while the first finishes its response; the point is that
  // calls reuse a small pool instead of connecting each time.
  it('reuses keep-alive connections: ten consecutive calls use at most two sockets', async () => {
    const ports = new Set<number>();
    standIn.setFallback((req, res) => {
      ports.add(req.socket.remotePort ?? 0);
      reply(200, {})(req, res, undefined as never);
    });
    for (let i = 0; i < 10; i++) await nango.listConnections();
    expect(ports.size).toBeLessThanOrEqual(2);
  });

  it('decompresses a gzip response and drops its content-encoding, as axios does', async () => {
    standIn.script((_req, res) => {
      const body = gzipSync(JSON.stringify({ zipped: true }));
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
      res.end(body);
    });
    const res = await nango.get({ endpoint: '/z', providerConfigKey: 'p', connectionId: 'c' });
    expect(res.data).toEqual({ zipped: true });
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  it('triggerSync posts the syncs, keys and opts; the legacy boolean becomes sync_mode', async () => {
    await nango.triggerSync('github', ['issues', { name: 'prs', variant: 'v2' }], 'u-1', { reset: true });
    expect(seen()).toMatchObject({ method: 'POST', path: '/sync/trigger' });
    expect(JSON.parse(seen()?.body.toString() ?? '')).toEqual({ syncs: ['issues', { name: 'prs', variant: 'v2' }], provider_config_key: 'github', connection_id: 'u-1', opts: { reset: true } });
    await nango.triggerSync('github', undefined, 'u-1', true);
    expect(JSON.parse(seen()?.body.toString() ?? '')).toEqual({ syncs: [], provider_config_key: 'github', connection_id: 'u-1', sync_mode: 'full_refresh' });
  });

  it('startSync and pauseSync post to /sync/start and /sync/pause, and need an array', async () => {
    await nango.startSync('github', ['issues'], 'u-1');
    expect(seen()).toMatchObject({ method: 'POST', path: '/sync/start' });
    expect(JSON.parse(seen()?.body.toString() ?? '')).toEqual({ syncs: ['issues'], provider_config_key: 'github', connection_id: 'u-1' });
    await nango.pauseSync('github', ['issues']);
    expect(seen()).toMatchObject({ method: 'POST', path: '/sync/pause' });
    expect(JSON.parse(seen()?.body.toString() ?? '')).toEqual({ syncs: ['issues'], provider_config_key: 'github' });
    expect(() => nango.startSync('github', 'issues' as never)).toThrow('Syncs must be an array');
  });

  it('syncStatus reads /sync/status with names, variants and keys in the query', async () => {
    await nango.syncStatus('github', ['issues', { name: 'prs', variant: 'v2' }], 'u-1');
    expect(seen()?.method).toBe('GET');
    expect(seen()?.url).toBe('/sync/status?syncs=issues,prs::v2&provider_config_key=github&connection_id=u-1');
    await nango.syncStatus('github', '*');
    expect(seen()?.url).toBe('/sync/status?syncs=*&provider_config_key=github');
  });

  it('listRecords reads /records/ with the keys as headers and the filters in the query', async () => {
    await nango.listRecords({ providerConfigKey: 'github', connectionId: 'u-1', model: 'Issue', variant: 'v2', modifiedAfter: '2026-01-01T00:00:00Z', limit: 50, filter: 'added,updated', cursor: 'abc', ids: ['1', '2'] });
    expect(seen()?.path).toBe('/records/');
    expect(Object.fromEntries([...new Set(seen()?.query.keys())].map((key) => [key, seen()?.query.getAll(key)]))).toEqual({
      model: ['Issue'],
      variant: ['v2'],
      modified_after: ['2026-01-01T00:00:00Z'],
      limit: ['50'],
      filter: ['added,updated'],
      cursor: ['abc'],
      ids: ['1', '2'],
    });
    expect(seen()?.headers).toMatchObject({ 'connection-id': 'u-1', 'provider-config-key': 'github' });
  });

  it('throws the server 404 error shape for a route it does not serve', async () => {
    standIn.script(reply(404, { error: { code: 'not_found', message: 'Unknown route' } }));
    const error = await failure(nango.syncStatus('github', '*'));
    expect(error).toMatchObject({ isAxiosError: true, code: 'ERR_BAD_REQUEST', response: { status: 404, data: { error: { code: 'not_found' } } } });
  });

  it('verifyIncomingWebhookRequest checks the HMAC with the signing key, or the secret key', async () => {
    const { createHmac } = await import('node:crypto');
    const body = JSON.stringify({ type: 'sync', connectionId: 'u-1' });
    const signed = (key: string) => ({ 'X-Nango-Hmac-Sha256': createHmac('sha256', key).update(body).digest('hex') });
    expect(nango.verifyIncomingWebhookRequest(body, signed('sk-test'))).toBe(true);
    const withKey = new Nango({ apiKey: 'api', host: standIn.url, webhookSigningKey: 'whk' });
    expect(withKey.verifyIncomingWebhookRequest(body, signed('whk'))).toBe(true);
    expect(withKey.verifyIncomingWebhookRequest(body, signed('api'))).toBe(false);
    await withKey.close();
  });
});
