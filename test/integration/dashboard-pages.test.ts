// The dashboard's working pages in Chromium, as a person uses them: an integration created
// through the provider picker, a connection's metadata edited and the connection deleted after
// a confirmation, an action run from the Functions page, the Runs page with a run's nested call
// and the call's parent run, a sync paused, started and triggered, and its records browsed.
// What the page did is checked through the API with the secret key. Screenshots go to
// test/artifacts/ (not committed).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../harness/browser.js';
import { DASHBOARD_ISSUES_SYNC, SHARED_ACTIONS, writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '..', 'artifacts');
const TOKEN = 'gho_PagesMustNotShowThis_5150';
const CLIENT_SECRET = 'picker-client-secret-never-shown-0042';
// Generous: a shared 2-core machine; these bound a hang, they claim nothing about speed.
const TEST_TIMEOUT_MS = 60_000;
// More than one page of the records browser (50).
const ISSUES = 60;

const FUNCTIONS = {
  'github/actions/echo-repo.ts': SHARED_ACTIONS['echo-repo'],
  'github/syncs/issues.ts': DASHBOARD_ISSUES_SYNC,
};

describe('dashboard pages in a browser', { timeout: TEST_TIMEOUT_MS }, () => {
  let upstream: Upstream;
  let functions: FunctionsFolder;
  let patchbay: TestPatchbay;
  let browser: TestBrowser;
  let page: Page;
  const cspViolations: string[] = [];

  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
  const go = async (hash: string) => {
    await page.goto(`${patchbay.url}/${hash}`);
  };
  const syncRuns = async () => (await patchbay.request('GET', '/runs?kind=sync&connection_id=gh-1')).json.data as { id: string; state: string }[];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    upstream = await startUpstream();
    upstream.setFallback((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/issues') return void res.end(JSON.stringify(Array.from({ length: ISSUES }, (_, i) => ({ id: i + 1, title: `Issue number ${i + 1}` }))));
      res.end(JSON.stringify({ path: req.url }));
    });
    functions = await writeFunctions(FUNCTIONS);
    patchbay = await startPatchbay({ label: 'dashboard-pages', functionsDir: functions.dir, providers: { github: { proxy: { base_url: upstream.url } } } });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
    for (const id of ['gh-1', 'doomed-7']) {
      const res = await patchbay.request('POST', '/connections', { body: { provider_config_key: 'github', connection_id: id, credentials: { type: 'OAUTH2', access_token: TOKEN } } });
      expect(res.status).toBe(201);
    }

    browser = await launchBrowser();
    ({ page } = await browser.newPage());
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    await go('');
    await page.getByLabel('Secret key').fill(patchbay.secretKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });
  afterAll(async () => {
    await browser?.stop();
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  it('creates an integration through the provider picker, and never shows its client secret back', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations' }).click();
    await page.getByRole('table', { name: 'Integrations' }).getByRole('link', { name: 'github' }).waitFor();
    await page.getByRole('link', { name: 'New integration' }).click();
    await page.getByLabel('Search providers').fill('github');
    await page.getByLabel('Auth mode').selectOption('OAUTH2');
    const option = page.getByRole('listbox', { name: 'Providers' }).getByRole('option').filter({ has: page.getByText('github', { exact: true }) });
    await option.click();
    await expect.poll(() => option.getAttribute('aria-selected')).toBe('true');
    await page.getByLabel('Unique key').fill('gh-picked');
    await page.getByLabel('Client ID').fill('picked-client-id');
    await page.getByLabel('Client secret').fill(CLIENT_SECRET);
    await shot('integration-new');
    await page.getByRole('button', { name: 'Create integration' }).click();
    await page.getByRole('heading', { name: 'gh-picked' }).waitFor();
    await expect.poll(() => page.getByLabel('Client ID').inputValue()).toBe('picked-client-id');
    expect(await page.getByLabel('Client secret').inputValue()).toBe('');
    expect(await page.content()).not.toContain(CLIENT_SECRET);
    await shot('integration');

    const stored = await patchbay.request('GET', '/integrations/gh-picked?include=credentials');
    expect(stored.json.data).toMatchObject({ provider: 'github', credentials: { type: 'OAUTH2', client_id: 'picked-client-id', client_secret: CLIENT_SECRET } });
  });

  it("edits a connection's metadata as JSON and the API reads it back", async () => {
    await go('#/connections/github/gh-1');
    await page.getByRole('heading', { name: 'gh-1' }).waitFor();
    await page.getByLabel('Credentials', { exact: true }).getByText('OAUTH2').waitFor();
    await page.getByLabel('Metadata (JSON)').fill('{"team": "core", "seats": 12}');
    await page.getByRole('button', { name: 'Save metadata' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    const summary = await patchbay.request('GET', '/connections/gh-1/summary?provider_config_key=github');
    expect(summary.json.metadata).toEqual({ team: 'core', seats: 12 });
    expect(await page.content()).not.toContain(TOKEN);
    await shot('connection-detail');
  });

  it('deletes a connection only once the deletion is confirmed', async () => {
    await go('#/connections/github/doomed-7');
    await page.getByRole('heading', { name: 'doomed-7' }).waitFor();
    await page.getByRole('button', { name: 'Delete connection' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Delete connection doomed-7?' });
    await dialog.waitFor();
    // Asked, not done: the connection is still there.
    expect((await patchbay.request('GET', '/connections/doomed-7/summary?provider_config_key=github')).status).toBe(200);
    await shot('connection-delete-confirm');
    await dialog.getByRole('button', { name: 'Delete connection' }).click();
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    expect((await patchbay.request('GET', '/connections/doomed-7/summary?provider_config_key=github')).status).toBe(404);
  });

  it('runs an action from the Functions page and shows its output and log lines', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Functions' }).click();
    const table = page.getByRole('table', { name: 'Functions' });
    const row = table.getByRole('row').filter({ hasText: 'echo-repo' });
    await row.getByRole('link', { name: 'Run' }).click();
    const form = page.getByRole('form', { name: 'Run echo-repo' });
    await expect.poll(() => form.getByLabel('Connection').inputValue()).toBe('gh-1');
    await form.getByLabel('Input (JSON)').fill('{"repo": "acme/widgets"}');
    await form.getByRole('button', { name: 'Run action' }).click();
    const output = page.getByLabel('Output');
    await output.waitFor();
    expect(JSON.parse((await output.textContent()) ?? '')).toEqual({ repo: 'acme/widgets', status: 200 });
    await page.getByRole('region', { name: 'Result' }).getByText('reading acme/widgets').waitFor();
    await shot('functions');
  });

  it("lists the run on the Runs page, with its input, output and the call made inside it, and the call's parent run", async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Runs' }).click();
    await page.getByLabel('Kind').selectOption('action');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.url()).toContain('kind=action');
    const row = page.getByRole('table', { name: 'Runs' }).getByRole('row').filter({ hasText: 'echo-repo' });
    await row.getByText('succeeded').waitFor();
    await shot('runs');
    await row.getByRole('link').first().click();
    await page.getByRole('heading', { name: 'echo-repo' }).waitFor();
    expect(JSON.parse((await page.getByLabel('Input').textContent()) ?? '')).toEqual({ repo: 'acme/widgets' });
    const calls = page.getByRole('table', { name: 'Calls made by this run' });
    await calls.getByText('/repos/acme/widgets').waitFor();
    await shot('run-detail');

    await calls.getByRole('link').first().click();
    const parent = page.getByRole('region', { name: 'Parent run' });
    await parent.getByText('echo-repo').waitFor();
    await parent.getByRole('link', { name: 'Open the run' }).click();
    await page.getByRole('heading', { name: 'echo-repo' }).waitFor();
  });

  it('pauses, starts and triggers a sync, and the status follows', async () => {
    // autoStart: the connection's schedule ran the sync once; wait for it to end.
    await expect.poll(async () => (await syncRuns()).map((run) => run.state)).toEqual(['succeeded']);
    await go('#/syncs?integration=github&connection=gh-1');
    const row = page.getByRole('table', { name: 'Syncs' }).getByRole('row').filter({ hasText: 'issues' });
    await row.getByText('SUCCESS').waitFor();
    await row.getByRole('button', { name: 'Pause' }).click();
    await row.getByText('PAUSED').waitFor();
    const paused = await patchbay.request('GET', '/sync/status?syncs=issues&provider_config_key=github&connection_id=gh-1');
    expect(paused.json.syncs[0].status).toBe('PAUSED');
    await shot('syncs-paused');
    await row.getByRole('button', { name: 'Start' }).click();
    await row.getByText('SUCCESS').waitFor();
    // Start resumes the schedule with a run at once (the scheduler queues it on its next tick, so
    // wait for it to exist, then to end, before counting).
    const settled = async () => (await syncRuns()).every((run) => run.state === 'succeeded');
    await expect.poll(async () => (await syncRuns()).length).toBe(2);
    await expect.poll(settled).toBe(true);
    const before = (await syncRuns()).length;

    await row.getByRole('button', { name: 'Trigger with reset' }).click();
    await page.getByRole('status').filter({ hasText: 'Triggered issues with a reset.' }).waitFor();
    await expect.poll(async () => (await syncRuns()).length).toBe(before + 1);
    await expect.poll(settled).toBe(true);
    await row.getByText('SUCCESS').waitFor();
    await shot('syncs');
  });

  it("browses a model's records page by page and opens one as JSON", async () => {
    await go('#/syncs?integration=github&connection=gh-1');
    await page.getByRole('table', { name: 'Syncs' }).getByRole('link', { name: 'GithubIssue' }).click();
    const table = page.getByRole('table', { name: 'Records' });
    await table.getByRole('button', { name: '1', exact: true }).waitFor();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(50);
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(ISSUES);
    await table.getByRole('button', { name: '7', exact: true }).click();
    const json = page.getByLabel('Record 7');
    await json.waitFor();
    expect(JSON.parse((await json.textContent()) ?? '')).toMatchObject({ id: '7', title: 'Issue number 7' });
    await shot('records');
    expect(cspViolations).toEqual([]);
  });
});
