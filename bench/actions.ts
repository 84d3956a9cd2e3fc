// npm run bench:actions — what an action costs end to end: POST /action/trigger on a `patchbay
// start` (server and runner in one process, embedded PostgreSQL) until the run's result comes
// back, for a no-op action, an action making one `nango.get` to a loopback upstream, and the
// shape most real functions have: `zod-get`, zod input and output schemas (zod 4 bundled, as 98 %
// of Nango's templates) around one `nango.get` whose answer it maps; beside it, the same GET
// through `/proxy`, so the action's cost above the call it makes is measured, not guessed.
//
// Phases, in one run:
//   firstRun   the first trigger of `noop` after start (deployed at start), then after a redeploy
//              of a changed `noop` (`patchbay deploy`'s code, run here, POST /functions/deploy)
//   warm-up    BENCH_WARMUP_RUNS runs of each action at 32 connections
//   noop       1 connection for BENCH_DURATION_S seconds, then 32 connections
//   fetchOne   the same for `fetch-one`
//   zodGet     the same for `zod-get`, and `proxyGet`: GET /proxy/items at 1 and 32 connections
//   memory     once the phases above brought the process to its steady state, Patchbay's RSS
//              before and after BENCH_MEMORY_RUNS (10,000) more runs at 32 connections, half
//              `noop`, half `fetch-one` (the RSS after the warm-up is reported too)
// Each phase reports latency percentiles of every response (autocannon, full precision), actions
// per second, and the CPU time per action of the Patchbay process and of its PostgreSQL (/proc).
// It prints one JSON object (also written to bench/results/actions-<timestamp>.json), with the
// issue's targets under `targets`, and exits 1 if any response was not a 2xx.
//
// The upstream (bench/servers/upstream.ts) and Patchbay run in child processes; autocannon and
// this orchestration run here. BENCH_PROFILE=1 profiles the Patchbay process (see lib/session.ts).
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { deployToServer } from '../bin/deploy.js';
import { loadConfig } from '../server/config.js';
import { runLoad, round, type LoadResult } from './lib/load.js';
import { cpuPer, cpuSnapshot, rssMb, type CpuSnapshot } from './lib/measure.js';
import { addApiKeyConnection, BenchSession, machineInfo, positiveNumber, PROFILE, PROFILE_DIR, ROOT, type Patchbay } from './lib/session.js';

const DURATION_S = positiveNumber('BENCH_DURATION_S', 10);
const WARMUP_RUNS = Math.max(32, Math.round(positiveNumber('BENCH_WARMUP_RUNS', 300)));
/** The issue's memory target: RSS flat over 10,000 runs. */
const TARGET_MEMORY_RUNS = 10_000;
const MEMORY_RUNS = Math.round(positiveNumber('BENCH_MEMORY_RUNS', TARGET_MEMORY_RUNS));
const CONCURRENCY = [1, 32] as const;
const INTEGRATION = 'bench';
const CONNECTION_ID = 'c1';
/** The upstream answers 200 to any path for `Authorization: Bearer k-<anything>`. */
const API_KEY = 'k-1';
const UPSTREAM_ENDPOINT = '/items';

const TARGETS = {
  zodGetAddedP50Ms_c1: { target: '<= 5 (zod-get p50 - /proxy p50)', ok: (v: number) => v <= 5 },
  zodGetP99Ms_c1: { target: '<= 25', ok: (v: number) => v <= 25 },
  zodGetActionsPerS_c32: { target: '>= 400', ok: (v: number) => v >= 400 },
  noopP50Ms_c1: { target: '< 10', ok: (v: number) => v < 10 },
  noopP99Ms_c1: { target: '< 40', ok: (v: number) => v < 40 },
  noopActionsPerS_c32: { target: '>= 300', ok: (v: number) => v >= 300 },
  firstRunAfterStartMs: { target: '< 100', ok: (v: number) => v < 100 },
  firstRunAfterRedeployMs: { target: '< 100', ok: (v: number) => v < 100 },
  // A leak grows RSS; a fall is the launcher's idle trim giving the warm-up's young generation back.
  rssDeltaMb: { target: 'growth <= 50 over >= 10,000 runs', ok: (v: number) => v <= 50 },
} as const;

const session = new BenchSession('actions');
const log = (message: string) => session.log(message);

// ---------------------------------------------------------------- functions

// Without input/output schemas: the runtime then skips validation, and zod stays out of the
// bundle, so the numbers measure Patchbay rather than zod.
function noopSource(tag: string): string {
  return `import { createAction } from 'patchbay';

export default createAction({
  description: 'Does nothing (deploy ${tag})',
  exec: async () => ({ ok: true, deploy: '${tag}' }),
});
`;
}

const FETCH_ONE_SOURCE = `import { createAction } from 'patchbay';

export default createAction({
  description: 'One GET to the upstream',
  exec: async (nango) => {
    const response = await nango.get({ endpoint: '${UPSTREAM_ENDPOINT}' });
    return { status: response.status };
  },
});
`;

// A function as people write them: validated input, one provider call, its answer mapped onto a
// validated output.
const ZOD_GET_SOURCE = `import { createAction } from 'patchbay';
import { z } from 'zod';

const Input = z.object({
  owner: z.string().min(1),
  repo: z.string().min(1),
  limit: z.number().int().min(1).max(100).default(10),
  activeOnly: z.boolean().optional(),
});

const Item = z.object({ id: z.string(), name: z.string(), active: z.boolean() });
const Output = z.object({ repository: z.string(), count: z.number(), items: z.array(Item) });

export default createAction({
  description: 'Lists a repository items, mapped',
  input: Input,
  output: Output,
  exec: async (nango, input) => {
    const response = await nango.get<{ items: { id: number; name: string; active: boolean }[] }>({
      endpoint: '${UPSTREAM_ENDPOINT}',
      params: { owner: input.owner, repo: input.repo, per_page: input.limit },
    });
    const items = response.data.items
      .filter((item) => !input.activeOnly || item.active)
      .slice(0, input.limit)
      .map((item) => ({ id: String(item.id), name: item.name, active: item.active }));
    return { repository: input.owner + '/' + input.repo, count: items.length, items };
  },
});
`;
const ZOD_GET_INPUT = { owner: 'octo', repo: 'hello', limit: 5 };

async function writeFunctions(dir: string, noopTag: string): Promise<void> {
  const actions = path.join(dir, INTEGRATION, 'actions');
  await mkdir(actions, { recursive: true });
  await writeFile(path.join(actions, 'noop.ts'), noopSource(noopTag));
  await writeFile(path.join(actions, 'fetch-one.ts'), FETCH_ONE_SOURCE);
  await writeFile(path.join(actions, 'zod-get.ts'), ZOD_GET_SOURCE);
}

/** `patchbay deploy` against the running Patchbay: bundle and inspect here, upload, return ms. */
async function redeploy(patchbay: Patchbay, functionsDir: string): Promise<number> {
  const config = loadConfig(
    {
      PATCHBAY_URL: patchbay.url,
      PATCHBAY_SECRET_KEY: patchbay.secretKey,
      PATCHBAY_FUNCTIONS_DIR: functionsDir,
    },
    ROOT,
  );
  let output = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString('utf8');
      done();
    },
  });
  const started = performance.now();
  await deployToServer(config, sink);
  const ms = performance.now() - started;
  log(`redeploy: ${output.trim().replace(/\n\s*/g, '; ')}`);
  return ms;
}

// ---------------------------------------------------------------- triggers

function triggerHeaders(patchbay: Patchbay): Record<string, string> {
  return {
    authorization: `Bearer ${patchbay.secretKey}`,
    'provider-config-key': INTEGRATION,
    'connection-id': CONNECTION_ID,
    'content-type': 'application/json',
  };
}

function triggerBody(action: string): string {
  return JSON.stringify({ action_name: action, input: action === 'zod-get' ? ZOD_GET_INPUT : {} });
}

interface Triggered {
  ms: number;
  output: Record<string, unknown>;
}

/** One trigger, timed from sending the request to the last byte of the answer; throws on non-2xx. */
async function trigger(patchbay: Patchbay, action: string): Promise<Triggered> {
  const started = performance.now();
  const response = await request(`${patchbay.url}/action/trigger`, { method: 'POST', headers: triggerHeaders(patchbay), body: triggerBody(action) });
  const text = await response.body.text();
  const ms = performance.now() - started;
  if (response.statusCode < 200 || response.statusCode >= 300) {
    throw new Error(`POST /action/trigger ${triggerBody(action)} answered ${response.statusCode} after ${round(ms, 1)} ms: ${text}`);
  }
  return { ms: round(ms, 3), output: JSON.parse(text) as Record<string, unknown> };
}

function expectOutput(action: string, got: Record<string, unknown>, expected: Record<string, unknown>): void {
  if (JSON.stringify(got) !== JSON.stringify(expected)) {
    throw new Error(`${action} returned ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  }
}

// ---------------------------------------------------------------- measurement

/** CPU µs per action of each process (null without /proc). */
function cpuPerAction(before: CpuSnapshot, after: CpuSnapshot, count: number) {
  const { patchbay, postgres, here } = cpuPer(before, after, count, 1);
  return { patchbay, postgres, loadGenerator: here };
}

interface PhaseResult extends LoadResult {
  /** 2xx responses per second, from autocannon's start to the last response. */
  actionsPerS: number;
  cpuUsPerAction: ReturnType<typeof cpuPerAction>;
  patchbayRssMbAfter: number | null;
}

/** Runs counted since the memory baseline (2xx responses only). */
let runsSinceBaseline = 0;

/** `action`, or `/proxy` for the GET the actions make, through the proxy (the baseline). */
const PROXY_GET = '/proxy';

async function phase(
  patchbay: Patchbay,
  label: string,
  action: string,
  connections: number,
  limit: { durationS: number } | { amount: number },
): Promise<PhaseResult> {
  log(`${label}: ${action} at ${connections} connection(s), ${'amount' in limit ? `${limit.amount} runs` : `${limit.durationS} s`}`);
  let before: CpuSnapshot | undefined;
  const result = await runLoad({
    url: patchbay.url,
    connections,
    durationS: 'durationS' in limit ? limit.durationS : DURATION_S,
    amount: 'amount' in limit ? limit.amount : undefined,
    headers: triggerHeaders(patchbay),
    requests:
      action === PROXY_GET
        ? [{ method: 'GET', path: `/proxy${UPSTREAM_ENDPOINT}?owner=octo&repo=hello&per_page=5` }]
        : [{ method: 'POST', path: '/action/trigger', body: triggerBody(action) }],
    onStart: () => (before = cpuSnapshot(patchbay.child.pid)),
  });
  const after = cpuSnapshot(patchbay.child.pid);
  if (before === undefined) throw new Error(`${label}: autocannon never signalled its start`);
  runsSinceBaseline += result.requests;
  const measured: PhaseResult = {
    ...result,
    actionsPerS: round(result.requests / result.activeS, 1),
    cpuUsPerAction: cpuPerAction(before, after, result.requests),
    patchbayRssMbAfter: rssMb(patchbay.child.pid)?.rss ?? null,
  };
  log(
    `${label}: ${measured.actionsPerS} actions/s, p50 ${result.p50} ms, p90 ${result.p90} ms, p99 ${result.p99} ms, ` +
      `${result.requests} runs; CPU µs/action ${JSON.stringify(measured.cpuUsPerAction)}; Patchbay RSS ${measured.patchbayRssMbAfter} MB`,
  );
  return measured;
}

function target(name: keyof typeof TARGETS, measured: number | null) {
  const ok = measured !== null && TARGETS[name].ok(measured);
  return { target: TARGETS[name].target, measured, ok, flag: ok ? '✔' : '✘' };
}

// ---------------------------------------------------------------- main

async function main() {
  const upstream = await session.startServer('upstream', 'upstream.ts', process.env);
  log(`upstream ${upstream.url} (pid ${upstream.pid})`);

  const functionsDir = await session.tempDir('patchbay-bench-functions-');
  const startTag = randomBytes(6).toString('hex');
  await writeFunctions(functionsDir, startTag);

  log(`starting Patchbay (embedded PostgreSQL)${PROFILE ? ' with --cpu-prof' : ''}`);
  const patchbay = await session.startPatchbay({
    providers: {
      [INTEGRATION]: { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, headers: { authorization: 'Bearer ${apiKey}' } } },
    },
    env: { PATCHBAY_FUNCTIONS_DIR: functionsDir },
  });
  const pid = patchbay.child.pid;
  log(`Patchbay ${patchbay.url} (pid ${pid}, RSS ${rssMb(pid)?.rss ?? '?'} MB)`);
  await addApiKeyConnection(patchbay, INTEGRATION, CONNECTION_ID, API_KEY);

  // ---- first run after deploy
  const afterStart = await trigger(patchbay, 'noop');
  expectOutput('noop', afterStart.output, { ok: true, deploy: startTag });
  const secondAfterStart = await trigger(patchbay, 'noop');
  const fetchAfterStart = await trigger(patchbay, 'fetch-one');
  expectOutput('fetch-one', fetchAfterStart.output, { status: 200 });
  const zodAfterStart = await trigger(patchbay, 'zod-get');
  if (zodAfterStart.output.count !== 5 || zodAfterStart.output.repository !== 'octo/hello') throw new Error(`zod-get returned ${JSON.stringify(zodAfterStart.output)}`);
  log(`first noop after start ${afterStart.ms} ms (second ${secondAfterStart.ms} ms); first fetch-one ${fetchAfterStart.ms} ms`);

  const redeployTag = randomBytes(6).toString('hex');
  await writeFunctions(functionsDir, redeployTag);
  const deployMs = await redeploy(patchbay, functionsDir);
  const afterRedeploy = await trigger(patchbay, 'noop');
  // A registry that has not seen the deploy yet would serve the old bundle: say so, and how long
  // the new one took to appear.
  const servedNew = afterRedeploy.output.deploy === redeployTag;
  let staleRuns = 0;
  const staleSince = performance.now();
  let firstNew = servedNew ? afterRedeploy : undefined;
  while (firstNew === undefined && performance.now() - staleSince < 10_000) {
    staleRuns++;
    const next = await trigger(patchbay, 'noop');
    if (next.output.deploy === redeployTag) firstNew = next;
  }
  if (firstNew === undefined) throw new Error(`noop still ran the bundle deployed at start 10 s after the redeploy`);
  if (!servedNew) log(`WARNING: the first trigger after the redeploy ran the previous bundle; ${staleRuns} more trigger(s) until the new one ran`);
  const secondAfterRedeploy = await trigger(patchbay, 'noop');
  log(`redeploy ${round(deployMs, 1)} ms (bundle, inspect, upload); first noop after it ${afterRedeploy.ms} ms (second ${secondAfterRedeploy.ms} ms)`);
  const firstRun = {
    afterStart: { noopMs: afterStart.ms, secondNoopMs: secondAfterStart.ms, firstFetchOneMs: fetchAfterStart.ms },
    afterRedeploy: {
      deployMs: round(deployMs, 1),
      noopMs: afterRedeploy.ms,
      ranNewBundle: servedNew,
      staleRunsBeforeNewBundle: staleRuns,
      firstNewBundleRunMs: firstNew.ms,
      secondNoopMs: secondAfterRedeploy.ms,
    },
  };

  // ---- warm-up, then the memory baseline
  const warmup = {
    noop: await phase(patchbay, 'warm-up', 'noop', 32, { amount: WARMUP_RUNS }),
    fetchOne: await phase(patchbay, 'warm-up', 'fetch-one', 32, { amount: WARMUP_RUNS }),
    zodGet: await phase(patchbay, 'warm-up', 'zod-get', 32, { amount: WARMUP_RUNS }),
    proxyGet: await phase(patchbay, 'warm-up', PROXY_GET, 32, { amount: WARMUP_RUNS }),
  };
  const rssAfterWarmup = rssMb(pid);

  // ---- measured phases
  const noop = {
    c1: await phase(patchbay, 'noop c1', 'noop', CONCURRENCY[0], { durationS: DURATION_S }),
    c32: await phase(patchbay, 'noop c32', 'noop', CONCURRENCY[1], { durationS: DURATION_S }),
  };
  const fetchOne = {
    c1: await phase(patchbay, 'fetch-one c1', 'fetch-one', CONCURRENCY[0], { durationS: DURATION_S }),
    c32: await phase(patchbay, 'fetch-one c32', 'fetch-one', CONCURRENCY[1], { durationS: DURATION_S }),
  };
  // Interleaved at 1 connection, so that the difference is not the machine's mood changing.
  const proxyGetC1 = await phase(patchbay, '/proxy c1', PROXY_GET, CONCURRENCY[0], { durationS: DURATION_S });
  const zodGetC1 = await phase(patchbay, 'zod-get c1', 'zod-get', CONCURRENCY[0], { durationS: DURATION_S });
  const zodGet = {
    c1: zodGetC1,
    c32: await phase(patchbay, 'zod-get c32', 'zod-get', CONCURRENCY[1], { durationS: DURATION_S }),
    addedP50MsOverProxy_c1: round(zodGetC1.p50 - proxyGetC1.p50, 3),
  };
  const proxyGet = {
    c1: proxyGetC1,
    c32: await phase(patchbay, '/proxy c32', PROXY_GET, CONCURRENCY[1], { durationS: DURATION_S }),
  };

  // ---- memory: flat over MEMORY_RUNS more runs once the process is warm. The first minutes
  // include one-time growth (isolates created, the deploy's type check) that is not a leak.
  const rssBefore = rssMb(pid);
  runsSinceBaseline = 0;
  const half = Math.max(32, Math.ceil(MEMORY_RUNS / 2));
  const topUp = {
    noop: await phase(patchbay, 'memory noop', 'noop', 32, { amount: half }),
    fetchOne: await phase(patchbay, 'memory fetch-one', 'fetch-one', 32, { amount: half }),
  };
  const rssAfter = rssMb(pid);
  const rssDelta = rssBefore === null || rssAfter === null ? null : round(rssAfter.rss - rssBefore.rss, 1);
  const memory = {
    runs: runsSinceBaseline,
    patchbayRssMbAfterWarmup: rssAfterWarmup?.rss ?? null,
    patchbayRssMbBefore: rssBefore?.rss ?? null,
    patchbayRssMbAfter: rssAfter?.rss ?? null,
    patchbayRssMbDelta: rssDelta,
    patchbayRssMbPeak: rssAfter?.peak ?? null,
    topUp,
  };
  log(`memory: RSS ${memory.patchbayRssMbBefore} -> ${memory.patchbayRssMbAfter} MB (${rssDelta} MB) over ${memory.runs} runs; peak ${memory.patchbayRssMbPeak} MB`);

  const targets = {
    zodGetAddedP50Ms_c1: target('zodGetAddedP50Ms_c1', zodGet.addedP50MsOverProxy_c1),
    zodGetP99Ms_c1: target('zodGetP99Ms_c1', zodGet.c1.p99),
    zodGetActionsPerS_c32: target('zodGetActionsPerS_c32', zodGet.c32.actionsPerS),
    noopP50Ms_c1: target('noopP50Ms_c1', noop.c1.p50),
    noopP99Ms_c1: target('noopP99Ms_c1', noop.c1.p99),
    noopActionsPerS_c32: target('noopActionsPerS_c32', noop.c32.actionsPerS),
    firstRunAfterStartMs: target('firstRunAfterStartMs', firstRun.afterStart.noopMs),
    firstRunAfterRedeployMs: target('firstRunAfterRedeployMs', servedNew ? firstRun.afterRedeploy.noopMs : null),
    rssDeltaMb: target('rssDeltaMb', memory.runs >= TARGET_MEMORY_RUNS ? rssDelta : null),
  };
  for (const [name, t] of Object.entries(targets)) log(`${t.flag} ${name}: ${t.measured} (target ${t.target})`);

  return {
    name: 'actions',
    date: new Date().toISOString(),
    machine: machineInfo(),
    settings: {
      durationS: DURATION_S,
      warmupRuns: WARMUP_RUNS,
      memoryRuns: MEMORY_RUNS,
      connections: CONCURRENCY,
      actions: {
        noop: 'createAction({ exec: async () => ({ ok: true, deploy: <tag> }) })',
        fetchOne: `createAction({ exec: async (nango) => ({ status: (await nango.get({ endpoint: '${UPSTREAM_ENDPOINT}' })).status }) })`,
        zodGet: 'zod input (4 fields) and output (array of 3-field items) schemas, one nango.get with params, the answer mapped (bench/actions.ts ZOD_GET_SOURCE)',
        proxyGet: `GET /proxy${UPSTREAM_ENDPOINT}?owner=octo&repo=hello&per_page=5, the call zod-get makes`,
      },
      typecheck: 'on (deploys type-check as users get them)',
      trigger: 'POST /action/trigger {"action_name": …, "input": {}}, synchronous (no X-Async), one Patchbay connection',
      loadGenerator: 'autocannon 8, alone in the orchestrating process',
      processes: 'upstream (node:http) and Patchbay (`patchbay start`: server and runner in one process, embedded PostgreSQL) each in its own child process',
      patchbayCpuProfile: PROFILE ? path.relative(ROOT, PROFILE_DIR) : null,
      latency: 'ms, percentiles of every 2xx response time (autocannon* fields: its whole-ms histogram)',
      cpuUsPerAction: 'CPU µs per 2xx response of the Patchbay process, of its PostgreSQL (descendant processes) and of this load generator, from /proc',
    },
    firstRun,
    warmup,
    noop,
    fetchOne,
    zodGet,
    proxyGet,
    memory,
    targets,
    pass: Object.values(targets).every((t) => t.ok),
  };
}

await session.run(main);
