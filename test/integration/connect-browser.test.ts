// Connect in a real browser: a customer's app (its own origin) loads @nangohq/frontend and runs
// auth(), reconnect() and openConnectUI() in Chromium against Patchbay and a fake OAuth2 server.
// Each test asserts what the end user and the app see; connect.test.ts drives the same server
// side step by step without a browser.
import { createHash } from 'node:crypto';
import { Nango } from '@nangohq/node';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { authInPage, connectEvents, gotoAppPage, openConnectUI, startAppPage, waitForAuthOutcome, waitForConnectEvent, type AppPage, type AppWindow } from '../harness/app-page.js';
import { launchBrowser, type TestBrowser } from '../harness/browser.js';
import { startOAuthProvider, type OAuthProvider } from '../harness/oauth-provider.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const WEBHOOK_SECRET = 'connect-browser-webhook-secret-0123';
const CLIENT_SECRET = 'client-secret-browser-9f2e';
const GOOD_KEY = 'sk-good-7f3a9c51';
const BAD_KEY = 'sk-bad-2e8d41b7';
// A flow crosses a popup, the provider, a WebSocket and the database on a shared 2-core machine:
// these bounds only turn a hang into a failure, they claim nothing about speed.
const FLOW_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 90_000;

/**
 * What nobody but Patchbay and the provider may ever see: the tokens the fake provider issues
 * (`at-`/`rt-` + 16 hex), the OAuth client secret, connect session tokens, the API keys typed.
 */
const SECRETS = new RegExp(`\\b(?:at|rt)-[0-9a-f]{16}\\b|${CLIENT_SECRET}|nango_connect_session_[0-9a-f]{64}|${GOOD_KEY}|${BAD_KEY}`, 'g');
const secretsIn = (text: string) => text.match(SECRETS) ?? [];

type AuthOutcome = NonNullable<AppWindow['authOutcome']>;

/** An answer a popup got from Patchbay's /oauth/* routes, as served. */
interface ServedPage {
  path: string;
  status: number;
  contentType: string;
  html: string;
}

/** A browser context with the app page open; closed when the test ends. */
interface AppTab {
  context: BrowserContext;
  page: Page;
  /** Windows opened from the app (the OAuth popups), in order. */
  popups: Page[];
  /** Every document the popups navigated to, redirects included, in order, with the Referer sent. */
  navigations: { url: URL; referer: string }[];
  /** What the popups got from /oauth/*, in order. */
  served: ServedPage[];
  /** Content-Security-Policy violations reported on any page's console. */
  cspViolations: string[];
  /** Lets held socket verdicts and the popup's self-closing script through (see openTab's `hold`). */
  release(): void;
}

/** A connection a test made in the browser, for the webhook and secrets checks at the end. */
interface Made {
  providerConfigKey: string;
  connectionId: string;
  endUserId: string;
  operation: 'creation' | 'override';
  provider: string;
  authMode: string;
}

describe('Connect in a browser: @nangohq/frontend against Patchbay', { timeout: TEST_TIMEOUT_MS }, () => {
  let provider: OAuthProvider;
  let keyApi: Upstream;
  let receiver: Upstream;
  let patchbay: TestPatchbay;
  let browser: TestBrowser;
  let app: AppPage;
  let nango: Nango;

  const made: Made[] = [];
  const failed: { endUserId: string; errorType: string }[] = [];
  /** Every /oauth/* page any popup got in this file. */
  const served: ServedPage[] = [];
  /** Everything the app was told (auth() outcomes, Connect UI events), as JSON. */
  const appSaw: string[] = [];

  beforeAll(async () => {
    [provider, keyApi, receiver, browser, app] = await Promise.all([startOAuthProvider(), startUpstream(), startUpstream(), launchBrowser(), startAppPage()]);
    patchbay = await startPatchbay({
      label: 'connect-browser',
      env: { PATCHBAY_WEBHOOK_URL: `${receiver.url}/hooks`, PATCHBAY_WEBHOOK_SECRET: WEBHOOK_SECRET },
      providers: {
        'fake-oauth': provider.catalogEntry(),
        'fake-key': {
          display_name: 'Fake Key',
          auth_mode: 'API_KEY',
          connection_config: { workspace: { type: 'string', title: 'Workspace', pattern: '^[a-z0-9-]+$' } },
          proxy: { base_url: keyApi.url, headers: { 'x-api-key': '${apiKey}' }, verification: { method: 'GET', endpoints: ['/me'] } },
        },
      },
    });
    nango = new Nango({ secretKey: patchbay.secretKey, host: patchbay.url });
    const oauth = { type: 'OAUTH2', client_id: 'client-browser', client_secret: CLIENT_SECRET, scopes: 'read,write' };
    for (const body of [
      { provider: 'fake-oauth', unique_key: 'fake', credentials: oauth },
      { provider: 'fake-key', unique_key: 'keyed' },
      { provider: 'fake-oauth', unique_key: 'other', credentials: oauth },
    ]) {
      const created = await patchbay.request('POST', '/integrations', { body });
      if (created.status !== 200) throw new Error(`integration refused: ${created.status} ${created.text}`);
    }
  });

  beforeEach(() => {
    provider.mode = 'approve';
    provider.behaviour = { format: 'json', refreshToken: true, failWith: undefined, extra: {} };
    keyApi.clear();
    // The provider's "who am I": accepts one key only.
    keyApi.setFallback((req, res) => {
      const accepted = req.headers['x-api-key'] === GOOD_KEY;
      res.writeHead(accepted ? 200 : 401, { 'content-type': 'application/json' });
      res.end(accepted ? '{"me":"ok"}' : '{"error":"bad key"}');
    });
  });

  afterAll(async () => {
    await browser?.stop();
    await app?.close();
    await patchbay?.stop();
    await Promise.all([provider?.close(), keyApi?.close(), receiver?.close()]);
  });

  /**
   * A fresh context on the app page (or on `url`). The page's WebSocket to Patchbay is relayed
   * through the test, which passes each verdict (`success`/`error`) on only once the popup's
   * page from /oauth/* has been recorded: the server sends the verdict before it answers the
   * popup, and the app closes the popup on the verdict, so otherwise the page could be gone
   * before anyone read it. With `hold`, verdicts and the popup's self-closing script also wait
   * for release(), so the test can read the popup as the user sees it.
   */
  const openTab = async ({ hold = false, url }: { hold?: boolean; url?: string } = {}): Promise<AppTab> => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const tabServed: ServedPage[] = [];
    const popups: Page[] = [];
    const navigations: AppTab['navigations'] = [];
    const cspViolations: string[] = [];
    const verdicts: (() => void)[] = [];
    let passed = 0;
    let holding = hold;
    let openGate = () => undefined as void;
    const gate = hold ? new Promise<void>((resolve) => (openGate = resolve)) : Promise.resolve();
    // The n-th verdict goes through once the n-th popup page is recorded.
    const pump = () => {
      while (!holding && verdicts.length > 0 && tabServed.length > passed) {
        passed += 1;
        verdicts.shift()?.();
      }
    };
    const release = () => {
      holding = false;
      openGate();
      pump();
    };
    onTestFinished(async () => {
      release();
      await context.close();
    });

    context.on('page', (opened) => void popups.push(opened));
    context.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    context.on('request', (request) => {
      if (request.isNavigationRequest() && request.frame().page() !== page) navigations.push({ url: new URL(request.url()), referer: request.headers().referer ?? '' });
    });
    context.on('response', async (response) => {
      const target = new URL(response.url());
      const status = response.status();
      // A page the popup shows: not a redirect on the way to the provider and back.
      const isPage = status >= 200 && (status < 300 || status >= 400);
      if (!response.request().isNavigationRequest() || target.origin !== patchbay.url || !target.pathname.startsWith('/oauth/') || !isPage) return;
      const recorded: ServedPage = {
        path: target.pathname,
        status,
        contentType: response.headers()['content-type'] ?? '',
        html: await response.text().catch((error: unknown) => `unreadable: ${String(error)}`),
      };
      tabServed.push(recorded);
      served.push(recorded);
      pump();
    });
    // close.js is the popup page's only script: it closes the window a moment after loading.
    await context.route(`${patchbay.url}/oauth/close.js`, async (route) => {
      await gate;
      await route.continue().catch(() => undefined);
    });
    await context.routeWebSocket(`${patchbay.url.replace('http:', 'ws:')}/`, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((message) => {
        if (String(message).includes('"connection_ack"')) return ws.send(message);
        verdicts.push(() => ws.send(message));
        pump();
      });
    });

    if (url === undefined) await gotoAppPage(page, app);
    else await page.goto(url);
    return { context, page, popups, navigations, served: tabServed, cspViolations, release };
  };

  const newSession = async (endUserId: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const { data } = await nango.createConnectSession({
      end_user: { id: endUserId, email: `${endUserId}@example.com`, display_name: 'Ada', tags: { plan: 'pro' } },
      organization: { id: 'org-7', display_name: 'Acme' },
      allowed_integrations: ['fake', 'keyed'],
      tags: { origin: 'browser' },
      ...extra,
    } as never);
    return data.token;
  };

  /** `new Nango({host, connectSessionToken}).auth(key, options)` (or reconnect) in the app page, and what it settled with. */
  const authInApp = async (tab: AppTab, sessionToken: string, providerConfigKey: string, authOptions?: Record<string, unknown>, method?: 'auth' | 'reconnect'): Promise<AuthOutcome> => {
    await authInPage(tab.page, { patchbayUrl: patchbay.url, sessionToken, providerConfigKey, ...(authOptions === undefined ? {} : { authOptions }), ...(method === undefined ? {} : { method }) });
    const outcome = await waitForAuthOutcome(tab.page, FLOW_TIMEOUT_MS);
    appSaw.push(JSON.stringify(outcome));
    return outcome;
  };

  const connectedId = (outcome: AuthOutcome): string => {
    if (!outcome.ok) throw new Error(`auth() rejected: ${outcome.type} ${outcome.message}`);
    return (outcome.result as { connectionId: string }).connectionId;
  };

  const oauthMade = (connectionId: string, endUserId: string, operation: Made['operation'] = 'creation') =>
    made.push({ providerConfigKey: 'fake', connectionId, endUserId, operation, provider: 'fake-oauth', authMode: 'OAUTH2' });

  /** The app closes every popup it opened once the flow settles (or the popup closes itself); no page broke its CSP. */
  const expectPopupsClosed = async (tab: AppTab, count: number) => {
    expect(tab.popups).toHaveLength(count);
    await expect.poll(() => tab.popups.every((popup) => popup.isClosed()), { timeout: FLOW_TIMEOUT_MS }).toBe(true);
    expect(tab.cspViolations).toEqual([]);
  };

  const waitForPopup = async (tab: AppTab, index = 0): Promise<Page> => {
    await expect.poll(() => tab.popups.length, { timeout: FLOW_TIMEOUT_MS }).toBeGreaterThan(index);
    return tab.popups[index] as Page;
  };

  const connectionsOf = async (endUserId: string) => (await patchbay.request('GET', `/connections?endUserId=${endUserId}`)).json.connections as Record<string, any>[];

  const proxiedAuthorization = async (connectionId: string) =>
    (await patchbay.request('GET', '/proxy/whoami', { headers: { 'provider-config-key': 'fake', 'connection-id': connectionId } })).json.authorization as string;

  const storedConnection = async (providerConfigKey: string, connectionId: string) =>
    (await patchbay.request('GET', `/connections/${connectionId}?provider_config_key=${providerConfigKey}&refresh_token=true`)).json as Record<string, any>;

  /** Moves a session's clock: the database is the only place its expiry lives (tokens are stored as SHA-256). */
  const expireSession = async (token: string) => {
    const client = new pg.Client({ connectionString: patchbay.database.url });
    await client.connect();
    try {
      await client.query(`UPDATE connect_sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, [createHash('sha256').update(token).digest()]);
    } finally {
      await client.end();
    }
  };

  const lastServed = (tab: AppTab, path: string) => tab.served.filter((page) => page.path === path).at(-1);

  it('connects through the OAuth2 popup with PKCE: auth() resolves, the granted token proxies, the connection has the end user', async () => {
    const tab = await openTab();
    const seenBefore = provider.authorizations.length;
    const outcome = await authInApp(tab, await newSession('oauth-user'), 'fake');

    expect(outcome).toEqual({ ok: true, result: { providerConfigKey: 'fake', connectionId: expect.any(String), isPending: false } });
    const connectionId = connectedId(outcome);
    oauthMade(connectionId, 'oauth-user');

    // The popup went Patchbay → provider's consent screen → Patchbay's callback.
    expect(tab.navigations.map(({ url }) => url.origin + url.pathname)).toEqual([`${patchbay.url}/oauth/connect/fake`, provider.authorizeUrl, `${patchbay.url}/oauth/callback`]);
    // The session token rides in the popup's first URL only: no Referer carries it to the provider.
    expect(tab.navigations.map(({ referer }) => referer).filter((referer) => referer.includes('nango_connect_session_'))).toEqual([]);
    const authorize = (tab.navigations[1] as AppTab['navigations'][number]).url;
    expect(authorize.searchParams.get('client_id')).toBe('client-browser');
    expect(authorize.searchParams.get('scope')).toBe('read,write');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    const challenge = authorize.searchParams.get('code_challenge');
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(provider.authorizations.slice(seenBefore).map((seen) => seen.params.get('code_challenge'))).toEqual([challenge]);
    // …and the code was traded with the verifier of that challenge.
    const verifier = provider.tokenRequests.at(-1)?.params.code_verifier ?? '';
    expect(createHash('sha256').update(verifier).digest('base64url')).toBe(challenge);
    expect(lastServed(tab, '/oauth/callback')).toMatchObject({ status: 200, contentType: 'text/html; charset=utf-8' });
    await expectPopupsClosed(tab, 1);

    expect(await proxiedAuthorization(connectionId)).toBe(`Bearer ${provider.issued.at(-1)}`);
    const connections = await connectionsOf('oauth-user');
    expect(connections).toEqual([
      expect.objectContaining({
        connection_id: connectionId,
        provider_config_key: 'fake',
        provider: 'fake-oauth',
        end_user: { id: 'oauth-user', email: 'oauth-user@example.com', display_name: 'Ada', tags: { plan: 'pro' }, organization: { id: 'org-7', display_name: 'Acme' } },
        tags: { origin: 'browser' },
      }),
    ]);
  });

  it('rejects auth() with access_denied when the user denies consent, shows a readable page, creates nothing', async () => {
    provider.mode = 'deny';
    failed.push({ endUserId: 'denied-user', errorType: 'access_denied' });
    const tab = await openTab({ hold: true });
    await authInPage(tab.page, { patchbayUrl: patchbay.url, sessionToken: await newSession('denied-user'), providerConfigKey: 'fake' });

    const popup = await waitForPopup(tab);
    await popup.getByRole('heading', { name: 'Could not connect' }).waitFor({ timeout: FLOW_TIMEOUT_MS });
    const text = await popup.locator('main').innerText();
    expect(text).toContain('The provider did not authorize the connection: The user <b>denied</b> access');
    // The provider's description is text, never markup.
    expect(await popup.locator('main b').count()).toBe(0);
    expect(lastServed(tab, '/oauth/callback')).toMatchObject({ status: 400, contentType: 'text/html; charset=utf-8', html: expect.stringContaining('Could not connect') });

    tab.release();
    const outcome = await waitForAuthOutcome(tab.page, FLOW_TIMEOUT_MS);
    appSaw.push(JSON.stringify(outcome));
    expect(outcome).toEqual({ ok: false, type: 'access_denied', message: expect.stringContaining('did not authorize'), isAuthError: true });
    await expectPopupsClosed(tab, 1);
    expect(await connectionsOf('denied-user')).toEqual([]);
  });

  it('rejects auth() with token_exchange_failed when the token endpoint answers 500, creates nothing', async () => {
    provider.behaviour.failWith = 500;
    failed.push({ endUserId: 'token-failure-user', errorType: 'token_exchange_failed' });
    const tab = await openTab();
    const outcome = await authInApp(tab, await newSession('token-failure-user'), 'fake');

    expect(outcome).toEqual({ ok: false, type: 'token_exchange_failed', message: expect.stringContaining('The provider refused the authorization code'), isAuthError: true });
    expect(lastServed(tab, '/oauth/callback')).toMatchObject({ status: 502, html: expect.stringContaining('Could not connect') });
    await expectPopupsClosed(tab, 1);
    expect(await connectionsOf('token-failure-user')).toEqual([]);
  });

  it.each([
    ['a form-encoded token answer', { format: 'form' as const, refreshToken: true }],
    ['a token answer without a refresh token', { format: 'json' as const, refreshToken: false }],
  ])('connects with %s and stores what the provider granted', async (_name, behaviour) => {
    provider.behaviour = { ...provider.behaviour, ...behaviour };
    const endUserId = `token-${behaviour.format}-${behaviour.refreshToken ? 'refresh' : 'access'}`;
    const tab = await openTab();
    const outcome = await authInApp(tab, await newSession(endUserId), 'fake');

    expect(outcome).toMatchObject({ ok: true, result: { providerConfigKey: 'fake' } });
    const connectionId = connectedId(outcome);
    oauthMade(connectionId, endUserId);
    const stored = await storedConnection('fake', connectionId);
    expect(stored.credentials).toMatchObject({ type: 'OAUTH2', access_token: provider.issued.at(-1), expires_at: expect.any(String) });
    expect(stored.credentials.refresh_token ?? null).toEqual(behaviour.refreshToken ? expect.stringMatching(/^rt-[0-9a-f]{16}$/) : null);
    expect(await proxiedAuthorization(connectionId)).toBe(`Bearer ${provider.issued.at(-1)}`);
    await expectPopupsClosed(tab, 1);
  });

  it('connects an API key the provider accepts, refusing one it does not (connection_test_failed)', async () => {
    const tab = await openTab();
    const token = await newSession('key-user');
    const refused = await authInApp(tab, token, 'keyed', { credentials: { apiKey: BAD_KEY }, params: { workspace: 'acme-team' } });
    expect(refused).toEqual({ ok: false, type: 'connection_test_failed', message: expect.any(String), isAuthError: true });
    expect(await connectionsOf('key-user')).toEqual([]);

    // The frontend POSTs from the app's origin: Patchbay's CORS answer is what lets it read the result.
    const answered = tab.page.waitForResponse((response) => new URL(response.url()).pathname === '/api-auth/api-key/keyed');
    const accepted = await authInApp(tab, token, 'keyed', { credentials: { apiKey: GOOD_KEY }, params: { workspace: 'acme-team' } });
    expect(accepted).toEqual({ ok: true, result: { providerConfigKey: 'keyed', connectionId: expect.any(String) } });
    const response = await answered;
    expect((await response.request().allHeaders()).origin).toBe(app.url);
    expect((await response.allHeaders())['access-control-allow-origin']).toBe('*');
    const connectionId = connectedId(accepted);
    made.push({ providerConfigKey: 'keyed', connectionId, endUserId: 'key-user', operation: 'creation', provider: 'fake-key', authMode: 'API_KEY' });

    // The catalog entry says: GET /me with the key in x-api-key.
    expect(keyApi.requests.map((r) => [r.method, r.path, r.headers['x-api-key']])).toEqual([
      ['GET', '/me', BAD_KEY],
      ['GET', '/me', GOOD_KEY],
    ]);
    const stored = await storedConnection('keyed', connectionId);
    expect(stored.credentials).toEqual({ type: 'API_KEY', apiKey: GOOD_KEY });
    expect(stored.connection_config).toEqual({ workspace: 'acme-team' });
    expect((await connectionsOf('key-user')).map((c) => c.connection_id)).toEqual([connectionId]);
    expect(tab.popups).toEqual([]);
  });

  it('reconnects with a reconnect session: reconnect() resolves with the same connection id and the new token proxies', async () => {
    const tab = await openTab();
    const connectionId = connectedId(await authInApp(tab, await newSession('reconnect-user'), 'fake'));
    oauthMade(connectionId, 'reconnect-user');
    const firstToken = provider.issued.at(-1);

    const { data } = await nango.createReconnectSession({ connection_id: connectionId, integration_id: 'fake' } as never);
    const outcome = await authInApp(tab, data.token, 'fake', undefined, 'reconnect');
    expect(outcome).toEqual({ ok: true, result: { providerConfigKey: 'fake', connectionId, isPending: false } });
    oauthMade(connectionId, 'reconnect-user', 'override');

    const newToken = provider.issued.at(-1);
    expect(newToken).not.toBe(firstToken);
    expect(await proxiedAuthorization(connectionId)).toBe(`Bearer ${newToken}`);
    expect((await connectionsOf('reconnect-user')).map((c) => [c.connection_id, c.end_user?.organization?.id])).toEqual([[connectionId, 'org-7']]);
    await expectPopupsClosed(tab, 2);
  });

  it('rejects auth() with expired_connect_session_token once the session has expired, without reaching the provider', async () => {
    const token = await newSession('expired-user');
    await expireSession(token);
    const tab = await openTab();
    const seenBefore = provider.authorizations.length;
    const outcome = await authInApp(tab, token, 'fake');

    expect(outcome).toEqual({ ok: false, type: 'expired_connect_session_token', message: expect.any(String), isAuthError: true });
    expect(lastServed(tab, '/oauth/connect/fake')).toMatchObject({ status: 401, html: expect.stringContaining('Could not connect') });
    expect(provider.authorizations.length).toBe(seenBefore);
    await expectPopupsClosed(tab, 1);
    expect(await connectionsOf('expired-user')).toEqual([]);
  });

  it('rejects auth() with expired_connect_session_token when the session expires while the user is at the provider', async () => {
    const tab = await openTab();
    const token = await newSession('slow-user');
    // The flow starts (Patchbay answers the popup's first request), then the session runs out
    // before the user comes back from the consent screen.
    await tab.context.route(
      (target) => target.origin === patchbay.url && target.pathname === '/oauth/connect/fake',
      async (route) => {
        const response = await route.fetch({ maxRedirects: 0 });
        await expireSession(token);
        await route.fulfill({ response });
      },
    );
    const authorizationsBefore = provider.authorizations.length;
    const tokenRequestsBefore = provider.tokenRequests.length;
    const outcome = await authInApp(tab, token, 'fake');

    expect(outcome).toEqual({ ok: false, type: 'expired_connect_session_token', message: expect.any(String), isAuthError: true });
    expect(provider.authorizations.length).toBe(authorizationsBefore + 1);
    expect(provider.tokenRequests.length).toBe(tokenRequestsBefore);
    expect(lastServed(tab, '/oauth/callback')).toMatchObject({ status: 401, html: expect.stringContaining('Could not connect') });
    await expectPopupsClosed(tab, 1);
    expect(await connectionsOf('slow-user')).toEqual([]);
  });

  it('rejects auth() with integration_not_allowed for an integration the session does not list', async () => {
    const tab = await openTab();
    const seenBefore = provider.authorizations.length;
    const outcome = await authInApp(tab, await newSession('not-allowed-user'), 'other');

    expect(outcome).toEqual({ ok: false, type: 'integration_not_allowed', message: expect.stringContaining('other'), isAuthError: true });
    expect(lastServed(tab, '/oauth/connect/other')).toMatchObject({ status: 403, html: expect.stringContaining('Could not connect') });
    expect(provider.authorizations.length).toBe(seenBefore);
    await expectPopupsClosed(tab, 1);
    expect(await connectionsOf('not-allowed-user')).toEqual([]);
  });

  describe('Connect UI', () => {
    it('connects an OAuth2 integration from the framed UI: the app gets connect, then close on Finish', async () => {
      const tab = await openTab();
      await openConnectUI(tab.page, { patchbayUrl: patchbay.url, sessionToken: await newSession('ui-oauth-user') });
      const frame = tab.page.frameLocator('#connect-ui');
      await frame.getByRole('heading', { name: 'Connect an account' }).waitFor({ timeout: FLOW_TIMEOUT_MS });
      await frame.getByRole('button', { name: 'Fake OAuth', exact: true }).click();

      const connected = await waitForConnectEvent(tab.page, 'connect', FLOW_TIMEOUT_MS);
      expect(connected.payload).toEqual({ providerConfigKey: 'fake', connectionId: expect.any(String) });
      oauthMade(connected.payload.connectionId, 'ui-oauth-user');
      expect(tab.navigations.map(({ url }) => url.origin + url.pathname)).toEqual([`${patchbay.url}/oauth/connect/fake`, provider.authorizeUrl, `${patchbay.url}/oauth/callback`]);
      expect(tab.navigations[1]?.url.searchParams.get('code_challenge_method')).toBe('S256');

      await frame.getByRole('heading', { name: 'Connected' }).waitFor({ timeout: FLOW_TIMEOUT_MS });
      await frame.getByRole('button', { name: 'Finish' }).click();
      await waitForConnectEvent(tab.page, 'close', FLOW_TIMEOUT_MS);
      await expect.poll(() => tab.page.locator('#connect-ui').count(), { timeout: FLOW_TIMEOUT_MS }).toBe(0);
      const events = await connectEvents(tab.page);
      appSaw.push(JSON.stringify(events));
      expect(events.map((event) => event.type)).toEqual(['ready', 'connect', 'close']);
      await expectPopupsClosed(tab, 1);

      expect((await connectionsOf('ui-oauth-user')).map((c) => [c.provider_config_key, c.connection_id])).toEqual([['fake', connected.payload.connectionId]]);
      expect(await proxiedAuthorization(connected.payload.connectionId)).toBe(`Bearer ${provider.issued.at(-1)}`);
    });

    it('connects an API key from the framed UI through its labelled form', async () => {
      const tab = await openTab();
      await openConnectUI(tab.page, { patchbayUrl: patchbay.url, sessionToken: await newSession('ui-key-user') });
      const frame = tab.page.frameLocator('#connect-ui');
      await frame.getByRole('button', { name: 'Fake Key', exact: true }).click();
      await frame.getByRole('heading', { name: 'Connect Fake Key' }).waitFor({ timeout: FLOW_TIMEOUT_MS });
      expect(await frame.getByLabel('API key').getAttribute('type')).toBe('password');
      expect(await frame.getByLabel('Workspace').getAttribute('type')).toBe('text');
      await frame.getByLabel('Workspace').fill('ui-team');
      await frame.getByLabel('API key').fill(GOOD_KEY);
      await frame.getByRole('button', { name: 'Connect', exact: true }).click();

      const connected = await waitForConnectEvent(tab.page, 'connect', FLOW_TIMEOUT_MS);
      expect(connected.payload).toEqual({ providerConfigKey: 'keyed', connectionId: expect.any(String) });
      made.push({ providerConfigKey: 'keyed', connectionId: connected.payload.connectionId, endUserId: 'ui-key-user', operation: 'creation', provider: 'fake-key', authMode: 'API_KEY' });
      await frame.getByRole('heading', { name: 'Connected' }).waitFor({ timeout: FLOW_TIMEOUT_MS });
      appSaw.push(JSON.stringify(await connectEvents(tab.page)));

      expect(keyApi.requests.map((r) => [r.method, r.path, r.headers['x-api-key']])).toEqual([['GET', '/me', GOOD_KEY]]);
      const stored = await storedConnection('keyed', connected.payload.connectionId);
      expect(stored.credentials).toEqual({ type: 'API_KEY', apiKey: GOOD_KEY });
      expect(stored.connection_config).toEqual({ workspace: 'ui-team' });
      expect(stored.end_user).toMatchObject({ id: 'ui-key-user', organization: { id: 'org-7' } });
    });

    it('connects from the connect_link of POST /connect/sessions opened in its own tab', async () => {
      const created = await patchbay.request('POST', '/connect/sessions', {
        body: { end_user: { id: 'link-user', email: 'link-user@example.com' }, organization: { id: 'org-7' }, allowed_integrations: ['fake', 'keyed'], tags: { origin: 'link' } },
      });
      expect(created.status).toBe(201);
      const link = created.json.data.connect_link as string;
      expect(link.startsWith(`${patchbay.url}/connect/?session_token=`)).toBe(true);

      const tab = await openTab({ url: link });
      await tab.page.getByRole('button', { name: 'Fake OAuth', exact: true }).click();
      await tab.page.getByRole('heading', { name: 'Connected' }).waitFor({ timeout: FLOW_TIMEOUT_MS });
      // The token left the address bar as soon as the page read it.
      expect(tab.page.url()).toBe(`${patchbay.url}/connect/`);
      await tab.page.getByRole('button', { name: 'Finish' }).click();
      await tab.page.getByText('You can close this tab.').waitFor({ timeout: FLOW_TIMEOUT_MS });
      await expectPopupsClosed(tab, 1);

      const connections = await connectionsOf('link-user');
      expect(connections.map((c) => [c.provider_config_key, c.tags])).toEqual([['fake', { origin: 'link' }]]);
      made.push({ providerConfigKey: 'fake', connectionId: connections[0]?.connection_id, endUserId: 'link-user', operation: 'creation', provider: 'fake-oauth', authMode: 'OAUTH2' });
      expect(await proxiedAuthorization(connections[0]?.connection_id)).toBe(`Bearer ${provider.issued.at(-1)}`);
    });
  });

  it('sends a signed auth webhook for every connection made or failed here, with no credential inside', async () => {
    // One of its own, so this test stands alone too.
    const tab = await openTab();
    oauthMade(connectedId(await authInApp(tab, await newSession('webhook-user'), 'fake')), 'webhook-user');

    const verifier = new Nango({ secretKey: patchbay.secretKey, host: patchbay.url, webhookSigningKey: WEBHOOK_SECRET } as never);
    const authHooks = () =>
      receiver.requests.map((request) => ({ request, body: JSON.parse(request.body.toString()) as Record<string, any> })).filter(({ body }) => body.type === 'auth');
    const expected = made.length + failed.length;
    await expect.poll(() => authHooks().length, { timeout: FLOW_TIMEOUT_MS }).toBeGreaterThanOrEqual(expected);

    for (const { request } of authHooks()) {
      expect(request.path).toBe('/hooks');
      expect(verifier.verifyIncomingWebhookRequest(request.body.toString(), request.headers as Record<string, string>)).toBe(true);
    }
    for (const connection of made) {
      const hooks = authHooks().filter(({ body }) => body.connectionId === connection.connectionId && body.operation === connection.operation);
      expect(hooks, `${connection.operation} of ${connection.connectionId}`).toHaveLength(1);
      expect(hooks[0]?.body).toMatchObject({
        from: 'nango',
        type: 'auth',
        environment: 'prod',
        success: true,
        providerConfigKey: connection.providerConfigKey,
        provider: connection.provider,
        authMode: connection.authMode,
        endUser: { endUserId: connection.endUserId, organizationId: 'org-7' },
      });
    }
    for (const failure of failed) {
      const hooks = authHooks().filter(({ body }) => body.endUser?.endUserId === failure.endUserId);
      expect(hooks.map(({ body }) => [body.operation, body.success, body.error?.type])).toEqual([['creation', false, failure.errorType]]);
    }
    await expectPopupsClosed(tab, 1);
  });

  it('keeps tokens, client secrets, session tokens and API keys out of /logs, webhooks, popup pages and what the app is told', async () => {
    // Flows of its own, so the logs hold at least a refused key, a proxy call and a webhook.
    const tab = await openTab();
    const token = await newSession('secrets-user');
    expect(await authInApp(tab, token, 'keyed', { credentials: { apiKey: BAD_KEY }, params: { workspace: 'secrets' } })).toMatchObject({ ok: false, type: 'connection_test_failed' });
    const connectionId = connectedId(await authInApp(tab, token, 'fake'));
    oauthMade(connectionId, 'secrets-user');
    expect(await proxiedAuthorization(connectionId)).toBe(`Bearer ${provider.issued.at(-1)}`);
    await expectPopupsClosed(tab, 1);

    /** Every log operation, following the cursor. */
    const allLogs = async () => {
      const operations: Record<string, any>[] = [];
      let cursor: string | null = null;
      do {
        const response = await patchbay.request('GET', `/logs?limit=500${cursor === null ? '' : `&cursor=${cursor}`}`);
        expect(response.status).toBe(200);
        operations.push(...(response.json.data as Record<string, any>[]));
        cursor = response.json.next_cursor as string | null;
      } while (cursor !== null);
      return operations;
    };
    await expect.poll(async () => (await allLogs()).some((op) => op.type === 'proxy' && op.connection_id === connectionId), { timeout: FLOW_TIMEOUT_MS }).toBe(true);
    await expect.poll(() => receiver.requests.some((request) => request.body.toString().includes(connectionId)), { timeout: FLOW_TIMEOUT_MS }).toBe(true);

    await expect.poll(async () => (await allLogs()).some((op) => op.type === 'auth' && op.state === 'failed'), { timeout: FLOW_TIMEOUT_MS }).toBe(true);
    const operations = await allLogs();
    expect(secretsIn(JSON.stringify(operations))).toEqual([]);
    expect(secretsIn(receiver.requests.map((request) => request.body.toString()).join('\n'))).toEqual([]);
    expect(served.some((page) => page.path === '/oauth/callback' && page.status === 200)).toBe(true);
    expect(secretsIn(served.map((page) => page.html).join('\n'))).toEqual([]);
    expect(secretsIn(appSaw.join('\n'))).toEqual([]);
  });
});
