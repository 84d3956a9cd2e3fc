// Functions written for Nango (test/fixtures/nango-functions: `from 'nango'`, zod, the `nango`
// APIs and Node modules Nango's templates use) deploy unchanged and run against fake providers.
import { createDecipheriv, createHash, createHmac, createPublicKey, generateKeyPairSync, pbkdf2Sync, verify } from 'node:crypto';
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
    patchbay = await startPatchbay({
      label: 'nango-functions',
      functionsDir: FUNCTIONS_DIR,
      providers: { github: { proxy: { base_url: upstream.url } } },
      env: { PATCHBAY_FUNCTION_ENV_CRM_API_BASE: 'https://crm.example.com/v2', PATCHBAY_FUNCTION_ENV_REGION: 'eu', PATCHBAY_PUBLIC_URL: 'https://patchbay.example.com' },
    });
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
    expect(names).toEqual([
      'accounts',
      'checksums',
      'connection-credentials',
      'contact-scores',
      'contacts',
      'create-contact',
      'describe-integration',
      'describe-via-trigger',
      'encode-export',
      'exclusive-export',
      'explode',
      'fetch-feed',
      'get-token',
      'nest',
      'refresh-accounts',
      'seal',
      'service-account-token',
      'settings',
      'sign-request',
    ]);
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

  it("signs a Google-style service-account JWT (RS256) with createSign that Node's crypto verifies", async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const serviceAccount = { client_email: 'sync@acme.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, private_key_id: 'k1' };
    const res = await trigger('acme-signing', 'sign-1', 'service-account-token', { serviceAccount, scope: 'https://www.googleapis.com/auth/drive.readonly', issuedAt: 1_700_000_000 });
    expect(res.status).toBe(200);
    const [header, claims, signature] = (res.json.assertion as string).split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'k1' });
    expect(JSON.parse(Buffer.from(claims, 'base64url').toString())).toMatchObject({ iss: serviceAccount.client_email, exp: 1_700_003_600 });
    expect(verify('RSA-SHA256', Buffer.from(`${header}.${claims}`), publicKey, Buffer.from(signature, 'base64url'))).toBe(true);
  });

  it('signs ES256, derives a PBKDF2 key and encrypts with AES-GCM and CBC as Node does', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const input = {
      text: 'card ending 4242',
      ecPrivateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      ecPublicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string,
      password: 'correct horse',
      salt: 'pepper',
      iv: '000102030405060708090a0b',
      cbcIv: '000102030405060708090a0b0c0d0e0f',
    };
    const res = await trigger('feeds', 'feed-1', 'seal', input);
    expect(res.status).toBe(200);
    const key = pbkdf2Sync(input.password, input.salt, 100_000, 32, 'sha256');
    expect(res.json).toMatchObject({ verified: true, tampered: false, key: key.toString('hex'), opened: input.text, forged: 'Unsupported state or unable to authenticate data' });
    expect(verify('sha256', Buffer.from(input.text), { key: createPublicKey(input.ecPublicKey), dsaEncoding: 'ieee-p1363' }, Buffer.from(res.json.es256, 'base64'))).toBe(true);
    const gcm = createDecipheriv('aes-256-gcm', key, Buffer.from(input.iv, 'hex')).setAuthTag(Buffer.from(res.json.tag, 'base64'));
    expect(Buffer.concat([gcm.update(Buffer.from(res.json.sealed, 'base64')), gcm.final()]).toString()).toBe(input.text);
    const cbc = createDecipheriv('aes-256-cbc', key, Buffer.from(input.cbcIv, 'hex'));
    expect(Buffer.concat([cbc.update(Buffer.from(res.json.cbcSealed, 'hex')), cbc.final()]).toString()).toBe(input.text);
  });

  it("reports a deployed action's runtime error at the author's file:line, in the answer, GET /action/:id and the run log", async () => {
    const res = await trigger('acme-crm', 'crm-1', 'explode', { rows: [] });
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe('script_internal_error');
    expect(res.json.error.payload.location).toMatch(/^acme-crm\/actions\/explode\.ts:10:\d+$/);
    expect(res.json.error.payload.stacktrace).toMatch(/acme-crm\/actions\/explode\.ts:10:\d+/);
    expect(res.json.error.payload.stacktrace).not.toContain('function.js');

    const queued = await patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'acme-crm', 'connection-id': 'crm-1', 'x-async': 'true' },
      body: { action_name: 'explode', input: { rows: [] } },
    });
    expect(queued.status).toBe(202);
    let status = await patchbay.request('GET', `/action/${queued.json.id}`);
    while (status.status === 404 && status.json.error.code === 'action_pending') status = await patchbay.request('GET', `/action/${queued.json.id}`);
    expect(status.json.error.payload.location).toMatch(/^acme-crm\/actions\/explode\.ts:10:\d+$/);
    expect((await runLog('explode')).join('\n')).toMatch(/the export has no rows[\s\S]*acme-crm\/actions\/explode\.ts:10:\d+/);
  });

  it('answers the PATCHBAY_FUNCTION_ENV_* settings and the webhook URL, and nothing else of the environment', async () => {
    const res = await trigger('acme-crm', 'crm-1', 'settings');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ names: ['CRM_API_BASE', 'REGION'], apiBase: 'https://crm.example.com/v2', webhookUrl: 'https://patchbay.example.com/webhook/acme-crm' });
  });

  it("runs another action with triggerAction and answers its output", async () => {
    const res = await trigger('acme-crm', 'crm-1', 'describe-via-trigger');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ via: 'triggerAction', key: 'acme-crm', provider: 'github', hasCredentials: false });
  });

  it('stops a chain of triggerAction two levels down (trigger_depth_exceeded)', async () => {
    const res = await trigger('acme-crm', 'crm-1', 'nest', { depth: 0 });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ depth: 2, stoppedBy: 'trigger_depth_exceeded' });
  });

  it("holds a lock against another run of the connection until its own run ends", async () => {
    const res = await trigger('acme-crm', 'crm-1', 'exclusive-export', { probe: false });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ acquired: true, again: true, otherRun: false, scratch: true, released: true, releasedTwice: false });
    // The first run ended without releasing `export`: its end did.
    const after = await trigger('acme-crm', 'crm-1', 'exclusive-export', { probe: true });
    expect(after.json).toEqual({ acquired: true });
    // Locks are per connection: another connection's run takes the same key at once.
    const other = await trigger('acme-crm', 'crm-2', 'exclusive-export', { probe: true });
    expect(other.json).toEqual({ acquired: true });
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

  it('deletes the records a run did not save with deleteRecordsFromPreviousExecutions', async () => {
    const setAccounts = (accounts: { id: string; name: string }[]) =>
      patchbay.request('PATCH', '/connections/metadata', { body: { connection_id: 'crm-1', provider_config_key: 'acme-crm', metadata: { accounts } } });
    expect((await setAccounts([{ id: 'a', name: 'Acme' }, { id: 'b', name: 'Bolt' }, { id: 'c', name: 'Cog' }])).status).toBe(200);
    const first = await syncAndWait('acme-crm', 'crm-1', 'accounts');
    expect(first.output).toEqual({ models: { Account: { added: 3, updated: 0, deleted: 0 } } });
    expect((await setAccounts([{ id: 'a', name: 'Acme' }, { id: 'c', name: 'Cog' }])).status).toBe(200);
    const second = await syncAndWait('acme-crm', 'crm-1', 'accounts');
    expect(second.output).toEqual({ models: { Account: { added: 0, updated: 0, deleted: 1 } } });
    const deleted = await patchbay.request('GET', '/records?model=Account&filter=deleted', { headers: { 'provider-config-key': 'acme-crm', 'connection-id': 'crm-1' } });
    expect(deleted.json.records.map((record: { id: string }) => record.id)).toEqual(['b']);
  });

  it('queues a sync run with triggerSync and starts its schedule with startSync', async () => {
    const before = (await db.query(`SELECT count(*)::int AS n FROM function_runs WHERE function_name = 'accounts' AND connection_id = 'crm-2'`)).rows[0].n as number;
    const triggered = await trigger('acme-crm', 'crm-2', 'refresh-accounts', { mode: 'trigger' });
    expect(triggered.json).toEqual({ done: 'trigger' });
    const after = (await db.query(`SELECT count(*)::int AS n FROM function_runs WHERE function_name = 'accounts' AND connection_id = 'crm-2'`)).rows[0].n as number;
    expect(after).toBe(before + 1);

    const started = await trigger('acme-crm', 'crm-2', 'refresh-accounts', { mode: 'start' });
    expect(started.json).toEqual({ done: 'start' });
    const status = await patchbay.request('GET', '/sync/status?syncs=accounts&provider_config_key=acme-crm&connection_id=crm-2');
    expect(status.json.syncs).toHaveLength(1);
    expect(status.json.syncs[0].status).not.toBe('PAUSED');
    expect(status.json.syncs[0].nextScheduledSyncAt).not.toBeNull();
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
