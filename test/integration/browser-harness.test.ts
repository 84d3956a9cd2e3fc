// The browser test harness itself: Debian's Chromium starts, the customer's app page loads
// @nangohq/frontend from its own origin, and what auth() opens can be seen and answered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authInPage, gotoAppPage, startAppPage, waitForAuthOutcome, type AppPage } from '../harness/app-page.js';
import { launchBrowser, type TestBrowser } from '../harness/browser.js';

describe('browser harness', () => {
  let browser: TestBrowser;
  let app: AppPage;

  beforeAll(async () => {
    [browser, app] = await Promise.all([launchBrowser(), startAppPage()]);
  });

  afterAll(async () => {
    await browser?.stop();
    await app?.close();
  });

  it('opens the app page from its own port with window.Nango loaded', async () => {
    const { page } = await browser.newPage();
    await gotoAppPage(page, app);
    expect(new URL(page.url()).origin).toBe(app.url);
    expect(await page.evaluate(() => typeof (globalThis as { Nango?: unknown }).Nango)).toBe('function');
    expect(app.requests).toEqual(expect.arrayContaining(['/', '/nango.js']));
  });

  it("shows auth()'s popup to the test and lets it answer on the page's WebSocket", async () => {
    const { context, page } = await browser.newPage();
    await gotoAppPage(page, app);
    // Nango's frontend opens the popup first, then waits for the server's ack on ws://<host>/.
    await page.routeWebSocket(`${app.url.replace('http:', 'ws:')}/`, (ws) => {
      ws.send(JSON.stringify({ message_type: 'connection_ack', ws_client_id: 'ws-1' }));
      ws.onMessage(() => undefined);
      setTimeout(() => ws.send(JSON.stringify({ message_type: 'success', provider_config_key: 'github', connection_id: 'c-1', is_pending: false })), 300);
    });
    const popupOpened = context.waitForEvent('page');
    await authInPage(page, { patchbayUrl: app.url, sessionToken: 'nango_connect_session_test', providerConfigKey: 'github' });
    const popup = await popupOpened;
    await popup.waitForURL(/\/oauth\/connect\/github\?/);
    const popupUrl = new URL(popup.url());
    expect(popupUrl.origin).toBe(app.url);
    expect(popupUrl.searchParams.get('connect_session_token')).toBe('nango_connect_session_test');
    expect(popupUrl.searchParams.get('ws_client_id')).toBe('ws-1');
    expect(await waitForAuthOutcome(page)).toEqual({ ok: true, result: { providerConfigKey: 'github', connectionId: 'c-1', isPending: false } });
  });
});
