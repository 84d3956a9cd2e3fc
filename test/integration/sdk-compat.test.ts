import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Nango as OfficialNango } from '@nangohq/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Nango } from '../../sdk/index.js';
import { SHARED_ACTIONS, writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, startUpstream, type Step, type Upstream } from '../harness/upstream.js';

// The same calls through @nangohq/node (axios) and through ours, against one Patchbay: what a
// user's code can observe must match: status, data, the thrown error's fields.

const FUNCTIONS = {
  'github/actions/echo.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Returns its input',
      exec: async (nango, input: unknown) => ({ input, connection: nango.connectionId }),
    });`,
  'github/actions/refuse.ts': SHARED_ACTIONS.refuse,
};

// Both clients take the same calls; typed as ours so one callback drives either (their
// signatures differ only in generics).
type Client = Nango;

interface Observed {
  status?: number;
  data?: unknown;
  error?: { status: number | undefined; data: unknown; message: string; code: string | undefined; isAxiosError: boolean; hasResponse: boolean };
}

/** What user code can see of a call's outcome, reduced to comparable fields. */
async function observe(call: () => Promise<unknown>): Promise<Observed> {
  try {
    const value = (await call()) as { status?: number; data?: unknown } | undefined;
    if (value !== null && typeof value === 'object' && 'status' in value && 'data' in value && 'headers' in value) {
      return { status: value.status, data: Buffer.isBuffer(value.data) ? value.data.toString('base64') : value.data };
    }
    return { data: value };
  } catch (thrown) {
    const error = thrown as { response?: { status: number; data: unknown }; message: string; code?: string; isAxiosError?: boolean };
    return {
      error: {
        status: error.response?.status,
        data: error.response?.data,
        message: error.message,
        code: error.code,
        isAxiosError: error.isAxiosError === true,
        hasResponse: error.response !== undefined,
      },
    };
  }
}

describe('sdk compat: side by side with @nangohq/node', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  let functions: FunctionsFolder;
  let ours: Nango;
  let official: Client;
  const keys = { providerConfigKey: 'github', connectionId: 'u-1' };
  const blob = randomBytes(100 * 1024);

  // A provider whose answers depend only on the path, so both clients get the same ones.
  const provider: Step = (req, res, received) => {
    if (received.path === '/user') return reply(200, { login: 'octocat' })(req, res, received);
    if (received.path === '/missing') return reply(404, { message: 'Not Found' })(req, res, received);
    if (received.path === '/broken') return reply(502, 'bad gateway upstream')(req, res, received);
    if (received.path === '/blob') return reply(200, blob, { 'content-type': 'application/octet-stream' })(req, res, received);
    const body = JSON.stringify({
      method: received.method,
      path: received.path,
      query: [...received.query.entries()],
      contentType: received.headers['content-type'] ?? null,
      body: received.body.toString('utf8'),
      custom: received.headers['x-custom'] ?? null,
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    functions = await writeFunctions(FUNCTIONS);
    patchbay = await startPatchbay({ label: 'sdk-compat', functionsDir: functions.dir, providers: { github: { proxy: { base_url: upstream.url } } } });
    ours = new Nango({ host: patchbay.url, secretKey: patchbay.secretKey });
    official = new OfficialNango({ host: patchbay.url, secretKey: patchbay.secretKey }) as unknown as Client;
    await ours.createIntegration({ provider: 'github', unique_key: 'github' });
    const res = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'github', connection_id: 'u-1', credentials: { type: 'OAUTH2', access_token: 'token-one' }, metadata: { team: 'core' } },
    });
    expect(res.status).toBe(201);
  });
  beforeEach(() => {
    upstream.clear();
    upstream.setFallback(provider);
  });
  afterAll(async () => {
    await ours?.close();
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  const both = async (call: (client: Client) => Promise<unknown>) => {
    const official_ = await observe(() => call(official));
    const ours_ = await observe(() => call(ours));
    return { official: official_, ours: ours_ };
  };

  it.each<[string, (client: Client) => Promise<unknown>]>([
    ['a GET', (client) => client.get({ endpoint: '/user', ...keys })],
    ['a GET with an endpoint lacking its slash', (client) => client.get({ endpoint: 'echo/path', ...keys })],
    ['a POST of JSON', (client) => client.post({ endpoint: '/echo', ...keys, data: { id: 1, colorId: 'blue' } })],
    ['a POST of a string', (client) => client.post({ endpoint: '/echo', ...keys, data: 'plain text' })],
    ['a PUT of bytes', (client) => client.put({ endpoint: '/echo', ...keys, data: Buffer.from('raw bytes') })],
    ['a PATCH with a custom Content-Type', (client) => client.patch({ endpoint: '/echo', ...keys, data: '<a/>', headers: { 'Content-Type': 'application/xml' } })],
    ['a DELETE without data', (client) => client.delete({ endpoint: '/echo/1', ...keys })],
    ['a DELETE with data', (client) => client.delete({ endpoint: '/echo/1', ...keys, data: { why: 'dup' } })],
    ['custom headers', (client) => client.get({ endpoint: '/echo', ...keys, headers: { 'X-Custom': 'abc' } })],
    ['object params', (client) => client.get({ endpoint: '/echo', ...keys, params: { per_page: 5, q: 'a b:c,d', flag: 'true' } })],
    ['string params', (client) => client.get({ endpoint: '/echo', ...keys, params: 'per_page=5&sort=updated' })],
    ['a query in the endpoint', (client) => client.get({ endpoint: '/echo?x=1&y=two%20words', ...keys })],
    ['responseType text', (client) => client.get({ endpoint: '/user', ...keys, responseType: 'text' })],
    ['responseType arraybuffer (binary download)', (client) => client.get({ endpoint: '/blob', ...keys, responseType: 'arraybuffer' })],
    ['an upstream 404', (client) => client.get({ endpoint: '/missing', ...keys })],
    ['an upstream 502 with a text body', (client) => client.get({ endpoint: '/broken', ...keys })],
    ['an unknown connection', (client) => client.get({ endpoint: '/user', providerConfigKey: 'github', connectionId: 'nobody' })],
    ['an unknown integration', (client) => client.get({ endpoint: '/user', providerConfigKey: 'nope', connectionId: 'u-1' })],
    ['a missing connectionId (thrown before sending)', (client) => client.get({ endpoint: '/user', providerConfigKey: 'github' })],
    ['a string param with a query in the endpoint', (client) => client.get({ endpoint: '/echo?x=1', ...keys, params: 'y=2' })],
  ])('proxy: %s', async (_name, call) => {
    const { official: expected, ours: actual } = await both(call);
    expect(actual).toEqual(expected);
  });

  it('proxy: both see Patchbay retry a 503 twice, then succeed (retries: 2)', async () => {
    for (const client of [official, ours]) {
      upstream.clear();
      upstream.script(reply(503, {}), reply(503, {}), reply(200, { ok: true }));
      const observed = await observe(() => client.get({ endpoint: '/flaky', ...keys, retries: 2 }));
      expect(observed).toEqual({ status: 200, data: { ok: true } });
      expect(upstream.requests).toHaveLength(3);
    }
  });

  it.each<[string, (client: Client) => Promise<unknown>]>([
    ['triggerAction', (client) => client.triggerAction('github', 'u-1', 'echo', { title: 'Bug', n: 1 })],
    ['triggerAction without input', (client) => client.triggerAction('github', 'u-1', 'echo')],
    ['a failing action', (client) => client.triggerAction('github', 'u-1', 'refuse')],
    ['an action that is not deployed', (client) => client.triggerAction('github', 'u-1', 'nope')],
    ['an action for an unknown connection', (client) => client.triggerAction('github', 'nobody', 'echo')],
    // Reading a connection stamps last_fetched_at, so the second reader sees the first one's read.
    ['getConnection', (client) => client.getConnection('github', 'u-1').then(({ last_fetched_at: _read, ...connection }) => connection)],
    ['getConnection of an unknown connection', (client) => client.getConnection('github', 'nobody')],
    ['getToken', (client) => client.getToken('github', 'u-1')],
    ['getMetadata', (client) => client.getMetadata('github', 'u-1')],
    ['listConnections', (client) => client.listConnections()],
    ['listConnections by integration', (client) => client.listConnections({ integrationId: 'github', limit: 10 })],
    ['listIntegrations', (client) => client.listIntegrations()],
    ['getIntegration', (client) => client.getIntegration({ uniqueKey: 'github' })],
    ['getIntegration of an unknown key', (client) => client.getIntegration({ uniqueKey: 'nope' })],
    ['getAsyncActionResult of an unknown id', (client) => client.getAsyncActionResult({ id: '00000000-0000-4000-8000-000000000000' })],
  ])('api: %s', async (_name, call) => {
    const { official: expected, ours: actual } = await both(call);
    expect(actual).toEqual(expected);
  });

  it('api: setMetadata and updateMetadata answer the same', async () => {
    const set = await both((client) => client.setMetadata('github', 'u-1', { team: 'core', region: 'eu' }));
    expect(set.ours).toEqual(set.official);
    const update = await both((client) => client.updateMetadata('github', 'u-1', { region: 'us' }));
    expect(update.ours).toEqual(update.official);
    expect(await ours.getMetadata('github', 'u-1')).toEqual({ team: 'core', region: 'us' });
  });

  it('network: the same code and message when nothing listens', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const offlineOurs = new Nango({ host, secretKey: 'k' });
    const offlineOfficial = new OfficialNango({ host, secretKey: 'k' });
    const expected = await observe(() => offlineOfficial.get({ endpoint: '/user', ...keys }));
    const actual = await observe(() => offlineOurs.get({ endpoint: '/user', ...keys }));
    expect(expected.error?.code).toBe('ECONNREFUSED');
    expect(actual).toEqual(expected);
    await offlineOurs.close();
  });

  describe('requests for routes Patchbay does not serve yet (syncs, records), against a stand-in', () => {
    let standIn: Upstream;
    let standInOurs: Nango;
    let standInOfficial: Client;

    beforeAll(async () => {
      standIn = await startUpstream();
      standIn.setFallback(reply(200, { success: true, syncs: [], records: [], next_cursor: null }));
      standInOurs = new Nango({ host: standIn.url, secretKey: 'sk-test' });
      standInOfficial = new OfficialNango({ host: standIn.url, secretKey: 'sk-test' }) as unknown as Client;
    });
    afterAll(async () => {
      await standInOurs?.close();
      await standIn?.close();
    });

    const INTERESTING = ['authorization', 'content-type', 'connection-id', 'provider-config-key', 'nango-is-sync', 'nango-is-script', 'nango-is-dry-run', 'x-async', 'accept'];
    const sent = async (client: Client, call: (client: Client) => Promise<unknown>) => {
      standIn.requests.length = 0;
      await call(client);
      const request = standIn.requests[0];
      return {
        method: request?.method,
        url: request?.url,
        body: request?.body.length ? JSON.parse(request.body.toString()) : null,
        headers: Object.fromEntries(INTERESTING.map((name) => [name, request?.headers[name]])),
      };
    };

    it.each<[string, (client: Client) => Promise<unknown>]>([
      ['triggerSync with opts', (client) => client.triggerSync('github', ['issues', { name: 'prs', variant: 'v2' }], 'u-1', { reset: true, emptyCache: true })],
      ['triggerSync, legacy full refresh', (client) => client.triggerSync('github', ['issues'], 'u-1', true)],
      ['triggerSync of everything', (client) => client.triggerSync('github')],
      ['startSync', (client) => client.startSync('github', ['issues'], 'u-1')],
      ['pauseSync', (client) => client.pauseSync('github', ['issues'])],
      ['syncStatus', (client) => client.syncStatus('github', ['issues', { name: 'prs', variant: 'v2' }], 'u-1')],
      ['syncStatus of all', (client) => client.syncStatus('github', '*')],
      ['updateSyncConnectionFrequency', (client) => client.updateSyncConnectionFrequency('github', { name: 'issues', variant: 'v2' }, 'u-1', 'every hour')],
      ['listRecords', (client) => client.listRecords({ ...keys, model: 'Issue', variant: 'v2', modifiedAfter: '2026-01-01T00:00:00.000Z', limit: 5, filter: 'added,deleted', cursor: 'c1', ids: ['a', 'b'] })],
      ['pruneRecords', (client) => client.pruneRecords({ ...keys, model: 'Issue', untilCursor: 'c9', limit: 10 })],
      ['triggerActionAsync', (client) => client.triggerActionAsync('github', 'u-1', 'echo', { a: 1 })],
      ['setMetadata for two connections', (client) => client.setMetadata('github', ['u-1', 'u-2'], { a: 1 })],
    ])('%s sends the same request', async (_name, call) => {
      const expected = await sent(standInOfficial, call);
      const actual = await sent(standInOurs, call);
      expect(actual).toEqual(expected);
    });
  });
});
