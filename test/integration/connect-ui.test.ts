// The hosted Connect UI at /connect/: its headers over HTTP, then the page in Chromium, framed
// by a customer's app through @nangohq/frontend's openConnectUI. The browser tests answer the
// Connect API from Playwright's router (a fake session), so they pin the page's side of the
// exchange; the last block runs the same flows against Patchbay's own Connect routes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page, Request, Route, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEvents, gotoAppPage, openConnectUI, startAppPage, waitForConnectEvent, type AppPage } from '../harness/app-page.js';
import { launchBrowser, type TestBrowser } from '../harness/browser.js';
import { startTokenServer, type TokenServer } from '../harness/oauth.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, startUpstream, type Upstream } from '../harness/upstream.js';

const TOKEN = 'nango_connect_session_fake0123456789';

const INTEGRATIONS = [
  {
    unique_key: 'acme',
    provider: 'acme',
    display_name: 'Acme CRM',
    auth_mode: 'API_KEY',
    connection_config: { subdomain: { title: 'Subdomain', description: 'The part before .acme.com', pattern: '^[a-z0-9-]+$', example: 'my-team' } },
    credentials: { apiKey: { title: 'API key', secret: true } },
  },
  { unique_key: 'github', provider: 'github', display_name: 'GitHub', auth_mode: 'OAUTH2', connection_config: {}, credentials: {} },
  { unique_key: 'jira', provider: 'jira', display_name: 'Jira', auth_mode: 'BASIC', connection_config: {}, credentials: {} },
];

const SESSION = {
  allowed_integrations: ['acme', 'github'],
  integrations_config_defaults: {},
  endUser: { id: 'u-1', email: 'ada@example.com', display_name: 'Ada', tags: null },
  organization: null,
  tags: {},
  isReconnecting: false,
};

interface FakeApi {
  /** Requests the page made to the Connect API, in order. */
  requests: { method: string; url: URL; authorization: string | undefined; body: string | null }[];
}

/**
 * Answers the Connect API for the page from Playwright's router, as Patchbay's routes do: bearer
 * token checked, 401 in Patchbay's error shape otherwise; POST /api-auth answered by `apiAuth`.
 */
async function fakeConnectApi(
  context: BrowserContext,
  patchbayUrl: string,
  options: { session?: object | ((route: Route) => Promise<void>); apiAuth?: (request: Request, url: URL) => { status: number; body: unknown } } = {},
): Promise<FakeApi> {
  const requests: FakeApi['requests'] = [];
  const json = (route: Route, status: number, body: unknown) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
  await context.route(
    (url) => url.origin === patchbayUrl && (url.pathname.startsWith('/connect/session') || url.pathname === '/connect/integrations' || url.pathname.startsWith('/api-auth/')),
    async (route) => {
      const request = route.request();
      const url = new URL(request.url());
      const authorization = (await request.allHeaders()).authorization;
      requests.push({ method: request.method(), url, authorization, body: request.postData() });
      if (url.pathname.startsWith('/api-auth/')) {
        const answer = options.apiAuth?.(request, url) ?? { status: 500, body: { error: { code: 'generic_error_support', message: 'unexpected' } } };
        return json(route, answer.status, answer.body);
      }
      if (authorization !== `Bearer ${TOKEN}`) return json(route, 401, { error: { code: 'invalid_connect_session_token', message: 'The connect session token is missing, malformed or unknown.' } });
      if (url.pathname === '/connect/integrations') return json(route, 200, { data: INTEGRATIONS });
      if (typeof options.session === 'function') return options.session(route);
      return json(route, 200, { data: options.session ?? SESSION });
    },
  );
  return { requests };
}

describe('connect UI page', () => {
  let patchbay: TestPatchbay;

  beforeAll(async () => {
    patchbay = await startPatchbay({ label: 'connect-ui' });
  });

  afterAll(async () => {
    await patchbay?.stop();
  });

  it('serves /connect/ without a key, framable by any app, with no inline script allowed', async () => {
    const res = await patchbay.request('GET', '/connect/', { auth: false });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    const host = new URL(patchbay.url).host;
    expect(csp.split('; ')).toEqual(
      expect.arrayContaining(["default-src 'none'", "script-src 'self'", "style-src 'self'", `connect-src 'self' ws://${host} wss://${host}`, 'frame-ancestors *', "form-action 'none'", "base-uri 'none'"]),
    );
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-frame-options']).toBeUndefined();
  });

  it('has no inline script or style in its HTML, only files of its own', async () => {
    const html = (await patchbay.request('GET', '/connect/', { auth: false })).text;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="[a-z-]+\.js"/);
      expect(body).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|https?:\/\//i);
  });

  it('redirects /connect to /connect/ and keeps the query string', async () => {
    const res = await patchbay.request('GET', '/connect?session_token=abc&apiURL=http%3A%2F%2Fx', { auth: false });
    expect(res.status).toBe(302);
    expect(new URL(String(res.headers.location), `${patchbay.url}/connect`).href).toBe(`${patchbay.url}/connect/?session_token=abc&apiURL=http%3A%2F%2Fx`);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    const bare = await patchbay.request('GET', '/connect', { auth: false });
    expect(new URL(String(bare.headers.location), `${patchbay.url}/connect`).href).toBe(`${patchbay.url}/connect/`);
  });

  it('serves its script and stylesheet with nosniff, and revalidates them by ETag', async () => {
    for (const [file, type] of [
      ['connect.js', 'text/javascript; charset=utf-8'],
      ['connect.css', 'text/css; charset=utf-8'],
    ] as const) {
      const res = await patchbay.request('GET', `/connect/${file}`, { auth: false });
      expect(res.status, file).toBe(200);
      expect(res.headers['content-type'], file).toBe(type);
      expect(res.headers['x-content-type-options'], file).toBe('nosniff');
      expect(res.headers['cache-control'], file).toBe('no-cache');
      const again = await patchbay.request('GET', `/connect/${file}`, { auth: false, headers: { 'if-none-match': String(res.headers.etag) } });
      expect(again.status, file).toBe(304);
      expect(again.bytes.length, file).toBe(0);
    }
  });

  it('keeps a hostile Host header out of its Content-Security-Policy', async () => {
    const res = await patchbay.request('GET', '/connect/', { auth: false, headers: { host: "evil.example; script-src 'unsafe-inline' *" } });
    expect(res.status).toBe(200);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toContain('evil');
    expect(csp).not.toContain('unsafe-inline');
  });

  it('serves nothing else under /connect/ by file name', async () => {
    for (const path of ['/connect/index.html', '/connect/../package.json', '/connect/connect.js.map', '/connect/%2e%2e/app.ts']) {
      expect((await patchbay.request('GET', path, { auth: false })).status, path).toBe(404);
    }
  });
});

describe('connect UI in a customer app (Connect API answered by a fake)', () => {
  let patchbay: TestPatchbay;
  let browser: TestBrowser;
  let app: AppPage;

  beforeAll(async () => {
    [patchbay, browser, app] = await Promise.all([startPatchbay({ label: 'connect-ui-browser' }), launchBrowser(), startAppPage()]);
  });

  afterAll(async () => {
    await browser?.stop();
    await app?.close();
    await patchbay?.stop();
  });

  /** The app page in a fresh context, recording CSP violations reported on its console. */
  const newAppPage = async () => {
    const { context, page } = await browser.newPage();
    const cspViolations: string[] = [];
    context.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    await gotoAppPage(page, app);
    return { context, page, cspViolations, frame: page.frameLocator('#connect-ui') };
  };

  const frameOf = (page: Page) => page.frames().find((frame) => frame.url().startsWith(`${patchbay.url}/connect/`));

  it("answers ConnectUI's ready, then asks for the session with the token the app passed", async () => {
    const { context, page, frame } = await newAppPage();
    const seen: { authorization: string | undefined }[] = [];
    context.on('request', (request) => {
      if (new URL(request.url()).pathname === '/connect/session') void request.allHeaders().then((headers) => seen.push({ authorization: headers.authorization }));
    });
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: TOKEN });
    await waitForConnectEvent(page, 'ready');
    // No Connect API answers this token here: the page must say so, to the user and to the app.
    const error = await waitForConnectEvent(page, 'error');
    expect(typeof error.payload.errorType).toBe('string');
    await expect.poll(() => seen).toEqual([{ authorization: `Bearer ${TOKEN}` }]);
    await frame.getByRole('alert').waitFor();
    expect(new URL(frameOf(page)?.url() ?? '').searchParams.get('apiURL')).toBe(patchbay.url);
  });

  it('lists the allowed integrations as buttons named after them', async () => {
    const { context, page, frame, cspViolations } = await newAppPage();
    const api = await fakeConnectApi(context, patchbay.url);
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: TOKEN });
    await frame.getByRole('heading', { name: 'Connect an account' }).waitFor();
    // The heading comes first; the list follows once the session's integrations have arrived.
    const list = frame.getByRole('list');
    await expect.poll(() => list.getByRole('button').count()).toBe(2);
    expect(await list.getByRole('button', { name: 'Acme CRM', exact: true }).count()).toBe(1);
    expect(await list.getByRole('button', { name: 'GitHub', exact: true }).count()).toBe(1);
    expect(await frame.getByRole('button', { name: 'Jira' }).count()).toBe(0);
    expect(await frame.getByRole('button', { name: 'Back to the list' }).isVisible()).toBe(false);
    expect(api.requests.map((r) => `${r.method} ${r.url.pathname} ${r.authorization}`).sort()).toEqual([
      `GET /connect/integrations Bearer ${TOKEN}`,
      `GET /connect/session Bearer ${TOKEN}`,
    ]);
    expect(cspViolations).toEqual([]);
  });

  it('connects an API key integration, tells the app, and closes on Finish', async () => {
    const { context, page, frame, cspViolations } = await newAppPage();
    const api = await fakeConnectApi(context, patchbay.url, { apiAuth: () => ({ status: 200, body: { providerConfigKey: 'acme', connectionId: 'conn-42' } }) });
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: TOKEN });
    await frame.getByRole('button', { name: 'Acme CRM' }).click();
    await frame.getByRole('heading', { name: 'Connect Acme CRM' }).waitFor();
    await frame.getByRole('button', { name: 'Back to the list' }).click();
    await frame.getByRole('button', { name: 'Acme CRM' }).click();
    expect(await frame.getByLabel('API key').getAttribute('type')).toBe('password');
    expect(await frame.getByLabel('Subdomain').getAttribute('type')).toBe('text');

    await frame.getByLabel('Subdomain').fill('my-team');
    await frame.getByLabel('API key').fill('sk-live-secret');
    await frame.getByRole('button', { name: 'Connect', exact: true }).click();

    const connected = await waitForConnectEvent(page, 'connect');
    expect(connected.payload).toEqual({ providerConfigKey: 'acme', connectionId: 'conn-42' });
    const post = api.requests.find((r) => r.method === 'POST');
    expect(post?.url.pathname).toBe('/api-auth/api-key/acme');
    expect(post?.url.search).toBe(`?connect_session_token=${TOKEN}&params[subdomain]=my-team`);
    expect(JSON.parse(post?.body ?? '')).toEqual({ apiKey: 'sk-live-secret' });

    await frame.getByRole('heading', { name: 'Connected' }).waitFor();
    await frame.getByRole('button', { name: 'Finish' }).click();
    await waitForConnectEvent(page, 'close');
    await expect.poll(() => page.locator('#connect-ui').count()).toBe(0);
    // What reached the app: no secret, in any event.
    expect(JSON.stringify(await connectEvents(page))).not.toContain('sk-live-secret');
    expect(cspViolations).toEqual([]);
  });

  it('shows missing fields and a refused key inline, and tells the app nothing', async () => {
    const { context, page, frame } = await newAppPage();
    await fakeConnectApi(context, patchbay.url, {
      apiAuth: () => ({ status: 400, body: { error: { code: 'connection_test_failed', message: 'The credentials could not be verified with the provider.' } } }),
    });
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: TOKEN });
    await frame.getByRole('button', { name: 'Acme CRM' }).click();
    await frame.getByRole('button', { name: 'Connect', exact: true }).click();
    expect(await frame.getByText('Subdomain is required.').isVisible()).toBe(true);
    expect(await frame.getByLabel('Subdomain').getAttribute('aria-invalid')).toBe('true');

    await frame.getByLabel('Subdomain').fill('Not a subdomain!');
    await frame.getByLabel('API key').fill('sk-wrong');
    await frame.getByRole('button', { name: 'Connect', exact: true }).click();
    expect(await frame.getByText('Subdomain is not in the expected format.').isVisible()).toBe(true);

    await frame.getByLabel('Subdomain').fill('my-team');
    await frame.getByRole('button', { name: 'Connect', exact: true }).click();
    const alert = frame.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe('Acme CRM did not accept these credentials. Check them and try again.');
    // The typed subdomain stays; the refused key does not.
    expect(await frame.getByLabel('Subdomain').inputValue()).toBe('my-team');
    expect(await frame.getByLabel('API key').inputValue()).toBe('');
    expect((await connectEvents(page)).map((event) => event.type)).toEqual(['ready']);
  });

  it('connects an OAuth integration in a popup opened from the click, told the result on the socket', async () => {
    const { context, page, frame, cspViolations } = await newAppPage();
    await fakeConnectApi(context, patchbay.url);
    const sockets: WebSocketRoute[] = [];
    await context.routeWebSocket(`${patchbay.url.replace('http:', 'ws:')}/`, (ws) => {
      sockets.push(ws);
      ws.onMessage(() => undefined);
      ws.send(JSON.stringify({ message_type: 'connection_ack', ws_client_id: '6f1c1a8e-2b7e-4a55-9e0c-3f7b2f4d9a10' }));
    });
    await context.route(
      (url) => url.pathname.startsWith('/oauth/connect/'),
      (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Authorize</title><h1>Authorize GitHub</h1>' }),
    );
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: TOKEN });
    const popupOpened = context.waitForEvent('page');
    await frame.getByRole('button', { name: 'GitHub' }).click();
    const popup = await popupOpened;
    await popup.waitForURL(/\/oauth\/connect\/github\?/);
    const popupUrl = new URL(popup.url());
    expect(popupUrl.origin).toBe(patchbay.url);
    expect(popupUrl.searchParams.get('connect_session_token')).toBe(TOKEN);
    expect(popupUrl.searchParams.get('ws_client_id')).toBe('6f1c1a8e-2b7e-4a55-9e0c-3f7b2f4d9a10');
    await frame.getByText('Waiting for you to finish in the GitHub pop-up window…').waitFor();

    sockets[0]?.send(JSON.stringify({ message_type: 'success', provider_config_key: 'github', connection_id: 'gh-7', is_pending: false }));
    const connected = await waitForConnectEvent(page, 'connect');
    expect(connected.payload).toEqual({ providerConfigKey: 'github', connectionId: 'gh-7' });
    await frame.getByRole('heading', { name: 'Connected' }).waitFor();
    await expect.poll(() => popup.isClosed()).toBe(true);
    expect(cspViolations).toEqual([]);
  });

  it("shows the provider's refusal from the socket and lets the user try again", async () => {
    const { context, page, frame } = await newAppPage();
    await fakeConnectApi(context, patchbay.url);
    await context.routeWebSocket(`${patchbay.url.replace('http:', 'ws:')}/`, (ws) => {
      ws.onMessage(() => undefined);
      ws.send(JSON.stringify({ message_type: 'connection_ack', ws_client_id: '6f1c1a8e-2b7e-4a55-9e0c-3f7b2f4d9a11' }));
      setTimeout(() => ws.send(JSON.stringify({ message_type: 'error', error_type: 'access_denied', error_desc: 'The user denied access.' })), 200);
    });
    await context.route(
      (url) => url.pathname.startsWith('/oauth/connect/'),
      (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Authorize</title>' }),
    );
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: TOKEN });
    await frame.getByRole('button', { name: 'GitHub' }).click();
    const alert = frame.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe('The connection failed: The user denied access.');
    expect(await frame.getByRole('button', { name: 'Continue to GitHub' }).isVisible()).toBe(true);
    expect((await connectEvents(page)).map((event) => event.type)).toEqual(['ready']);
  });

  it('reports an expired session to the app as an error event', async () => {
    const { context, page, frame } = await newAppPage();
    await fakeConnectApi(context, patchbay.url, {
      session: (route) =>
        route.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ error: { code: 'expired_connect_session_token', message: 'The connect session has expired; create a new one.' } }) }),
    });
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: TOKEN });
    const error = await waitForConnectEvent(page, 'error');
    expect(error.payload).toEqual({ errorType: 'expired_connect_session_token', errorMessage: 'The connect session has expired; create a new one.' });
    await frame.getByRole('heading', { name: 'This link has expired' }).waitFor();
    expect(await frame.getByRole('alert').textContent()).toBe('The connect session has expired; create a new one.');
  });

  it('closes on Escape and on its close button', async () => {
    const { context, page, frame } = await newAppPage();
    await fakeConnectApi(context, patchbay.url);
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: TOKEN });
    await frame.getByRole('button', { name: 'Acme CRM' }).press('Escape');
    await waitForConnectEvent(page, 'close');
    await expect.poll(() => page.locator('#connect-ui').count()).toBe(0);

    await page.evaluate(() => void ((globalThis as unknown as { connectEvents: unknown[] }).connectEvents.length = 0));
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: TOKEN });
    await frame.getByRole('button', { name: 'Close' }).click();
    await waitForConnectEvent(page, 'close');
  });

  it('works from a connect link in its own tab, keeping the token out of the URL and of storage', async () => {
    const { context, page } = await browser.newPage();
    await fakeConnectApi(context, patchbay.url, { session: { ...SESSION, allowed_integrations: ['jira'] }, apiAuth: () => ({ status: 200, body: { providerConfigKey: 'jira', connectionId: 'j-1' } }) });
    await page.goto(`${patchbay.url}/connect?session_token=${TOKEN}`);
    await page.getByRole('button', { name: 'Jira' }).click();
    expect(await page.getByLabel('Password').getAttribute('type')).toBe('password');
    await page.getByLabel('Username').fill('ada');
    await page.getByLabel('Password').fill('hunter2');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.getByRole('heading', { name: 'Connected' }).waitFor();

    expect(page.url()).toBe(`${patchbay.url}/connect/`);
    const stored = await page.evaluate(() => {
      const storage = globalThis as unknown as { localStorage: { length: number }; sessionStorage: { length: number } };
      return [storage.localStorage.length, storage.sessionStorage.length];
    });
    expect(stored).toEqual([0, 0]);
    await page.getByRole('button', { name: 'Finish' }).click();
    await page.getByText('You can close this tab.').waitFor();
  });
});

describe("connect UI against Patchbay's Connect API", () => {
  let patchbay: TestPatchbay;
  let browser: TestBrowser;
  let app: AppPage;
  let upstream: Upstream;
  let tokens: TokenServer;
  let authorize: http.Server;
  let authorizeUrl: string;

  beforeAll(async () => {
    [browser, app, upstream, tokens] = await Promise.all([launchBrowser(), startAppPage(), startUpstream(), startTokenServer()]);
    // The provider's consent screen, already agreed to: straight back to Patchbay with a code.
    authorize = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const back = new URL(url.searchParams.get('redirect_uri') ?? 'http://invalid/');
      back.searchParams.set('code', 'code-1');
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      res.end();
    });
    await new Promise<void>((resolve) => authorize.listen(0, '127.0.0.1', resolve));
    authorizeUrl = `http://127.0.0.1:${(authorize.address() as AddressInfo).port}/authorize`;
    patchbay = await startPatchbay({
      label: 'connect-ui-e2e',
      proxyTuning: { headersTimeoutMs: 2000 },
      providers: {
        'acme-crm': { display_name: 'Acme CRM', auth_mode: 'API_KEY', proxy: { base_url: upstream.url, headers: { 'x-api-key': '${apiKey}' }, verification: { method: 'GET', endpoints: ['/me'] } } },
        'octo-hub': { display_name: 'OctoHub', auth_mode: 'OAUTH2', authorization_url: authorizeUrl, token_url: tokens.tokenUrl, proxy: { base_url: upstream.url } },
      },
    });
    for (const body of [
      { provider: 'acme-crm', unique_key: 'acme' },
      { provider: 'octo-hub', unique_key: 'octo', credentials: { type: 'OAUTH2', client_id: 'client-1', client_secret: 'client-secret-1' } },
    ]) {
      const created = await patchbay.request('POST', '/integrations', { body });
      if (created.status !== 200) throw new Error(`integration refused: ${created.status} ${created.text}`);
    }
  });

  afterAll(async () => {
    await browser?.stop();
    await app?.close();
    await patchbay?.stop();
    await upstream?.close();
    await tokens?.close();
    await new Promise<void>((resolve) => (authorize ? authorize.close(() => resolve()) : resolve()));
  });

  const newSession = async (endUserId: string) => {
    const res = await patchbay.request('POST', '/connect/sessions', { body: { end_user: { id: endUserId, email: `${endUserId}@example.com` }, allowed_integrations: ['acme', 'octo'] } });
    expect(res.status, res.text).toBe(201);
    return res.json.data.token as string;
  };

  const connectionsOf = async (endUserId: string) => (await patchbay.request('GET', `/connections?endUserId=${endUserId}`)).json.connections as { provider_config_key: string; connection_id: string }[];

  it('connects an API key the provider accepts, after showing one it refused', async () => {
    const token = await newSession('e2e-key');
    const { page } = await browser.newPage();
    await gotoAppPage(page, app);
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: token });
    const frame = page.frameLocator('#connect-ui');
    await frame.getByRole('button', { name: 'Acme CRM' }).click();

    upstream.script(reply(401, { error: 'bad key' }));
    await frame.getByLabel('API key').fill('sk-refused');
    await frame.getByRole('button', { name: 'Connect', exact: true }).click();
    await frame.getByRole('alert').waitFor();
    expect(await frame.getByRole('alert').textContent()).toContain('did not accept these credentials');

    upstream.script(reply(200, { id: 'me' }));
    await frame.getByLabel('API key').fill('sk-accepted');
    await frame.getByRole('button', { name: 'Connect', exact: true }).click();
    const connected = await waitForConnectEvent(page, 'connect');
    expect(connected.payload.providerConfigKey).toBe('acme');
    expect(upstream.requests.at(-1)?.headers['x-api-key']).toBe('sk-accepted');
    expect((await connectionsOf('e2e-key')).map((c) => [c.provider_config_key, c.connection_id])).toEqual([['acme', connected.payload.connectionId]]);
  });

  it('connects an OAuth2 integration through the popup and the server socket', async () => {
    const token = await newSession('e2e-oauth');
    const { context, page } = await browser.newPage();
    await gotoAppPage(page, app);
    await openConnectUI(page, { patchbayUrl: patchbay.url, sessionToken: token });
    const frame = page.frameLocator('#connect-ui');
    const popupOpened = context.waitForEvent('page');
    await frame.getByRole('button', { name: 'OctoHub' }).click();
    await popupOpened;
    const connected = await waitForConnectEvent(page, 'connect', 20_000);
    expect(connected.payload.providerConfigKey).toBe('octo');
    expect(tokens.requests.map((r) => [r.grantType, r.params.code])).toEqual([['authorization_code', 'code-1']]);
    expect((await connectionsOf('e2e-oauth')).map((c) => [c.provider_config_key, c.connection_id])).toEqual([['octo', connected.payload.connectionId]]);
  });
});
