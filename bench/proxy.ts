// npm run bench:proxy — what /proxy costs over calling the API directly and over a hand-rolled
// @fastify/reply-from forwarder, measured in one run on one machine.
//
// A loopback upstream answers a fixed ~1 KB JSON body. Against it, autocannon measures (each at
// 1 and 64 connections, BENCH_DURATION_S seconds, after a BENCH_WARMUP_S warm-up):
//   direct         autocannon -> upstream
//   replyFrom      autocannon -> fastify + @fastify/reply-from -> upstream
//   nodeForwarder  autocannon -> node:http + undici request() -> upstream: the HTTP stack alone,
//                  no framework (the floor under any Node proxy; Patchbay's own cost is above it)
//   proxy          autocannon -> Patchbay /proxy (one Patchbay connection) -> upstream
//   proxyRotating  the same, rotating over 1,000 Patchbay connections
// It prints one JSON object (also written to bench/results/proxy-<timestamp>.json) and exits 1
// if any response was not a 2xx.
//
// The measured seconds of the four are interleaved: BENCH_ROUNDS rounds, each giving every
// scenario its slice in turn, so that a machine whose speed drifts (shared cores) slows them alike
// and the ratios compare like with like. Each figure merges its scenario's slices. Between slices
// the machine settles for 0.5 s (Patchbay's log writes of a slice end within it and are counted
// with that slice's CPU).
//
// As in production, each server runs in its own process: the upstream (bench/servers/upstream.ts),
// the forwarders (bench/servers/forwarder.ts, node-forwarder.ts) and Patchbay (`patchbay start`, with its embedded
// PostgreSQL) are child processes; only autocannon and this orchestration run here. Each
// process's CPU time per request is read from /proc (Linux) and reported under `derived`.
//
// BENCH_PROFILE=1 starts Patchbay with --cpu-prof: a V8 profile of the Patchbay process alone is
// written to bench/results/profiles/ when it stops.
import path from 'node:path';
import type autocannon from 'autocannon';
import { request } from 'undici';
import { processCpu, type Child } from './lib/children.js';
import { median, round, runLoadRaw, summarize, type LoadResult, type LoadRun } from './lib/load.js';
import { api, BenchSession, machineInfo, positiveNumber, PROFILE, PROFILE_DIR, ROOT, type Patchbay } from './lib/session.js';

const DURATION_S = positiveNumber('BENCH_DURATION_S', 10);
const WARMUP_S = positiveNumber('BENCH_WARMUP_S', 1.5);
const ROUNDS = Math.max(1, Math.round(positiveNumber('BENCH_ROUNDS', 5)));
const SETTLE_MS = 500;
const CONNECTION_COUNTS = [1, 64] as const;
const PATCHBAY_CONNECTIONS = 1000;
const PROXY_PATH = '/proxy/items?x=1';
const UPSTREAM_PATH = '/items?x=1';

const session = new BenchSession('proxy');
const log = (message: string) => session.log(message);

// ---------------------------------------------------------------- upstream

interface Upstream {
  child: Child;
  url: string;
  body: Buffer;
  /** The distinct API keys (`Bearer k-<i>`) the upstream has seen since the last reset. */
  keys(): Promise<Set<string>>;
  reset(): Promise<void>;
}

async function control(url: string, method: 'GET' | 'POST'): Promise<Buffer> {
  const response = await request(url, { method });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode >= 300) throw new Error(`${method} ${url} answered ${response.statusCode}`);
  return bytes;
}

async function startUpstream(): Promise<Upstream> {
  const child = await session.startServer('upstream', 'upstream.ts', process.env);
  const body = await control(`${child.url}/__body`, 'GET');
  return {
    child,
    url: child.url,
    body,
    keys: async () => new Set(JSON.parse((await control(`${child.url}/__keys`, 'GET')).toString('utf8')) as string[]),
    reset: async () => void (await control(`${child.url}/__reset`, 'POST')),
  };
}

// ---------------------------------------------------------------- Patchbay

function startPatchbay(upstreamUrl: string): Promise<Patchbay> {
  return session.startPatchbay({
    providers: {
      'bench-api': { auth_mode: 'API_KEY', proxy: { base_url: upstreamUrl, headers: { authorization: 'Bearer ${apiKey}' } } },
    },
  });
}

async function seedPatchbay(patchbay: Patchbay): Promise<void> {
  await api(patchbay, 'POST', '/integrations', { provider: 'bench-api', unique_key: 'bench' });
  let next = 0;
  const worker = async () => {
    while (next < PATCHBAY_CONNECTIONS) {
      const i = next++;
      await api(patchbay, 'POST', '/connections', {
        provider_config_key: 'bench',
        connection_id: `c-${i}`,
        credentials: { type: 'API_KEY', apiKey: `k-${i}` },
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

// ---------------------------------------------------------------- CPU per request

interface Processes {
  upstream: Child;
  forwarder: Child;
  nodeForwarder: Child;
  patchbay: Child;
}

/** CPU time per 2xx response, in µs, of each process during one measurement (null without /proc). */
interface CpuPerRequest {
  loadGenerator: number;
  upstream: number | null;
  forwarder: number | null;
  nodeForwarder: number | null;
  patchbay: number | null;
  /** Patchbay's child processes: its embedded PostgreSQL (log writes). */
  postgres: number | null;
}

type CpuSnapshot = { loadGenerator: number } & Record<'upstream' | 'forwarder' | 'nodeForwarder' | 'patchbay' | 'postgres', number | undefined>;

function cpuSnapshot(processes: Processes): CpuSnapshot {
  const usage = process.cpuUsage();
  const patchbay = processCpu(processes.patchbay.pid);
  return {
    loadGenerator: usage.user + usage.system,
    upstream: processCpu(processes.upstream.pid)?.selfUs,
    forwarder: processCpu(processes.forwarder.pid)?.selfUs,
    nodeForwarder: processCpu(processes.nodeForwarder.pid)?.selfUs,
    patchbay: patchbay?.selfUs,
    postgres: patchbay?.descendantsUs,
  };
}

const CPU_KEYS = ['loadGenerator', 'upstream', 'forwarder', 'nodeForwarder', 'patchbay', 'postgres'] as const;
type CpuUsed = Record<(typeof CPU_KEYS)[number], number | null>;

/** CPU µs each process used between two snapshots (null without /proc). */
function cpuUsed(before: CpuSnapshot, after: CpuSnapshot): CpuUsed {
  const used = {} as CpuUsed;
  for (const key of CPU_KEYS) {
    const [a, b] = [before[key], after[key]];
    used[key] = a === undefined || b === undefined ? null : b - a;
  }
  return used;
}

function addCpu(total: CpuUsed | undefined, more: CpuUsed): CpuUsed {
  if (total === undefined) return more;
  const sum = {} as CpuUsed;
  for (const key of CPU_KEYS) {
    const [a, b] = [total[key], more[key]];
    sum[key] = a === null || b === null ? null : a + b;
  }
  return sum;
}

function cpuPerRequest(used: CpuUsed, requests: number): CpuPerRequest {
  const per = (key: (typeof CPU_KEYS)[number]) => {
    const value = used[key];
    return value === null ? null : round(value / requests, 1);
  };
  return { loadGenerator: per('loadGenerator') as number, upstream: per('upstream'), forwarder: per('forwarder'), nodeForwarder: per('nodeForwarder'), patchbay: per('patchbay'), postgres: per('postgres') };
}

// ---------------------------------------------------------------- scenarios

interface Scenario {
  name: 'direct' | 'replyFrom' | 'nodeForwarder' | 'proxy' | 'proxyRotating';
  url: string;
  headers: Record<string, string>;
  /** For rotation: one request per Patchbay connection, each client starting at its own offset. */
  rotate?: boolean;
}

interface ScenarioResult {
  c1: LoadResult;
  c64: LoadResult;
}

type ScenarioCpu = Record<'c1' | 'c64', CpuPerRequest>;

function rotatingRequests(headers: Record<string, string>, offset: number): autocannon.Request[] {
  return Array.from({ length: PATCHBAY_CONNECTIONS }, (_, i) => ({
    method: 'GET',
    path: PROXY_PATH,
    headers: { ...headers, 'connection-id': `c-${(offset + i) % PATCHBAY_CONNECTIONS}` },
  }));
}

async function measure(
  scenario: Scenario,
  upstream: Upstream,
  processes: Processes,
  connections: number,
  durationS: number,
): Promise<{ run: LoadRun; cpu: CpuUsed }> {
  let clients = 0;
  await upstream.reset();
  // Taken once autocannon has built every client's requests (1,000 per client when rotating),
  // so the load generator's figure is its cost per request, not its set-up.
  let before: CpuSnapshot | undefined;
  const run = await runLoadRaw({
    url: scenario.url,
    connections,
    durationS,
    headers: scenario.headers,
    // Client k starts its cycle at c-<k * 1000 / connections>, so the clients spread over all
    // 1,000 connections at once. The request buffers are built once per client here, so rotating
    // costs the load generator nothing per request (a setupRequest hook would rebuild each one).
    setupClient: scenario.rotate
      ? (client) => client.setRequests(rotatingRequests(scenario.headers, Math.floor((clients++ * PATCHBAY_CONNECTIONS) / connections)))
      : undefined,
    onStart: () => (before = cpuSnapshot(processes)),
  });
  // Patchbay writes its logs up to 200 ms after a call: let that finish before the next slice,
  // so it is counted here and does not slow the next scenario down.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const after = cpuSnapshot(processes);
  if (before === undefined) throw new Error(`${scenario.name}: autocannon never signalled its start`);
  checkKeys(scenario, await upstream.keys(), connections, run.times.length);
  return { run, cpu: cpuUsed(before, after) };
}

/** The upstream must have seen exactly the API keys the scenario's connections hold. */
function checkKeys(scenario: Scenario, keys: Set<string>, connections: number, requests: number): void {
  const where = `${scenario.name} (${connections} connections)`;
  if (!scenario.rotate) {
    if (keys.size !== 1 || !keys.has('Bearer k-0')) throw new Error(`${where}: upstream saw API keys ${[...keys].slice(0, 5).join(', ')}, expected only k-0`);
    return;
  }
  // Each client walks its own stretch of 1000 / connections connections before reaching the next
  // client's start; with fewer requests than that per client, not every key can have been used.
  const enough = requests / connections >= 2 * Math.ceil(PATCHBAY_CONNECTIONS / connections);
  if (enough && keys.size !== PATCHBAY_CONNECTIONS) {
    throw new Error(`${where}: upstream saw ${keys.size} distinct API keys, expected ${PATCHBAY_CONNECTIONS}`);
  }
}

/** The ratio of a's to b's throughput in each round. */
function roundRatios(a: LoadResult, b: LoadResult): number[] {
  return a.sliceRps.map((rps, i) => round(rps / (b.sliceRps[i] as number), 3));
}

/** Every scenario at one connection count: a warm-up each, then ROUNDS interleaved slices each. */
async function runInterleaved(
  scenarios: Scenario[],
  connections: number,
  upstream: Upstream,
  processes: Processes,
): Promise<Map<Scenario['name'], { result: LoadResult; cpu: CpuPerRequest }>> {
  for (const scenario of scenarios) {
    log(`${scenario.name}: warm-up ${WARMUP_S} s at ${connections} connection(s)`);
    await measure(scenario, upstream, processes, connections, WARMUP_S);
  }
  const sliceS = DURATION_S / ROUNDS;
  log(`${scenarios.map((s) => s.name).join(', ')}: ${ROUNDS} rounds of ${sliceS} s each at ${connections} connection(s)`);
  const slices = new Map<Scenario['name'], { runs: LoadRun[]; cpu: CpuUsed | undefined }>(scenarios.map((s) => [s.name, { runs: [], cpu: undefined }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of scenarios) {
      const { run, cpu } = await measure(scenario, upstream, processes, connections, sliceS);
      const entry = slices.get(scenario.name) as { runs: LoadRun[]; cpu: CpuUsed | undefined };
      entry.runs.push(run);
      entry.cpu = addCpu(entry.cpu, cpu);
    }
  }
  const results = new Map<Scenario['name'], { result: LoadResult; cpu: CpuPerRequest }>();
  for (const scenario of scenarios) {
    const entry = slices.get(scenario.name) as { runs: LoadRun[]; cpu: CpuUsed };
    const result = summarize(entry.runs);
    const cpu = cpuPerRequest(entry.cpu, result.requests);
    log(`${scenario.name} c${connections}: ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms; CPU µs/request ${JSON.stringify(cpu)}`);
    results.set(scenario.name, { result, cpu });
  }
  return results;
}

/** Sanity check before measuring: the path answers 200 with the upstream's exact body. */
async function checkPath(scenario: Scenario, upstream: Upstream): Promise<void> {
  const response = await request(scenario.url, { headers: scenario.headers });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200 || !bytes.equals(upstream.body)) {
    throw new Error(`${scenario.name}: expected 200 with the upstream body, got ${response.statusCode}: ${bytes.toString('utf8').slice(0, 300)}`);
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const upstream = await startUpstream();
  log(`upstream ${upstream.url} (pid ${upstream.child.pid}, ${upstream.body.length} byte body)`);

  const forwarderEnv = { ...process.env, BENCH_UPSTREAM_URL: upstream.url, BENCH_UPSTREAM_PATH: UPSTREAM_PATH };
  const forwarder = await session.startServer('forwarder', 'forwarder.ts', forwarderEnv);
  log(`reply-from forwarder ${forwarder.url} (pid ${forwarder.pid})`);
  const nodeForwarder = await session.startServer('node-forwarder', 'node-forwarder.ts', forwarderEnv);
  log(`node:http forwarder ${nodeForwarder.url} (pid ${nodeForwarder.pid})`);

  log(`starting Patchbay (embedded PostgreSQL)${PROFILE ? ' with --cpu-prof' : ''}`);
  const patchbay = await startPatchbay(upstream.url);
  log(`Patchbay ${patchbay.url} (pid ${patchbay.child.pid}); creating ${PATCHBAY_CONNECTIONS} connections`);
  await seedPatchbay(patchbay);
  const processes: Processes = { upstream: upstream.child, forwarder, nodeForwarder, patchbay: patchbay.child };

  const callerHeaders = {
    authorization: `Bearer ${patchbay.secretKey}`,
    'provider-config-key': 'bench',
    'connection-id': 'c-0',
  };
  const scenarios: Scenario[] = [
    // The upstream insists on an API key; direct callers send the one Patchbay would inject.
    { name: 'direct', url: `${upstream.url}${UPSTREAM_PATH}`, headers: { authorization: 'Bearer k-0' } },
    { name: 'replyFrom', url: `${forwarder.url}${PROXY_PATH}`, headers: callerHeaders },
    { name: 'nodeForwarder', url: `${nodeForwarder.url}${PROXY_PATH}`, headers: callerHeaders },
    { name: 'proxy', url: `${patchbay.url}${PROXY_PATH}`, headers: callerHeaders },
    { name: 'proxyRotating', url: `${patchbay.url}${PROXY_PATH}`, headers: callerHeaders, rotate: true },
  ];
  for (const scenario of scenarios) {
    await checkPath(scenario, upstream);
  }

  const results: Partial<Record<Scenario['name'], Partial<ScenarioResult>>> = {};
  const cpu: Partial<Record<Scenario['name'], Partial<ScenarioCpu>>> = {};
  for (const connections of CONNECTION_COUNTS) {
    const measured = await runInterleaved(scenarios, connections, upstream, processes);
    for (const [name, { result, cpu: used }] of measured) {
      (results[name] ??= {})[`c${connections}`] = result;
      (cpu[name] ??= {})[`c${connections}`] = used;
    }
  }
  const { direct, replyFrom: forwarded, nodeForwarder: bare, proxy, proxyRotating } = results as Record<Scenario['name'], ScenarioResult>;
  const cpuOf = cpu as Record<Scenario['name'], ScenarioCpu>;

  const ratio = (a: LoadResult, b: LoadResult) => round(a.rps / b.rps, 3);
  const byRound = roundRatios(proxy.c64, forwarded.c64);
  const ratios = {
    proxyVsReplyFrom_c64: ratio(proxy.c64, forwarded.c64),
    proxyRotatingVsReplyFrom_c64: ratio(proxyRotating.c64, forwarded.c64),
    proxyVsReplyFrom_c1: ratio(proxy.c1, forwarded.c1),
    proxyRotatingVsReplyFrom_c1: ratio(proxyRotating.c1, forwarded.c1),
    addedP50Ms_c1: round(proxy.c1.p50 - direct.c1.p50, 3),
    addedP50MsRotating_c1: round(proxyRotating.c1.p50 - direct.c1.p50, 3),
    replyFromAddedP50Ms_c1: round(forwarded.c1.p50 - direct.c1.p50, 3),
    // Round by round: the two slices of a round ran seconds apart, so a machine whose speed drifts
    // over the run moves both alike. The median says more than the merged figure on a shared box.
    proxyVsReplyFrom_c64_byRound: byRound,
    proxyVsReplyFrom_c64_medianOfRounds: median(byRound),
    // The bare node:http + undici forwarder against both: how much of a forwarder's cost is the
    // HTTP stack's, which no proxy on Node goes under.
    nodeForwarderVsReplyFrom_c64: ratio(bare.c64, forwarded.c64),
    proxyVsNodeForwarder_c64: ratio(proxy.c64, bare.c64),
  };
  // Each forwarder runs in its own process, so its cost per request is its own CPU time divided
  // by the responses served: independent of how the machine's cores were shared out, which the
  // throughput ratio is not (on a small machine the load generator, the upstream and PostgreSQL
  // compete with the forwarder for the same cores).
  const costRatio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : round(a / b, 2));
  const replyFromCost = cpuOf.replyFrom.c64.forwarder;
  const nodeForwarderCost = cpuOf.nodeForwarder.c64.nodeForwarder;
  const proxyCost = cpuOf.proxy.c64.patchbay;
  const proxyRotatingCost = cpuOf.proxyRotating.c64.patchbay;
  const derived = {
    note:
      'CPU time per 2xx response, in µs, of the forwarder process alone (Patchbay: its Node process, without PostgreSQL), ' +
      'at 64 connections, from /proc; cpuUsPerRequest breaks every measurement down by process',
    replyFromCostUs_c64: replyFromCost,
    nodeForwarderCostUs_c64: nodeForwarderCost,
    proxyCostUs_c64: proxyCost,
    proxyRotatingCostUs_c64: proxyRotatingCost,
    proxyCostVsReplyFrom_c64: costRatio(proxyCost, replyFromCost),
    proxyRotatingCostVsReplyFrom_c64: costRatio(proxyRotatingCost, replyFromCost),
    proxyCostVsNodeForwarder_c64: costRatio(proxyCost, nodeForwarderCost),
    cpuUsPerRequest: cpuOf,
  };
  const report = {
    name: 'proxy',
    date: new Date().toISOString(),
    machine: machineInfo(),
    settings: {
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      rounds: ROUNDS,
      connections: CONNECTION_COUNTS,
      patchbayConnections: PATCHBAY_CONNECTIONS,
      upstreamBodyBytes: upstream.body.length,
      loadGenerator: 'autocannon 8, alone in the orchestrating process',
      processes: 'upstream (node:http), forwarder (fastify + @fastify/reply-from), node forwarder (node:http + undici) and Patchbay (`patchbay start`, embedded PostgreSQL) each in its own child process',
      patchbayCpuProfile: PROFILE ? path.relative(ROOT, PROFILE_DIR) : null,
      latency: 'ms, percentiles of every 2xx response time (autocannon* fields: its whole-ms histogram)',
    },
    scenarios: { direct, replyFrom: forwarded, nodeForwarder: bare, proxy, proxyRotating },
    ratios,
    derived,
    targets: { throughputRatio: '>= 0.85', addedP50Ms: '< 1' },
    pass: {
      throughput_c64: ratios.proxyVsReplyFrom_c64 >= 0.85,
      throughputRotating_c64: ratios.proxyRotatingVsReplyFrom_c64 >= 0.85,
      addedP50_c1: ratios.addedP50Ms_c1 < 1,
      addedP50Rotating_c1: ratios.addedP50MsRotating_c1 < 1,
    },
  };
  return report;
}

await session.run(main);
