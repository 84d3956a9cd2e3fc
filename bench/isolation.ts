// npm run bench:isolation — does `patchbay start` keep serving HTTP while functions misbehave?
// On a `patchbay start` (embedded PostgreSQL), four runs of one action are triggered at once
// (POST /action/trigger, X-Async: true) and, until all four have ended, GET /health and a
// GET /proxy call to a loopback upstream are sent back to back; their latencies are reported.
//
// Scenarios (each after an idle baseline of the same two calls):
//   bomb     the security finding: `new URLSearchParams('a=b&'.repeat(5_000_000))`
//   hammer   a tight loop of synchronous host services (URL and query parsing, base64) for up to
//            3 s of CPU (limits.cpuMs), which the run must be charged for
// It also reports Patchbay's RSS when idle (after start, and at the end) and how each run ended.
// BENCH_PATCHBAY=source runs bin/patchbay.ts through tsx (as `npm start`), else the dist/ build.
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { round } from './lib/load.js';
import { rssMb } from './lib/measure.js';
import { addApiKeyConnection, api, BenchSession, machineInfo, positiveNumber, type Patchbay } from './lib/session.js';

const RUNS = 4;
const INTEGRATION = 'bench';
const CONNECTION_ID = 'c1';
const API_KEY = 'k-1';
/** How long the baseline samples idle calls. */
const BASELINE_MS = positiveNumber('BENCH_BASELINE_MS', 2000);
/** A scenario still running after this long is reported as such (its runs keep going). */
const SCENARIO_MAX_MS = positiveNumber('BENCH_SCENARIO_MAX_MS', 120_000);
/** Settling time before an idle RSS reading. */
const SETTLE_MS = positiveNumber('BENCH_SETTLE_MS', 5000);

const session = new BenchSession('isolation');
const log = (message: string) => session.log(message);

const FUNCTIONS: Record<string, string> = {
  bomb: `import { createAction } from 'patchbay';
export default createAction({
  description: 'The security finding: a 20 MB query string parsed by the host',
  limits: { timeoutMs: 60000 },
  exec: async () => {
    const params = new URLSearchParams('a=b&'.repeat(5_000_000));
    return { size: params.size };
  },
});
`,
  hammer: `import { createAction } from 'patchbay';
export default createAction({
  description: 'Synchronous host services in a tight loop',
  limits: { cpuMs: 3000, timeoutMs: 30000 },
  exec: async () => {
    const query = 'a=b&'.repeat(9_000);
    const text = 'x'.repeat(1_000_000);
    let n = 0;
    while (true) {
      n += new URLSearchParams(query).size;
      n += btoa(text).length;
      n += new URL('https://example.com/' + 'p/'.repeat(10_000)).pathname.length;
    }
  },
});
`,
};

interface Sample {
  ms: number;
  status: number;
}

function stats(samples: Sample[]) {
  const sorted = samples.map((sample) => sample.ms).sort((a, b) => a - b);
  const at = (q: number) => (sorted.length === 0 ? null : round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number, 1));
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1), non2xx: samples.filter((sample) => sample.status < 200 || sample.status >= 300).length };
}

async function timed(patchbay: Patchbay, route: string, headers: Record<string, string> = {}): Promise<Sample> {
  const started = performance.now();
  try {
    const response = await request(`${patchbay.url}${route}`, { headers: { authorization: `Bearer ${patchbay.secretKey}`, ...headers } });
    await response.body.dump();
    return { ms: performance.now() - started, status: response.statusCode };
  } catch (error) {
    // A keep-alive socket the server closed while its event loop was blocked: counted, not fatal.
    log(`${route}: ${error instanceof Error ? error.message : String(error)}`);
    return { ms: performance.now() - started, status: 0 };
  }
}

const PROXY_HEADERS = { 'provider-config-key': INTEGRATION, 'connection-id': CONNECTION_ID };

/** /health and /proxy, back to back, until `done()`; the first latency of each is reported apart. */
async function sampleUntil(patchbay: Patchbay, done: () => boolean) {
  const health: Sample[] = [];
  const proxy: Sample[] = [];
  while (!done()) {
    health.push(await timed(patchbay, '/health'));
    proxy.push(await timed(patchbay, '/proxy/items', PROXY_HEADERS));
  }
  return { health: { first: round(health[0]?.ms ?? Number.NaN, 1), ...stats(health) }, proxy: { first: round(proxy[0]?.ms ?? Number.NaN, 1), ...stats(proxy) } };
}

async function scenario(patchbay: Patchbay, action: string) {
  const ids: string[] = [];
  const triggered = performance.now();
  for (let index = 0; index < RUNS; index++) {
    const response = await request(`${patchbay.url}/action/trigger`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${patchbay.secretKey}`,
        'content-type': 'application/json',
        'provider-config-key': INTEGRATION,
        'connection-id': CONNECTION_ID,
        'x-async': 'true',
      },
      body: JSON.stringify({ action_name: action }),
    });
    const body = (await response.body.json()) as { id: string };
    if (response.statusCode !== 202) throw new Error(`trigger ${action} answered ${response.statusCode}`);
    ids.push(body.id);
  }
  const outcomes = new Map<string, { status: number; code: string; message: string | undefined; afterMs: number }>();
  let timedOut = false;
  const watching = (async () => {
    while (outcomes.size < ids.length && performance.now() - triggered < SCENARIO_MAX_MS) {
      for (const id of ids) {
        if (outcomes.has(id)) continue;
        try {
          const response = await request(`${patchbay.url}/action/${id}`, { headers: { authorization: `Bearer ${patchbay.secretKey}` } });
          const body = (await response.body.json()) as { error?: { code?: string; message?: string } };
          const code = body.error?.code ?? 'ok';
          if (code !== 'action_pending') outcomes.set(id, { status: response.statusCode, code, message: body.error?.message?.slice(0, 200), afterMs: round(performance.now() - triggered, 0) });
        } catch (error) {
          log(`GET /action/${id}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      await sleep(100);
    }
    timedOut = outcomes.size < ids.length;
  })();
  const latency = await sampleUntil(patchbay, () => outcomes.size === ids.length || timedOut);
  await watching;
  return { action, runs: [...outcomes.values()], timedOut, ...latency };
}

async function idleRss(pid: number) {
  await sleep(SETTLE_MS);
  return rssMb(pid);
}

await session.run(async () => {
  const upstream = await session.startServer('upstream', 'upstream.ts', process.env);
  const functionsDir = await session.tempDir('patchbay-bench-functions-');
  for (const [name, source] of Object.entries(FUNCTIONS)) {
    await mkdir(path.join(functionsDir, INTEGRATION, 'actions'), { recursive: true });
    await writeFile(path.join(functionsDir, INTEGRATION, 'actions', `${name}.ts`), source);
  }
  const patchbay = await session.startPatchbay({
    providers: { [INTEGRATION]: { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, headers: { authorization: 'Bearer ${apiKey}' } } } },
    env: { PATCHBAY_FUNCTIONS_DIR: functionsDir, PATCHBAY_RUNNER_CONCURRENCY: String(RUNS) },
  });
  const pid = patchbay.child.pid;
  await addApiKeyConnection(patchbay, INTEGRATION, CONNECTION_ID, API_KEY);
  const rssIdleAfterStart = await idleRss(pid);
  log(`Patchbay ${patchbay.url} (pid ${pid}), idle RSS ${rssIdleAfterStart?.rss ?? '?'} MB`);

  const scenarios = [];
  for (const action of ['bomb', 'hammer']) {
    const started = performance.now();
    const baseline = await sampleUntil(patchbay, () => performance.now() - started > BASELINE_MS);
    log(`${action}: baseline /health p50 ${baseline.health.p50} ms, /proxy p50 ${baseline.proxy.p50} ms`);
    const result = await scenario(patchbay, action);
    log(`${action}: /health max ${result.health.max} ms, /proxy max ${result.proxy.max} ms; runs ${JSON.stringify(result.runs)}`);
    scenarios.push({ baseline, ...result });
    if (result.timedOut) break;
  }
  await api(patchbay, 'GET', '/health');
  const rssIdleAtEnd = await idleRss(pid);
  return { date: new Date().toISOString(), machine: machineInfo(), rssIdleAfterStartMb: rssIdleAfterStart, rssIdleAtEndMb: rssIdleAtEnd, scenarios };
});
