// The API the dashboard's pages read, over plain HTTP: credential values refused or redacted for
// a dashboard session (and still answered to the secret key), GET /providers (the picker),
// GET /runs and /runs/:id (the Runs page), and GET /metrics of a `patchbay runner` process.
// A server-only Patchbay and a runner-only one share the database, as in production.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_ACTIONS, writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const ACCESS_TOKEN = 'gho_SessionMustNeverSeeThis_777';
const REFRESH_TOKEN = 'ghr_NorThisRefreshToken_888';
const CLIENT_SECRET = 'client-secret-NeverForTheBrowser-999';

const FUNCTIONS = {
  'github/actions/echo-repo.ts': SHARED_ACTIONS['echo-repo'],
};

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join('\n') : (value ?? ''));

describe('the dashboard API', () => {
  let upstream: Upstream;
  let functions: FunctionsFolder;
  let server: TestPatchbay;
  let runner: TestPatchbay;
  let session: { cookie: string; csrf: string };

  /** A request as the dashboard's page sends it: the cookie, the CSRF header, no key. */
  const asSession = (method: string, route: string, body?: unknown) =>
    server.request(method, route, { auth: false, headers: { cookie: session.cookie, 'x-patchbay-csrf': session.csrf }, ...(body === undefined ? {} : { body }) });
  const trigger = (repo: string) =>
    server.request('POST', '/action/trigger', { headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' }, body: { action_name: 'echo-repo', input: { repo } } });

  beforeAll(async () => {
    upstream = await startUpstream();
    functions = await writeFunctions(FUNCTIONS);
    const providers = { github: { proxy: { base_url: upstream.url } } };
    server = await startPatchbay({ label: 'dashboard-api', roles: ['server'], functionsDir: functions.dir, providers });
    runner = await startPatchbay({
      label: 'dashboard-api',
      roles: ['runner'],
      database: server.database,
      secretKey: server.secretKey,
      encryptionKey: server.encryptionKey,
      providers,
      env: { PATCHBAY_METRICS_PORT: '0' },
    });
    const integration = await server.request('POST', '/integrations', {
      body: { provider: 'github', unique_key: 'github', credentials: { type: 'OAUTH2', client_id: 'client-id-visible', client_secret: CLIENT_SECRET, scopes: 'repo' } },
    });
    expect(integration.status).toBe(200);
    const connection = await server.request('POST', '/connections', {
      body: {
        provider_config_key: 'github',
        connection_id: 'gh-1',
        credentials: { type: 'OAUTH2', access_token: ACCESS_TOKEN, refresh_token: REFRESH_TOKEN, expires_at: '2099-01-01T00:00:00Z' },
      },
    });
    expect(connection.status).toBe(201);
    const login = await server.request('POST', '/dashboard/login', { auth: false, body: { secret_key: server.secretKey } });
    expect(login.status).toBe(200);
    session = { cookie: header(login.headers['set-cookie']).split(';')[0] as string, csrf: login.json.csrf_token };
  });
  afterAll(async () => {
    await runner?.stop();
    await server?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  describe('credential values never reach a dashboard session', () => {
    it('refuses GET /connections/:id to a session with session_not_allowed, and still answers the secret key', async () => {
      const refused = await asSession('GET', '/connections/gh-1?provider_config_key=github');
      expect(refused.status).toBe(403);
      expect(refused.json.error.code).toBe('session_not_allowed');
      expect(refused.text).not.toContain(ACCESS_TOKEN);

      const answered = await server.request('GET', '/connections/gh-1?provider_config_key=github&refresh_token=true');
      expect(answered.status).toBe(200);
      expect(answered.json.credentials.access_token).toBe(ACCESS_TOKEN);
      expect(answered.json.credentials.refresh_token).toBe(REFRESH_TOKEN);
    });

    it('answers PATCH and POST /connections to a session with the credentials type and expiry only', async () => {
      const patched = await asSession('PATCH', '/connections/gh-1?provider_config_key=github', { metadata: { team: 'core' } });
      expect(patched.status).toBe(200);
      expect(patched.json.metadata).toEqual({ team: 'core' });
      expect(patched.json.credentials).toEqual({ type: 'OAUTH2', expires_at: '2099-01-01T00:00:00.000Z' });
      expect(patched.text).not.toContain(ACCESS_TOKEN);
      expect(patched.text).not.toContain(REFRESH_TOKEN);

      const created = await asSession('POST', '/connections', {
        provider_config_key: 'github',
        connection_id: 'gh-from-page',
        credentials: { type: 'OAUTH2', access_token: ACCESS_TOKEN, refresh_token: REFRESH_TOKEN },
      });
      expect(created.status).toBe(201);
      expect(created.json.credentials).toEqual({ type: 'OAUTH2', expires_at: null });
      expect(created.text).not.toContain(ACCESS_TOKEN);
      expect(created.text).not.toContain(REFRESH_TOKEN);

      // The secret key still gets the values back, as with Nango's API.
      const withKey = await server.request('PATCH', '/connections/gh-1?provider_config_key=github', { body: { metadata: { team: 'core' } } });
      expect(withKey.json.credentials.access_token).toBe(ACCESS_TOKEN);
    });

    it("outlines an integration's credentials to a session: client id and scopes, never the client secret", async () => {
      const outlined = await asSession('GET', '/integrations/github?include=credentials');
      expect(outlined.status).toBe(200);
      expect(outlined.json.data.credentials).toEqual({ type: 'OAUTH2', client_id: 'client-id-visible', scopes: 'repo', client_secret_set: true, webhook_secret_set: false });
      expect(outlined.text).not.toContain(CLIENT_SECRET);

      const withKey = await server.request('GET', '/integrations/github?include=credentials');
      expect(withKey.json.data.credentials.client_secret).toBe(CLIENT_SECRET);
    });

    it('a request with the key judged by the key is not treated as a session, even with the cookie', async () => {
      const both = await server.request('GET', '/connections/gh-1?provider_config_key=github', { headers: { cookie: session.cookie } });
      expect(both.status).toBe(200);
      expect(both.json.credentials.access_token).toBe(ACCESS_TOKEN);
    });
  });

  describe('GET /providers', () => {
    it('searches the catalog by name and auth mode, paged', async () => {
      const res = await server.request('GET', '/providers?search=git&auth_mode=OAUTH2&limit=5');
      expect(res.status).toBe(200);
      expect(res.json.data.length).toBeGreaterThan(0);
      expect(res.json.data.length).toBeLessThanOrEqual(5);
      expect(res.json.data[0]).toMatchObject({ name: 'github', auth_mode: 'OAUTH2' });
      for (const provider of res.json.data) {
        expect(provider.auth_mode).toBe('OAUTH2');
        expect(`${provider.name} ${provider.display_name}`.toLowerCase()).toContain('git');
      }
      const apiKeys = await server.request('GET', '/providers?auth_mode=API_KEY&limit=200');
      expect(apiKeys.json.data.every((p: { auth_mode: string }) => p.auth_mode === 'API_KEY')).toBe(true);
      expect(apiKeys.json.data.some((p: { name: string }) => p.name === 'github')).toBe(false);
    });

    it('refuses an unknown auth mode and an oversized search', async () => {
      expect((await server.request('GET', '/providers?auth_mode=MAGIC')).json.error.code).toBe('invalid_query_params');
      expect((await server.request('GET', `/providers?search=${'x'.repeat(300)}`)).json.error.code).toBe('invalid_query_params');
    });
  });

  describe('GET /runs', () => {
    let first: string;
    let second: string;

    beforeAll(async () => {
      expect((await trigger('acme/one')).status).toBe(200);
      expect((await trigger('acme/two')).status).toBe(200);
      await runner.system.logs.flush();
      const runs = await server.request('GET', '/runs?kind=action');
      [second, first] = runs.json.data.map((run: { id: string }) => run.id);
    });

    it('lists runs newest first with state and duration, paged by cursor', async () => {
      const page1 = await server.request('GET', '/runs?limit=1&provider_config_key=github&connection_id=gh-1');
      expect(page1.status).toBe(200);
      expect(page1.json.data).toHaveLength(1);
      expect(page1.json.data[0]).toMatchObject({ id: second, kind: 'action', function: 'echo-repo', state: 'succeeded', connection_id: 'gh-1' });
      expect(page1.json.data[0].duration_ms).toBeGreaterThanOrEqual(0);
      expect(page1.json.next_cursor).toEqual(expect.any(String));
      const page2 = await server.request('GET', `/runs?limit=1&provider_config_key=github&connection_id=gh-1&cursor=${page1.json.next_cursor}`);
      expect(page2.json.data.map((run: { id: string }) => run.id)).toEqual([first]);
      expect(page2.json.next_cursor).toBeNull();
    });

    it('filters by kind and state', async () => {
      expect((await server.request('GET', '/runs?kind=sync')).json.data).toEqual([]);
      expect((await server.request('GET', '/runs?state=failed')).json.data).toEqual([]);
      expect((await server.request('GET', '/runs?state=succeeded')).json.data).toHaveLength(2);
    });

    it("gives one run's input and output, and its log id leads to its log lines and nested calls", async () => {
      const run = await server.request('GET', `/runs/${first}`);
      expect(run.status).toBe(200);
      expect(run.json.data).toMatchObject({ id: first, input: { repo: 'acme/one' }, output: { repo: 'acme/one', status: 200 } });
      const operation = await server.request('GET', `/logs/${run.json.data.log_id}`);
      expect(operation.json.data.messages.map((m: { message: string }) => m.message)).toContain('reading acme/one');
      const calls = await server.request('GET', `/logs?parent_id=${run.json.data.log_id}`);
      expect(calls.json.data.map((call: { url: string }) => new URL(call.url).pathname)).toEqual(['/repos/acme/one']);
    });

    it('refuses a cursor it did not make, and answers not_found for an unknown run', async () => {
      const forged = Buffer.from('2026-01-01T00:00:00Z|00000000-0000-4000-8000-000000000000').toString('base64url');
      expect((await server.request('GET', `/runs?cursor=${forged}`)).json.error.code).toBe('invalid_query_params');
      expect((await server.request('GET', '/runs?limit=201')).json.error.code).toBe('invalid_query_params');
      const missing = await server.request('GET', '/runs/00000000-0000-4000-8000-000000000000');
      expect(missing.status).toBe(404);
      expect(missing.json.error.code).toBe('not_found');
    });
  });

  describe('GET /metrics of a runner process (PATCHBAY_METRICS_PORT)', () => {
    it("serves the runner's own run counters, with the secret key", async () => {
      const url = `${runner.system.metricsUrl}/metrics`;
      expect(runner.system.url).toBeUndefined();
      const refused = await fetch(url);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('missing_auth_header');
      expect((await fetch(url, { headers: { authorization: 'Bearer wrong-key-000000000000' } })).status).toBe(401);

      expect((await trigger('acme/metrics')).status).toBe(200);
      const scrape = () => fetch(url, { headers: { authorization: `Bearer ${server.secretKey}` } });
      const scraped = await scrape();
      expect(scraped.status).toBe(200);
      expect(scraped.headers.get('content-type')).toContain('text/plain');
      // A run is counted when its log operation is written, just after its answer went out.
      await expect.poll(async () => (await scrape()).text()).toMatch(/patchbay_runs_total\{[^}]*kind="action"[^}]*\} [1-9]/);
      // Runs happen in the runner process only: the server's /metrics has none of them.
      expect((await server.request('GET', '/metrics')).text).not.toMatch(/patchbay_runs_total\{[^}]*kind="action"[^}]*\} [1-9]/);
      expect((await fetch(`${runner.system.metricsUrl}/other`)).status).toBe(404);
    });
  });
});
