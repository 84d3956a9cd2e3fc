// npm run bench:ab — two Patchbays (two builds, or one build with two settings) compared on
// /proxy under the same load at the same time: CPU time per call of B against A.
//
// Why at the same time: on a shared machine (CI's 2 cores, a VM whose speed drifts by ±20 %
// within a minute), two slices of load seconds apart see different machines, and an A/B of
// slices in turn needed many rounds to tell 5 % apart. Here each round loads A and B together
// (64 connections each, one autocannon per side, one loopback upstream) and reads both processes'
// CPU over the same window, so a slower moment slows both alike and the ratio of the round holds.
// An A/A run (the default) shows what is left of the noise. On 2026-12-06: medians 0.972 and 0.993,
// rounds mostly within ±10 % (quartiles 0.94–1.02 and 0.98–1.10), when slices in turn spread by
// ±20 % round to round; the proxy-dispatch-wip branch, slower by a margin that slices in turn
// could not pin down, measured 1.26 and 1.19 here. The sides are not quite alike, though: the
// same two builds measured 0.963 one way and 1.106 (not 1/0.963 = 1.038) the other, so a
// difference under ~8 % wants both orders (swap BENCH_AB_A and BENCH_AB_B) before it is trusted.
//
// The two sides (BENCH_AB_A, BENCH_AB_B) are each `[entry][#NAME=value;NAME=value]`:
//   entry   a compiled entry point of another checkout (…/scripts/launch.mjs or
//           …/dist/bin/patchbay.js); empty: this checkout, as `npm start` runs it
//   #…      environment variables for that side only (a setting, a switch of an experiment)
// BENCH_PATCHBAY_FLAGS adds Node flags to both. Both sides are Patchbay with its embedded
// PostgreSQL, each with its own data directory; each is told of one API-key connection to the
// upstream. What is compared is the Patchbay process's own CPU per 2xx answer (all its threads);
// its PostgreSQL's is reported beside it.
//
// Prints one JSON object (also written to bench/results/ab-<timestamp>.json): per side, the
// medians over rounds of CPU per call, PostgreSQL's CPU per call and requests per second; and
// B/A: the median of the rounds' ratios of CPU per call, with its quartiles.
import { processCpu } from './lib/children.js';
import { median, percentile, round, runLoadRaw, type LoadRun } from './lib/load.js';
import { addApiKeyConnection, BenchSession, machineInfo, positiveNumber, type Patchbay } from './lib/session.js';

const DURATION_S = positiveNumber('BENCH_DURATION_S', 2);
const ROUNDS = Math.max(1, Math.round(positiveNumber('BENCH_ROUNDS', 16)));
const WARMUP_S = positiveNumber('BENCH_WARMUP_S', 3);
const CONNECTIONS = 64;
const SETTLE_MS = 300;
const PROXY_PATH = '/proxy/items?x=1';

const session = new BenchSession('ab');
const log = (message: string) => session.log(message);

interface Side {
  name: 'a' | 'b';
  spec: string;
  patchbay: Patchbay;
  cpuUs: number[];
  postgresUs: number[];
  rps: number[];
}

/** `[entry][#NAME=value;…]` as an entry point (undefined: this checkout) and its environment. */
function parseSide(spec: string): { entry: string | undefined; env: Record<string, string> } {
  const hash = spec.indexOf('#');
  const entry = (hash === -1 ? spec : spec.slice(0, hash)).trim();
  const env: Record<string, string> = {};
  for (const pair of hash === -1 ? [] : spec.slice(hash + 1).split(';')) {
    if (pair.trim() === '') continue;
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new Error(`"${pair}" in "${spec}" is not NAME=value`);
    env[pair.slice(0, equals).trim()] = pair.slice(equals + 1);
  }
  return { entry: entry === '' ? undefined : entry, env };
}

function cpuOf(patchbay: Patchbay): { selfUs: number; descendantsUs: number } {
  const cpu = processCpu(patchbay.child.pid);
  if (cpu === undefined) throw new Error(`Patchbay (pid ${patchbay.child.pid}) is gone`);
  return cpu;
}

/** The 1st quartile, median and 3rd quartile of `values` (nearest rank). */
function quartiles(values: readonly number[]): [number, number, number] {
  const sorted = Float64Array.from(values).sort();
  return [percentile(sorted, 25), percentile(sorted, 50), percentile(sorted, 75)];
}

await session.run(async () => {
  const upstream = await session.startServer('upstream', 'upstream.ts', process.env);
  const sides: Side[] = [];
  for (const name of ['a', 'b'] as const) {
    const spec = process.env[`BENCH_AB_${name.toUpperCase()}`] ?? '';
    const { entry, env } = parseSide(spec);
    log(`${name}: ${entry ?? 'this checkout'}${Object.keys(env).length > 0 ? ` with ${JSON.stringify(env)}` : ''}`);
    const patchbay = await session.startPatchbay({
      entry,
      env,
      providers: { 'bench-api': { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, headers: { authorization: 'Bearer ${apiKey}' } } } },
    });
    await addApiKeyConnection(patchbay, 'bench-api', 'c-0', 'k-0');
    sides.push({ name, spec, patchbay, cpuUs: [], postgresUs: [], rps: [] });
  }

  const load = (side: Side, durationS: number): Promise<LoadRun> =>
    runLoadRaw({
      url: `${side.patchbay.url}${PROXY_PATH}`,
      connections: CONNECTIONS,
      durationS,
      headers: { authorization: `Bearer ${side.patchbay.secretKey}`, 'provider-config-key': 'bench-api', 'connection-id': 'c-0' },
    });

  log(`warm-up: ${WARMUP_S} s, both at once`);
  await Promise.all(sides.map((side) => load(side, WARMUP_S)));
  log(`${ROUNDS} rounds of ${DURATION_S} s, both sides at ${CONNECTIONS} connections at once`);
  for (let r = 0; r < ROUNDS; r++) {
    const before = sides.map((side) => cpuOf(side.patchbay));
    const runs = await Promise.all(sides.map((side) => load(side, DURATION_S)));
    // A round's log writes end within this and count with it (runLoadRaw throws on any non-2xx).
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    sides.forEach((side, i) => {
      const after = cpuOf(side.patchbay);
      const run = runs[i] as LoadRun;
      const answers = run.times.length;
      side.cpuUs.push((after.selfUs - (before[i] as { selfUs: number }).selfUs) / answers);
      side.postgresUs.push((after.descendantsUs - (before[i] as { descendantsUs: number }).descendantsUs) / answers);
      side.rps.push(answers / run.activeS);
    });
  }

  const [a, b] = sides as [Side, Side];
  const ratios = b.cpuUs.map((cpu, i) => cpu / (a.cpuUs[i] as number));
  const [q1, ratio, q3] = quartiles(ratios);
  const describe = (side: Side) => ({
    spec: side.spec,
    cpuUsPerCall: round(median(side.cpuUs), 1),
    postgresUsPerCall: round(median(side.postgresUs), 1),
    requestsPerSecond: round(median(side.rps), 0),
  });
  log(`B/A CPU per call: ${round(ratio, 3)} (quartiles ${round(q1, 3)}–${round(q3, 3)})`);
  return {
    benchmark: 'ab',
    date: new Date().toISOString(),
    machine: machineInfo(),
    settings: { rounds: ROUNDS, durationS: DURATION_S, warmupS: WARMUP_S, connections: CONNECTIONS },
    a: describe(a),
    b: describe(b),
    cpuPerCallBOverA: { median: round(ratio, 3), quartiles: [round(q1, 3), round(q3, 3)], rounds: ratios.map((value) => round(value, 3)) },
  };
});
