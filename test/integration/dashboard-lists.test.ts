// The dashboard's longer lists and live views, over HTTP and in Chromium: a log search matching
// nothing answers after a bounded read and continues from where it stopped ("searched back to…");
// GET /integrations and GET /functions page on the server (and answer as before without paging
// parameters), and the integration filters offer every integration, past one page; the Syncs page
// follows activity on the log stream instead of polling, and sets a connection's sync frequency;
// the Logs and Syncs pages show what was stored while their stream was on its way (held in the
// browser until it was); a running run's page follows it without a reload; a connection's end
// user and tags are edited. Screenshots go to test/artifacts/ (not committed).
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogWriter } from '../../server/logs/writer.js';
import { LOG_SEARCH_SCAN_ROWS } from '../../server/routes/logs.js';
import { createPool, type LogOperation } from '../../server/store/index.js';
import { createLogStore } from '../../server/store/logs.js';
import { launchBrowser, type TestBrowser } from '../harness/browser.js';
import { DASHBOARD_ISSUES_SYNC, writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';
import { syntheticCall } from '../harness/log-operations.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '..', 'artifacts');
const TOKEN = 'gho_ListsMustNotShowThis_2718';
// Generous: a shared 2-core machine; these bound a hang, they claim nothing about speed.
const TEST_TIMEOUT_MS = 90_000;
// More than five answers' worth of reading (the Logs page continues by itself five times).
const SEEDED = 6 * LOG_SEARCH_SCAN_ROWS + 5000;
const EXTRA_INTEGRATIONS = 52;
// Past GET /integrations' largest page (500): the filters must read more than one.
const MANY_INTEGRATIONS = 520;

const FUNCTIONS = {
  // Three calls, the last held by the upstream until the test lets it go: a run that is running.
  'github/actions/crawl.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Crawls three pages',
      exec: async (nango) => {
        for (let i = 0; i < 3; i++) {
          await nango.log('step ' + i);
          await nango.get({ endpoint: '/slow/' + i });
        }
        return { pages: 3 };
      },
    });`,
  'github/syncs/issues.ts': DASHBOARD_ISSUES_SYNC,
};

/** Operations of two integrations: every chunk holds failed calls, but never a failed 'quiet' one except the oldest. */
async function seedLogs(databaseUrl: string): Promise<LogOperation> {
  const pool = createPool({ connectionString: databaseUrl, max: 2 });
  const writer = createLogWriter({ store: createLogStore(pool), logger: pino({ level: 'silent' }) });
  writer.start();
  const start = Date.now() - 6 * 3600_000;
  let needle: LogOperation | undefined;
  for (let i = 0; i < SEEDED; i++) {
    const startedAt = new Date(start + i * 300);
    const noisy = i % 2 === 1;
    const failed = i === 0 || (noisy && i % 10 === 1);
    const op = syntheticCall({ integrationKey: noisy ? 'noisy' : 'quiet', connectionId: `seed-${i % 50}`, n: i, failed, startedAt, durationMs: 20, host: 'api.example.test' });
    if (i === 0) needle = op;
    writer.write(op);
    if (i % 5000 === 4999) await writer.flush();
  }
  await writer.flush();
  await writer.stop();
  await pool.end();
  return needle as LogOperation;
}

describe('dashboard lists and live views', { timeout: TEST_TIMEOUT_MS }, () => {
  let upstream: Upstream;
  let functions: FunctionsFolder;
  let patchbay: TestPatchbay;
  let browser: TestBrowser;
  let page: Page;
  let needle: LogOperation;
  let releaseLastPage: () => void = () => undefined;
  const cspViolations: string[] = [];

  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
  const go = (hash: string) => page.goto(`${patchbay.url}/${hash}`);
  const isStream = (url: URL) => url.pathname === '/logs/stream';

  /**
   * Stores `op` and returns once a stream of its connection, opened here, has received it: the
   * server has read its announcement, so a stream that subscribes after this never gets it.
   */
  const storeUnseen = async (op: LogOperation) => {
    const controller = new AbortController();
    try {
      const response = await fetch(`${patchbay.url}/logs/stream?connection_id=${op.connectionId}`, { headers: { authorization: `Bearer ${patchbay.secretKey}` }, signal: controller.signal });
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      patchbay.system.logs.write(op);
      await patchbay.system.logs.flush();
      for (let text = ''; !text.includes(op.id); ) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended before the operation arrived');
        text += decoder.decode(value, { stream: true });
      }
    } finally {
      controller.abort();
    }
  };

  /**
   * Holds the page's first request to GET /logs/stream until what the page asked of `readPath`
   * before it has been answered and `between()` has run, then lets it through: whatever
   * `between()` stores lands after any read made before the subscription and before it.
   */
  const holdFirstStream = async (readPath: string, between: () => Promise<void>) => {
    const reads: Promise<unknown>[] = [];
    const onRequest = (request: Request) => {
      if (new URL(request.url()).pathname === readPath) reads.push(request.response());
    };
    page.on('request', onRequest);
    let held = false;
    await page.route(isStream, async (route) => {
      if (!held) {
        held = true;
        await Promise.all(reads);
        await between();
      }
      await route.continue();
    });
    return async () => {
      page.off('request', onRequest);
      await page.unroute(isStream);
    };
  };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    upstream = await startUpstream();
    let held: Promise<void> = Promise.resolve();
    upstream.setFallback(async (req, res) => {
      if (req.url === '/slow/2') await held;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/issues') return void res.end(JSON.stringify([{ id: 1, title: 'One' }]));
      res.end(JSON.stringify({ path: req.url }));
    });
    held = new Promise((resolve) => (releaseLastPage = resolve));
    functions = await writeFunctions(FUNCTIONS);
    patchbay = await startPatchbay({ label: 'dashboard-lists', functionsDir: functions.dir, providers: { github: { proxy: { base_url: upstream.url } } } });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
    const connection = await patchbay.request('POST', '/connections', { body: { provider_config_key: 'github', connection_id: 'gh-1', credentials: { type: 'OAUTH2', access_token: TOKEN } } });
    expect(connection.status).toBe(201);
    for (let i = 0; i < EXTRA_INTEGRATIONS; i++) {
      const res = await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: `extra-${String(i).padStart(2, '0')}` } });
      expect(res.status).toBe(200);
    }
    needle = await seedLogs(patchbay.database.url);

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
    releaseLastPage();
    await browser?.stop();
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  describe('a log search matching nothing', () => {
    it('answers after a bounded read with how far back it searched, and its cursor continues to the one old match', async () => {
      const route = '/logs?provider_config_key=quiet&state=failed&limit=50';
      const first = await patchbay.request('GET', route);
      expect(first.status).toBe(200);
      expect(first.json.data).toEqual([]);
      expect(first.json.searched_back_to).toEqual(expect.any(String));
      expect(first.json.next_cursor).toEqual(expect.any(String));
      const stops = [first.json.searched_back_to as string];
      let answer = first;
      while (answer.json.searched_back_to !== null) {
        answer = await patchbay.request('GET', `${route}&cursor=${answer.json.next_cursor}`);
        expect(answer.status).toBe(200);
        if (answer.json.searched_back_to !== null) {
          expect(answer.json.data).toEqual([]);
          expect(Date.parse(answer.json.searched_back_to)).toBeLessThan(Date.parse(stops.at(-1) as string));
          stops.push(answer.json.searched_back_to);
        }
        expect(stops.length).toBeLessThan(20);
      }
      // Each answer read about LOG_SEARCH_SCAN_ROWS operations: SEEDED of them take six or seven.
      expect(stops.length).toBeGreaterThanOrEqual(6);
      expect([answer.json.data.map((op: { id: string }) => op.id), answer.json.next_cursor]).toEqual([[needle.id], null]);
      // A search that fills its page answers as before, with no searched_back_to.
      const busy = await patchbay.request('GET', '/logs?provider_config_key=noisy&limit=5');
      expect([busy.json.data.length, busy.json.searched_back_to, typeof busy.json.next_cursor]).toEqual([5, null, 'string']);
    });

    it('shows "searched back to" on the Logs page, and "Search older" goes on until the match', async () => {
      await go('#/logs?integration=quiet&state=failed');
      const progress = page.getByRole('status', { name: 'Search progress' });
      await progress.getByText(/^Searched back to .+, no match yet\.$/).waitFor();
      expect(await page.getByRole('table', { name: 'Log operations' }).locator('tbody tr').count()).toBe(0);
      await shot('logs-searched');
      await page.getByRole('button', { name: 'Search older' }).click();
      const row = page.getByRole('table', { name: 'Log operations' }).getByRole('row').filter({ hasText: '/items/0' });
      await row.waitFor();
      await expect.poll(() => progress.count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Search older' }).count()).toBe(0);
    });
  });

  describe('integrations and functions, paged on the server', () => {
    it('GET /integrations answers the whole list without paging parameters, and pages with limit and cursor', async () => {
      const all = await patchbay.request('GET', '/integrations');
      expect(Object.keys(all.json)).toEqual(['data']);
      expect(all.json.data).toHaveLength(EXTRA_INTEGRATIONS + 1);
      const keys: string[] = [];
      let cursor: string | null = null;
      do {
        const res: Awaited<ReturnType<TestPatchbay['request']>> = await patchbay.request('GET', `/integrations?limit=20${cursor === null ? '' : `&cursor=${cursor}`}`);
        expect(res.status).toBe(200);
        expect(res.json.data.length).toBeLessThanOrEqual(20);
        keys.push(...res.json.data.map((i: { unique_key: string }) => i.unique_key));
        cursor = res.json.next_cursor;
      } while (cursor !== null);
      expect(keys).toEqual(all.json.data.map((i: { unique_key: string }) => i.unique_key));
      const forged = await patchbay.request('GET', `/integrations?cursor=${Buffer.from('[0]').toString('base64url')}`);
      expect([forged.status, forged.json.error.code]).toEqual([400, 'invalid_query_params']);
      expect((await patchbay.request('GET', '/integrations?limit=0')).status).toBe(400);
    });

    it('the Integrations page shows a page and loads more on request', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations' }).click();
      const rows = page.getByRole('table', { name: 'Integrations' }).locator('tbody tr');
      await expect.poll(() => rows.count()).toBe(50);
      await page.getByRole('button', { name: 'Load more' }).click();
      await expect.poll(() => rows.count()).toBe(EXTRA_INTEGRATIONS + 1);
      await page.getByRole('table', { name: 'Integrations' }).getByRole('link', { name: `extra-${EXTRA_INTEGRATIONS - 1}` }).waitFor();
      expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
      await shot('integrations-more');
    });

    it('GET /functions answers as before without paging parameters, and pages, filtered by integration and kind', async () => {
      const all = await patchbay.request('GET', '/functions');
      expect(Object.keys(all.json).sort()).toEqual(['errors', 'functions']);
      expect(all.json.functions.map((f: { name: string }) => f.name)).toEqual(['crawl', 'issues']);
      const first = await patchbay.request('GET', '/functions?limit=1');
      expect([first.json.functions.map((f: { name: string }) => f.name), first.json.errors, typeof first.json.next_cursor]).toEqual([['crawl'], [], 'string']);
      const second = await patchbay.request('GET', `/functions?limit=1&cursor=${first.json.next_cursor}`);
      expect([second.json.functions.map((f: { name: string }) => f.name), second.json.next_cursor]).toEqual([['issues'], null]);
      const syncs = await patchbay.request('GET', '/functions?kind=sync&integration_key=github');
      expect(syncs.json.functions.map((f: { name: string }) => f.name)).toEqual(['issues']);
      expect((await patchbay.request('GET', '/functions?cursor=nope')).status).toBe(400);
    });

    it('the Connections and Syncs filters offer every integration, past one page of GET /integrations', async () => {
      const keys = Array.from({ length: MANY_INTEGRATIONS - (EXTRA_INTEGRATIONS + 1) }, (_, i) => `many-${String(i).padStart(3, '0')}`);
      for (let i = 0; i < keys.length; i += 20) {
        const answers = await Promise.all(keys.slice(i, i + 20).map((key) => patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: key } })));
        expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
      }
      // Each select: every integration and its first choice ("all", "choose…").
      await go('#/connections');
      await expect.poll(() => page.getByLabel('Integration').locator('option').count(), { timeout: 15_000 }).toBe(MANY_INTEGRATIONS + 1);
      await go('#/syncs');
      await expect.poll(() => page.getByLabel('Integration').locator('option').count(), { timeout: 15_000 }).toBe(MANY_INTEGRATIONS + 1);
      expect(await page.getByRole('note').count()).toBe(0);
    });
  });

  it('the Logs page shows an operation stored between its first read and its stream, without a reload', async () => {
    await go('');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const call = (n: number) => syntheticCall({ integrationKey: 'race', connectionId: 'race-logs', n, failed: false, startedAt: new Date(), durationMs: 5, host: 'race.example.test' });
    // Stored after any read the page made before subscribing, and announced before it subscribes.
    const release = await holdFirstStream('/logs', () => storeUnseen(call(1)));
    try {
      await go('#/logs?connection=race-logs');
      const navigations: string[] = [];
      page.on('framenavigated', (frame) => navigations.push(frame.url()));
      const table = page.getByRole('table', { name: 'Log operations' });
      await table.getByText('race.example.test/items/1').waitFor();
      await page.locator('.page-head').getByRole('status').getByText('Live').waitFor();
      // One stored once the stream is open arrives on it.
      patchbay.system.logs.write(call(2));
      await patchbay.system.logs.flush();
      await table.getByText('race.example.test/items/2').waitFor();
      expect(await table.locator('tbody tr').count()).toBe(2);
      expect(navigations).toEqual([]);
    } finally {
      await release();
    }
  });

  describe('filter forms', () => {
    /**
     * Opens `hash` with the page's requests to `apiPath` held, runs `choose`, then lets them through
     * and waits for `rendered`: their answers render the page again over whatever was chosen.
     */
    const chooseWhileLoading = async (apiPath: string, hash: string, choose: () => Promise<void>, rendered: () => Promise<void>) => {
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      const matches = (url: URL) => url.pathname === apiPath;
      await page.route(matches, async (route) => {
        await held;
        await route.continue();
      });
      try {
        await go(hash);
        await choose();
        release();
        await rendered();
      } finally {
        await page.unroute(matches);
      }
    };

    // [page, its list's API path, the address opened, the fields set while the list loads, what shows once it rendered, the address after Apply]
    const cases: [string, string, string, [label: string, value: string][], () => Promise<void>, string][] = [
      ['Runs', '/runs', '#/runs?function=no-such-function', [['Kind', 'action'], ['State', 'failed']], () => page.getByText('No run matches these filters.').waitFor(), '#/runs?function=no-such-function&kind=action&state=failed'],
      [
        'Logs',
        '/logs',
        '#/logs?integration=quiet&state=failed',
        [['Type', 'proxy'], ['Connection', 'c-typed']],
        () => page.getByRole('status', { name: 'Search progress' }).getByText(/^Searched back to .+, no match yet\.$/).waitFor(),
        '#/logs?integration=quiet&connection=c-typed&type=proxy&state=failed',
      ],
    ];
    it.each(cases)('keep what was chosen or typed on the %s page while its list was loading', async (_name, apiPath, hash, fields, rendered, applied) => {
      const set = async () => {
        for (const [label, value] of fields) {
          const field = page.getByLabel(label);
          if ((await field.evaluate((element) => element.tagName)) === 'SELECT') await field.selectOption(value);
          else await field.fill(value);
        }
      };
      await chooseWhileLoading(apiPath, hash, set, rendered);
      const values = await Promise.all(fields.map(([label]) => page.getByLabel(label).inputValue()));
      expect(values).toEqual(fields.map(([, value]) => value));
      await page.getByRole('button', { name: 'Apply' }).click();
      await expect.poll(() => new URL(page.url()).hash).toBe(applied);
    });
  });

  describe('the Syncs page', () => {
    const statusOf = async () =>
      (await patchbay.request('GET', '/sync/status?syncs=issues&provider_config_key=github&connection_id=gh-1')).json.syncs[0] as { status: string; frequency: string | null; frequency_ms: number };

    it('reads the status once and again on the connection activity, without polling', async () => {
      // autoStart: the schedule ran the sync once; wait for it to end.
      await expect.poll(async () => (await statusOf())?.status).toBe('SUCCESS');
      const asked: string[] = [];
      const listener = (request: { url(): string }) => {
        if (request.url().includes('/sync/status')) asked.push(request.url());
      };
      page.on('request', listener);
      await go('#/syncs?integration=github&connection=gh-1');
      const row = page.getByRole('table', { name: 'Syncs' }).getByRole('row').filter({ hasText: 'issues' });
      await row.getByText('SUCCESS').waitFor();
      await page.waitForTimeout(4500);
      // Idle: the first read and nothing since (the old page asked every 2 s).
      expect(asked).toHaveLength(1);
      // A run made elsewhere (the API, not the page): its calls and its end reach the page.
      const runs = async () => (await patchbay.request('GET', '/runs?kind=sync&connection_id=gh-1')).json.data as { state: string }[];
      const before = (await runs()).length;
      expect((await patchbay.request('POST', '/sync/trigger', { body: { syncs: ['issues'], provider_config_key: 'github', connection_id: 'gh-1' } })).status).toBe(200);
      await expect.poll(async () => (await runs()).length).toBe(before + 1);
      await expect.poll(async () => (await runs())[0]?.state).toBe('succeeded');
      // Read again within a second or so of the run's operations being stored (not at once: once per burst).
      await expect.poll(() => asked.length, { timeout: 10_000 }).toBeGreaterThan(1);
      await row.getByText('SUCCESS').waitFor();
      page.off('request', listener);
    });

    it("overrides a connection's sync frequency, refuses one too frequent, and goes back to the deployed one", async () => {
      const row = page.getByRole('table', { name: 'Syncs' }).getByRole('row').filter({ hasText: 'issues' });
      await row.getByText('every day').waitFor();
      await row.getByRole('button', { name: 'Change the frequency of issues' }).click();
      const form = row.getByRole('form', { name: 'Frequency of issues' });
      await form.getByLabel('Frequency').fill('every 5 seconds');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.getByRole('alert').getByText(/more often than every 30 seconds/).waitFor();
      await form.getByLabel('Frequency').fill('every 2 hours');
      await form.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('status').filter({ hasText: 'issues now runs every 2 hours.' }).waitFor();
      await row.getByText('override').waitFor();
      expect(await statusOf()).toMatchObject({ frequency: 'every 2 hours', frequency_ms: 7_200_000 });
      await shot('syncs-frequency');
      await row.getByRole('button', { name: 'Change the frequency of issues' }).click();
      await form.getByRole('button', { name: 'Use deployed' }).click();
      await page.getByRole('status').filter({ hasText: 'issues runs at its deployed frequency again.' }).waitFor();
      expect(await statusOf()).toMatchObject({ frequency: null, frequency_ms: 86_400_000 });
    });

    it('shows a change whose activity was stored between its first read and its stream, without a reload', async () => {
      await go('');
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      const frequency = (value: string | null) =>
        patchbay.request('PUT', '/sync/update-connection-frequency', { body: { provider_config_key: 'github', connection_id: 'gh-1', sync_name: 'issues', frequency: value } });
      // The status changes after any read the page made before subscribing, and the connection's
      // activity is stored and announced before it subscribes.
      const release = await holdFirstStream('/sync/status', async () => {
        expect((await frequency('every 3 hours')).status).toBe(200);
        await storeUnseen(syntheticCall({ integrationKey: 'github', connectionId: 'gh-1', n: 1, failed: false, startedAt: new Date(), durationMs: 5 }));
      });
      try {
        await go('#/syncs?integration=github&connection=gh-1');
        const navigations: string[] = [];
        page.on('framenavigated', (frame) => navigations.push(frame.url()));
        const row = page.getByRole('table', { name: 'Syncs' }).getByRole('row').filter({ hasText: 'issues' });
        await row.getByText('every 3 hours').waitFor();
        await row.getByText('override').waitFor();
        expect(navigations).toEqual([]);
      } finally {
        await release();
        expect((await frequency(null)).status).toBe(200);
      }
    });
  });

  it("follows a running run on its page: state, calls as they are made, and its log lines once it ends, without a reload", async () => {
    const trigger = await patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1', 'x-async': 'true' },
      body: { action_name: 'crawl', input: {} },
    });
    expect(trigger.status).toBe(202);
    const runId = trigger.json.id as string;
    await go(`#/runs/${runId}`);
    await page.getByRole('heading', { name: 'crawl' }).waitFor();
    const calls = page.getByRole('table', { name: 'Calls made by this run' });
    // The third call is held upstream: the first two show while the run is still running.
    await calls.getByText('/slow/1').waitFor();
    await page.locator('.page-head').getByText('running', { exact: true }).waitFor();
    expect((await patchbay.request('GET', `/runs/${runId}`)).json.data.state).toBe('running');
    await shot('run-live');
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    releaseLastPage();
    await page.locator('.page-head').getByText('succeeded', { exact: true }).waitFor();
    await calls.getByText('/slow/2').waitFor();
    await page.locator('pre.log-lines').getByText(/step 2/).waitFor();
    expect(JSON.parse((await page.getByLabel('Output').textContent()) ?? '')).toEqual({ pages: 3 });
    expect(navigations).toEqual([]);
  });

  it("edits a connection's end user and tags, and the API reads them back", async () => {
    await go('#/connections/github/gh-1');
    await page.getByRole('heading', { name: 'gh-1' }).waitFor();
    const endUser = page.getByRole('form', { name: 'End user' });
    await endUser.getByLabel('End user id').fill('user-42');
    await endUser.getByLabel('Name').fill('Ada Lovelace');
    await endUser.getByLabel('Email').fill('ada@example.com');
    await endUser.getByRole('button', { name: 'Save end user' }).click();
    await endUser.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    const tagsForm = page.locator('form', { has: page.getByLabel('Tags (JSON)') });
    await tagsForm.getByLabel('Tags (JSON)').fill('{"plan": 5}');
    await tagsForm.getByRole('button', { name: 'Save tags' }).click();
    await tagsForm.getByRole('alert').waitFor();
    await tagsForm.getByLabel('Tags (JSON)').fill('{"plan": "pro", "region": "eu"}');
    await tagsForm.getByRole('button', { name: 'Save tags' }).click();
    await tagsForm.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    await page.getByText('plan: pro').waitFor();
    const summary = await patchbay.request('GET', '/connections/gh-1/summary?provider_config_key=github');
    expect(summary.json.end_user).toMatchObject({ id: 'user-42', display_name: 'Ada Lovelace', email: 'ada@example.com' });
    expect(summary.json.tags).toEqual({ plan: 'pro', region: 'eu' });
    expect(await page.content()).not.toContain(TOKEN);
    await shot('connection-edit');
  });

  it('the Functions page shows a page of the deployed set and loads more on request', async () => {
    // A deployed set larger than a page: trivial bundles straight through the deploy route.
    const code = 'void 0;';
    const hash = createHash('sha256').update(code).digest('hex');
    const many = Array.from({ length: 60 }, (_, i) => ({
      integration_key: 'github',
      kind: 'action',
      name: `noop-${String(i).padStart(2, '0')}`,
      source_path: `github/actions/noop-${i}.ts`,
      hash,
      code,
      config: { description: 'does nothing' },
    }));
    expect((await patchbay.request('POST', '/functions/deploy', { body: { functions: many } })).status).toBe(200);
    await go('#/functions');
    const rows = page.getByRole('table', { name: 'Functions' }).locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(50);
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => rows.count()).toBe(60);
    await page.getByRole('table', { name: 'Functions' }).getByText('noop-59').waitFor();
    expect(cspViolations).toEqual([]);
  });
});
