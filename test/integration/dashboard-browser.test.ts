// The dashboard in Chromium, as a person uses it: log in (a wrong key refused), the overview, the
// live logs page showing a call made while it is open, a failed call's attempts, and the
// connections search. Elements are found by role, label and text; screenshots go to
// test/artifacts/ (not committed) to look at.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../harness/browser.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, startUpstream, type Upstream } from '../harness/upstream.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '..', 'artifacts');
const TOKEN = 'gho_DashboardSecretToken_4242';
// Generous: a shared 2-core machine; these bound a hang, they claim nothing about speed.
const TEST_TIMEOUT_MS = 60_000;

describe('dashboard in a browser', { timeout: TEST_TIMEOUT_MS }, () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  let browser: TestBrowser;
  let context: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    upstream = await startUpstream();
    patchbay = await startPatchbay({ label: 'dashboard-browser', providers: { github: { proxy: { base_url: upstream.url } } } });
    await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } });
    const seed = [
      { id: 'alpha-1', end_user: { id: 'u-ada', display_name: 'Ada Lovelace' }, tags: { plan: 'pro' } },
      { id: 'beta-2', end_user: { id: 'u-bob', display_name: 'Bob' }, tags: { plan: 'free' } },
      { id: 'gamma-3', end_user: { id: 'u-cy', display_name: 'Beta Tester' }, tags: {} },
      { id: 'delta-4', end_user: { id: 'u-di', display_name: 'Di' }, tags: { stage: 'beta' } },
    ];
    for (const c of seed) {
      const res = await patchbay.request('POST', '/connections', {
        body: { provider_config_key: 'github', connection_id: c.id, end_user: c.end_user, tags: c.tags, credentials: { type: 'OAUTH2', access_token: TOKEN } },
      });
      expect(res.status).toBe(201);
    }
    upstream.script(reply(503), reply(503));
    await patchbay.request('GET', '/proxy/repos/acme/broken', { headers: { 'provider-config-key': 'github', 'connection-id': 'alpha-1', retries: '1' } });
    await patchbay.system.logs.flush();

    browser = await launchBrowser();
    ({ context, page } = await browser.newPage());
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  });
  afterAll(async () => {
    await browser?.stop();
    await patchbay?.stop();
    await upstream?.close();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });

  it('refuses a wrong key with a message, and the right key reaches the overview', async () => {
    await page.goto(`${patchbay.url}/`);
    const keyInput = page.getByLabel('Secret key');
    await keyInput.fill('not-the-secret-key-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not the secret key');
    await shot('login-refused');

    await keyInput.fill(patchbay.secretKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    // The seeded call (503 twice) counts as one call and one error.
    await page.getByRole('link', { name: /^Proxy calls 1 / }).waitFor();
    await page.getByRole('link', { name: /^Errors 1 / }).waitFor();
    await shot('overview');
    // The key was typed, not kept: nothing in page storage, and the cookie is out of script's reach.
    const stored = String(await page.evaluate('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie'));
    expect(stored).not.toContain(patchbay.secretKey);
    expect(stored).not.toContain('patchbay_session');
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'patchbay_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  it('shows a proxy call made while the logs page is open, without a reload', async () => {
    await page.getByRole('link', { name: 'Logs' }).click();
    await page.getByRole('heading', { name: 'Logs' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    let reloaded = false;
    page.once('load', () => {
      reloaded = true;
    });
    const made = await patchbay.request('GET', '/proxy/repos/acme/live-call-7', { headers: { 'provider-config-key': 'github', 'connection-id': 'beta-2' } });
    expect(made.status).toBe(200);
    // No wall-clock bound but the test's own: the row arrives through the stream.
    await page.getByRole('table', { name: 'Log operations' }).getByText('/repos/acme/live-call-7').waitFor();
    expect(reloaded).toBe(false);
    await shot('logs');
  });

  it("opens a failed call and shows its attempts and redacted headers", async () => {
    await page.goto(`${patchbay.url}/#/logs?state=failed`);
    await page.getByRole('table', { name: 'Log operations' }).getByText('/repos/acme/broken').waitFor();
    await page.getByRole('row').filter({ hasText: '/repos/acme/broken' }).getByRole('link').click();
    const attempts = page.getByRole('list', { name: 'Attempts' });
    await attempts.waitFor();
    await expect.poll(() => attempts.getByRole('listitem').count()).toBe(2);
    await page.getByRole('heading', { name: 'Request headers' }).waitFor();
    expect(await page.content()).not.toContain(TOKEN);
    await shot('log-detail');
  });

  it('narrows the connections list as the search box is typed into', async () => {
    await page.getByRole('link', { name: 'Connections' }).click();
    const table = page.getByRole('table', { name: 'Connections' });
    await table.getByText('alpha-1').waitFor();
    await page.getByLabel('Search').fill('beta');
    // beta-2 by its id, gamma-3 by its end user, delta-4 by a tag; alpha-1 matches nothing.
    await expect.poll(async () => (await table.locator('tbody tr td:first-child').allTextContents()).sort()).toEqual(['beta-2', 'delta-4', 'gamma-3']);
    expect(page.url()).toContain('search=beta');
    await shot('connections');
    await table.getByRole('link', { name: 'beta-2' }).click();
    await page.getByRole('heading', { name: 'beta-2' }).waitFor();
    await page.getByText('OAUTH2').waitFor();
    expect(await page.content()).not.toContain(TOKEN);
    await shot('connection');
  });

  it('logs out: the page asks for the key again and the old session is gone', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Secret key').waitFor();
    await page.reload();
    await page.getByLabel('Secret key').waitFor();
    expect(cspViolations).toEqual([]);
  });
});
