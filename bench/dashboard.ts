// npm run bench:dashboard — the dashboard's three numbers for issue 15's closing note:
//   1. time to first page ready in Chromium (a fresh browser context, nothing cached): the login
//      page, and the overview of a signed-in session, from navigation to the heading on screen
//      (target < 1 s);
//   2. script bytes loaded by that page (target well under 400 KB);
//   3. the logs list's time over HTTP with 100,000 log operations stored (GET /logs newest first,
//      filtered by integration, state and time, and the next page by cursor).
//
// `patchbay start` (compiled, embedded PostgreSQL); the 100,000 operations are written into its
// database by a LogWriter in this process, the way every Patchbay process stores them.
import pino from 'pino';
import type { Locator, Page } from 'playwright-core';
import { request } from 'undici';
import { launchBrowser } from '../test/harness/browser.js';
import { createLogWriter } from '../server/logs/writer.js';
import { createLogStore } from '../server/store/logs.js';
import { createPool } from '../server/store/index.js';
import { embeddedDatabaseUrl } from './lib/database.js';
import { round } from './lib/load.js';
import { BenchSession, machineInfo, positiveNumber, type Patchbay } from './lib/session.js';
import { syntheticCall } from '../test/harness/log-operations.js';

const OPERATIONS = Math.round(positiveNumber('BENCH_DASHBOARD_OPERATIONS', 100_000));
const PAGE_LOADS = Math.round(positiveNumber('BENCH_DASHBOARD_PAGE_LOADS', 7));
const QUERY_REPEATS = Math.round(positiveNumber('BENCH_DASHBOARD_QUERY_REPEATS', 30));
const INTEGRATIONS = ['github', 'slack', 'notion', 'stripe', 'hubspot'];
// The seeded operations span the last day, a call every ~0.9 s at 100,000.
const SPAN_MS = 24 * 3600_000;

const session = new BenchSession('dashboard');

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const summary = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50), 1), p90: round(percentile(sorted, 90), 1), max: round(sorted.at(-1) ?? NaN, 1) };
};

async function seedLogs(patchbay: Patchbay): Promise<void> {
  const pool = createPool({ connectionString: await embeddedDatabaseUrl(patchbay.dataDir) });
  const writer = createLogWriter({ store: createLogStore(pool), logger: pino({ level: 'warn' }) });
  writer.start();
  const start = Date.now() - SPAN_MS;
  for (let i = 0; i < OPERATIONS; i++) {
    const startedAt = new Date(start + Math.floor((i / OPERATIONS) * SPAN_MS));
    const failed = i % 10 === 0;
    const integrationKey = INTEGRATIONS[i % INTEGRATIONS.length] as string;
    const operation = syntheticCall({ integrationKey, connectionId: `user-${i % 500}`, n: i, failed, startedAt, durationMs: 42 });
    writer.write(operation);
    if (i % 5000 === 4999) await writer.flush();
  }
  await writer.flush();
  await writer.stop();
  await pool.end();
}

async function timeLogs(patchbay: Patchbay) {
  const get = async (route: string) => {
    const started = performance.now();
    const response = await request(`${patchbay.url}${route}`, { headers: { authorization: `Bearer ${patchbay.secretKey}` } });
    const body = (await response.body.json()) as { data: unknown[]; next_cursor: string | null; searched_back_to?: string | null };
    const ms = performance.now() - started;
    if (response.statusCode !== 200) throw new Error(`${route} answered ${response.statusCode}`);
    return { ms, body };
  };
  const hourAgo = new Date(Date.now() - 3600_000).toISOString();
  const sixHoursAgo = new Date(Date.now() - 6 * 3600_000).toISOString();
  const queries: Record<string, string> = {
    newest: '/logs?limit=50',
    integration: '/logs?limit=50&provider_config_key=slack',
    failed: '/logs?limit=50&state=failed',
    integrationFailed: '/logs?limit=50&provider_config_key=github&state=failed',
    // Seeded failures are all github's: this filter matches nothing. It read every chunk (607 ms
    // over 100,000 operations); it now answers after a bounded read with `searched_back_to`.
    noMatch: '/logs?limit=50&provider_config_key=notion&state=failed',
    lastHour: `/logs?limit=50&from=${encodeURIComponent(hourAgo)}`,
    window: `/logs?limit=50&provider_config_key=github&from=${encodeURIComponent(sixHoursAgo)}&to=${encodeURIComponent(hourAgo)}`,
  };
  const results: Record<string, { rows: number; searchedBackTo: string | null; firstPageMs: ReturnType<typeof summary>; nextPageMs: ReturnType<typeof summary> }> = {};
  for (const [name, route] of Object.entries(queries)) {
    const first: number[] = [];
    const next: number[] = [];
    let rows = 0;
    let searchedBackTo: string | null = null;
    for (let i = 0; i < QUERY_REPEATS; i++) {
      const page = await get(route);
      first.push(page.ms);
      rows = page.body.data.length;
      searchedBackTo = page.body.searched_back_to ?? null;
      if (page.body.next_cursor !== null) next.push((await get(`${route}&cursor=${page.body.next_cursor}`)).ms);
    }
    results[name] = { rows, searchedBackTo, firstPageMs: summary(first.slice(1)), nextPageMs: summary(next.slice(1)) };
    session.log(
      `GET ${route}: ${rows} rows${searchedBackTo === null ? '' : `, searched back to ${searchedBackTo}`}, p50 ${results[name].firstPageMs.p50} ms (next page ${results[name].nextPageMs.p50} ms)`,
    );
  }
  return results;
}

/** One cold load in a fresh context: ms to `ready` visible, and the script bytes fetched. */
async function loadOnce(newPage: () => Promise<Page>, url: string, ready: (page: Page) => Locator) {
  const page = await newPage();
  let scriptBytes = 0;
  let allBytes = 0;
  const pending: Promise<void>[] = [];
  page.on('response', (response) => {
    pending.push(
      response.body().then(
        (body) => {
          allBytes += body.length;
          if (response.request().resourceType() === 'script') scriptBytes += body.length;
        },
        () => undefined,
      ),
    );
  });
  const started = performance.now();
  await page.goto(url);
  await ready(page).waitFor();
  const ms = performance.now() - started;
  // Where the time went, as the page saw it (ms from navigation start).
  const timing = (await page.evaluate(`(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const resources = performance.getEntriesByType('resource');
    return { htmlMs: nav.responseEnd, domContentLoadedMs: nav.domContentLoadedEventEnd, requests: resources.length, lastResponseMs: Math.max(0, ...resources.map((r) => r.responseEnd)) };
  })()`)) as { htmlMs: number; domContentLoadedMs: number; requests: number; lastResponseMs: number };
  await Promise.all(pending);
  await page.close();
  return { ms, scriptBytes, allBytes, timing };
}

async function timePages(patchbay: Patchbay) {
  const browser = await launchBrowser();
  session.onCleanup(() => browser.stop());
  // The session cookie of a signed-in user, set in each fresh context before the page loads.
  const login = await request(`${patchbay.url}/dashboard/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ secret_key: patchbay.secretKey }),
  });
  await login.body.dump();
  const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
  const [name, value] = [cookie.slice(0, cookie.indexOf('=')), cookie.slice(cookie.indexOf('=') + 1)];

  const loginPage: Awaited<ReturnType<typeof loadOnce>>[] = [];
  const overview: Awaited<ReturnType<typeof loadOnce>>[] = [];
  for (let i = 0; i < PAGE_LOADS + 1; i++) {
    loginPage.push(await loadOnce(async () => (await browser.newContext()).newPage(), `${patchbay.url}/`, (page) => page.getByLabel('Secret key')));
    overview.push(
      await loadOnce(async () => {
        const context = await browser.newContext();
        await context.addCookies([{ name, value, url: patchbay.url }]);
        return context.newPage();
      }, `${patchbay.url}/#/overview`, (page) => page.getByRole('link', { name: /^Proxy calls/ })),
    );
  }
  // The first load of each warms Patchbay (and the browser's process), not the page: left out.
  return {
    loginPageReadyMs: summary(loginPage.slice(1).map((s) => s.ms)),
    overviewReadyMs: summary(overview.slice(1).map((s) => s.ms)),
    overviewTiming: overview.at(-1)?.timing,
    scriptBytes: overview.at(-1)?.scriptBytes ?? NaN,
    allBytes: overview.at(-1)?.allBytes ?? NaN,
  };
}

await session.run(async () => {
  const patchbay = await session.startPatchbay({ providers: {} });
  session.log(`writing ${OPERATIONS} log operations`);
  const seeding = performance.now();
  await seedLogs(patchbay);
  session.log(`written in ${round((performance.now() - seeding) / 1000, 1)} s`);
  const pages = await timePages(patchbay);
  session.log(`first page ready: login ${pages.loginPageReadyMs.p50} ms, overview ${pages.overviewReadyMs.p50} ms (p50); ${pages.scriptBytes} bytes of script`);
  const logs = await timeLogs(patchbay);
  return {
    date: new Date().toISOString(),
    machine: machineInfo(),
    operationsStored: OPERATIONS,
    pages,
    logs,
    target: { firstPageReadyMs: '< 1000', scriptBytes: '< 400000', ok: pages.overviewReadyMs.p50 < 1000 && pages.scriptBytes < 400_000 },
  };
});
