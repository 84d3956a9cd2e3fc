// Functions written for Nango (test/fixtures/nango-functions: `from 'nango'`, zod, the `nango`
// APIs and Node modules Nango's templates use) deploy unchanged and run against fake providers.
import { createHash, createHmac } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, startUpstream, type Upstream } from '../harness/upstream.js';

const FUNCTIONS_DIR = path.resolve(import.meta.dirname, '../fixtures/nango-functions');

describe('Nango-style functions deploy unchanged and run', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  let db: pg.Client;

  const trigger = (integration: string, connectionId: string, action: string, input?: unknown) =>
    patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': integration, 'connection-id': connectionId },
      body: { action_name: action, ...(input === undefined ? {} : { input }) },
    });
  const runLog = async (name: string) => {
    await patchbay.system.logs.flush();
    const runs = await patchbay.request('GET', '/logs?limit=100');
    const run = runs.json.data.find((op: { request?: { function?: string } }) => op.request?.function === name);
    return (run?.messages ?? []).map((line: { message: string }) => line.message) as string[];
  };
  const syncAndWait = async (integration: string, connectionId: string, sync: string) => {
    const before = (await db.query(`SELECT count(*)::int AS n FROM function_runs WHERE kind = 'sync' AND function_name = $1`, [sync])).rows[0].n as number;
    const res = await patchbay.request('POST', '/sync/trigger', { body: { syncs: [sync], provider_config_key: integration, connection_id: connectionId } });
    expect(res.json).toEqual({ success: true });
    for (;;) {
      const { rows } = await db.query(`SELECT state, output, error FROM function_runs WHERE kind = 'sync' AND function_name = $1 ORDER BY created_at`, [sync]);
      const last = rows.at(-1) as { state: string; output: unknown; error: unknown } | undefined;
      if (rows.length > before && last !== undefined && last.state !== 'queued' && last.state !== 'running') return last;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    patchbay = await startPatchbay({ label: 'nango-functions', functionsDir: FUNCTIONS_DIR, providers: { github: { proxy: { base_url: upstream.url } } } });
    const integrations = [
      { provider: 'github', unique_key: 'acme-signing', functions_can_read_credentials: true },
      { provider: 'github', unique_key: 'acme-crm' },
      { provider: 'github', unique_key: 'feeds' },
    ];
    for (const body of integrations) expect((await patchbay.request('POST', '/integrations', { body })).status).toBe(200);
    const connections = [
      ['acme-signing', 'sign-1', 'signing-token-123'],
      ['acme-crm', 'crm-1', 'crm-token-456'],
      ['acme-crm', 'crm-2', 'crm-token-789'],
      ['feeds', 'feed-1', 'feed-token-000'],
    ];
    for (const [key, id, token] of connections) {
      const res = await patchbay.request('POST', '/connections', {
        body: { provider_config_key: key, connection_id: id, credentials: { type: 'OAUTH2', access_token: token, refresh_token: `refresh-${token}` }, connection_config: { region: 'eu' } },
      });
      expect(res.status).toBe(201);
    }
    db = new pg.Client({ connectionString: patchbay.database.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await patchbay?.stop();
    await upstream?.close();
  });

  it('deploys every function of the folder, imported from nango', async () => {
    const res = await patchbay.request('GET', '/functions');
    expect(res.status).toBe(200);
    expect(res.json.errors ?? []).toEqual([]);
    const names = (res.json.functions ?? res.json.data).map((fn: { name: string }) => fn.name).sort();
    expect(names).toEqual(['checksums', 'connection-credentials', 'contact-scores', 'contacts', 'create-contact', 'describe-integration', 'encode-export', 'fetch-feed', 'get-token', 'sign-request', 'unsupported']);
  });

  it("signs a body with the connection's token, the same signature Node computes, and logs the read", async () => {
    upstream.script(reply(200, { accepted: true }));
    const res = await trigger('acme-signing', 'sign-1', 'sign-request', { orderId: 'o-1', amount: 42 });
    expect(res.status).toBe(200);
    const body = JSON.stringify({ order_id: 'o-1', amount: 42 });
    const expected = createHmac('sha256', 'signing-token-123').update(body).digest('hex');
    expect(res.json).toEqual({ signature: expected, accepted: true });
    const sent = upstream.requests.at(-1);
    expect(sent?.headers['x-signature']).toBe(expected);
    expect(sent?.body.toString()).toBe(body);
    const lines = await runLog('sign-request');
    expect(lines).toEqual(expect.arrayContaining([expect.stringContaining('nango.getToken(): the function read the credentials of connection sign-1')]));
    expect(JSON.stringify(lines)).not.toContain('signing-token-123');
  });

  it('hands getConnection() the credentials with the opt-in, without the refresh token', async () => {
    const res = await trigger('acme-signing', 'sign-1', 'connection-credentials');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ type: 'OAUTH2', tokenLength: 'signing-token-123'.length, hasRefreshToken: false });
  });

  it('refuses credentials to an integration that did not opt in', async () => {
    const token = await trigger('acme-crm', 'crm-1', 'get-token');
    expect(token.status).toBe(500);
    expect(JSON.stringify(token.json)).toContain('credentials_not_allowed');
    expect(JSON.stringify(token.json)).not.toContain('crm-token-456');
    const secret = await trigger('acme-crm', 'crm-1', 'describe-integration', { withSecret: true });
    expect(JSON.stringify(secret.json)).toContain('credentials_not_allowed');
    const plain = await trigger('acme-crm', 'crm-1', 'describe-integration', { withSecret: false });
    expect(plain.status).toBe(200);
    expect(plain.json).toEqual({ key: 'acme-crm', provider: 'github', hasCredentials: false });
  });

  it('validates input with zodValidateInput and reads connection_config and metadata untyped', async () => {
    expect((await patchbay.request('POST', '/connections/metadata', { body: { connection_id: 'crm-1', provider_config_key: 'acme-crm', metadata: { defaults: { owner: 'ada' } } } })).status).toBe(200);
    upstream.script(reply(201, { id: 77 }));
    const created = await trigger('acme-crm', 'crm-1', 'create-contact', { email: 'ada@example.com', firstName: 'Ada' });
    expect(created.status).toBe(200);
    expect(created.json).toEqual({ id: '77', region: 'eu', owner: 'ada' });
    expect(upstream.requests.at(-1)?.path).toBe('/eu/contacts');

    const invalid = await trigger('acme-crm', 'crm-1', 'create-contact', { email: 'not-an-email', firstName: '' });
    expect(invalid.status).toBe(500);
    expect(invalid.json.error.code).toBe('action_script_runtime_error');
    expect(invalid.json.error.payload.message).toBe('Invalid input provided');
    expect(invalid.json.error.payload.issues.map((issue: { path: string }) => issue.path).sort()).toEqual(['email', 'firstName']);
  });

  it('encodes with Buffer, url and querystring as Node does', async () => {
    const text = 'héllo wörld?';
    const link = 'https://files.example.com/exports/list?id=42&kind=csv';
    const res = await trigger('acme-crm', 'crm-1', 'encode-export', { text, link });
    expect(res.status).toBe(200);
    const bytes = Buffer.from(text);
    expect(res.json).toEqual({
      base64: bytes.toString('base64'),
      base64url: bytes.toString('base64url'),
      hex: bytes.toString('hex'),
      roundTrip: text,
      byteLength: Buffer.byteLength(text),
      concat: 'ab',
      isBuffer: true,
      host: 'files.example.com',
      pathname: '/exports/list',
      query: 'id=42&kind=csv&page=2&tags=a&tags=b%20c',
      formatted: 'https://export.example.com/files?id=7',
      resolved: 'https://export.example.com/c',
      searchParam: '42',
      parsedQuery: { x: ['1', '2'], y: ' z' },
    });
  });

  it('hashes, signs and draws random bytes with node:crypto, equal to Node', async () => {
    const payload = '{"event":"order.paid","id":12}';
    const res = await trigger('feeds', 'feed-1', 'checksums', { payload, secret: 'whsec_abc' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      md5: createHash('md5').update(payload).digest('hex'),
      sha1: createHash('sha1').update(payload).digest('base64'),
      sha256: createHash('sha256').update(payload).digest('hex'),
      sha512: createHash('sha512').update(payload).digest('base64url'),
      hmacHex: createHmac('sha256', 'whsec_abc').update(payload).digest('hex'),
      same: true,
      randomLength: 48,
    });
    expect(res.json.uuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('fetches an allowed URL with uncontrolledFetch, without the connection credentials', async () => {
    upstream.script(reply(200, { items: [1, 2, 3] }));
    const res = await trigger('feeds', 'feed-1', 'fetch-feed', { url: `${upstream.url}/public/feed.json?page=1` });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 200, ok: true, contentType: 'application/json', body: { items: [1, 2, 3] }, bytes: JSON.stringify({ items: [1, 2, 3] }).length });
    const sent = upstream.requests.at(-1);
    expect(sent?.path).toBe('/public/feed.json');
    expect(sent?.headers['x-feed-client']).toBe('patchbay-test');
    expect(sent?.headers.authorization).toBeUndefined();
  });

  it('answers not_supported for an API Patchbay does not offer', async () => {
    const res = await trigger('acme-crm', 'crm-1', 'unsupported');
    expect(res.status).toBe(200);
    expect(res.json.code).toBe('not_supported');
    expect(res.json.message).toContain('getEnvironmentVariables');
  });

  it('saves records with a generic batchSave while paginating', async () => {
    upstream.setFallback((_req, res, received) => {
      const after = received.query.get('after');
      const page = after === null ? { results: [{ id: 1, email: 'a@x.io', first_name: 'A', last_name: 'One' }, { id: 2, email: 'b@x.io', first_name: 'B', last_name: 'Two' }], next: 'p2' } : { results: [{ id: 3, email: 'c@x.io', first_name: 'C', last_name: 'Three' }], next: null };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(page));
    });
    const run = await syncAndWait('acme-crm', 'crm-1', 'contacts');
    expect(run.state).toBe('succeeded');
    expect(run.output).toEqual({ models: { Contact: { added: 3, updated: 0, deleted: 0 } } });
  });

  it('reads its own records back with listRecords, page by page, and updates them', async () => {
    const run = await syncAndWait('acme-crm', 'crm-2', 'contact-scores');
    expect(run.state).toBe('succeeded');
    expect(run.output).toEqual({ models: { Contact: { added: 3, updated: 3, deleted: 0 } } });
    const records = await patchbay.request('GET', '/records?model=Contact', { headers: { 'provider-config-key': 'acme-crm', 'connection-id': 'crm-2' } });
    expect(records.json.records.map((record: { id: string; score: number }) => [record.id, record.score])).toEqual([
      ['1', 'ada@example.com'.length],
      ['2', 'bob@example.com'.length],
      ['3', 'cy@example.com'.length],
    ]);
    expect(await runLog('contact-scores')).toContain('scored in 2 pages');
  });
});

describe('uncontrolledFetch goes through the egress guard', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;

  beforeAll(async () => {
    upstream = await startUpstream();
    // The production default: private addresses refused.
    patchbay = await startPatchbay({ label: 'nango-functions-strict', functionsDir: FUNCTIONS_DIR, env: { PATCHBAY_ALLOW_PRIVATE_EGRESS: 'false' } });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'feeds' } })).status).toBe(200);
    const res = await patchbay.request('POST', '/connections', { body: { provider_config_key: 'feeds', connection_id: 'feed-1', credentials: { type: 'OAUTH2', access_token: 'feed-token-000' } } });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
  });

  it('refuses a loopback URL and sends nothing', async () => {
    const res = await patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'feeds', 'connection-id': 'feed-1' },
      body: { action_name: 'fetch-feed', input: { url: `${upstream.url}/internal` } },
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(res.json)).toContain('egress_denied');
    expect(upstream.requests).toHaveLength(0);
  });
});
