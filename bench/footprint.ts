// npm run bench:footprint — what `npm start` costs a self-hoster: how long until /health answers
// and how much memory the whole process tree holds (npm, the shell, Patchbay, esbuild's service if
// any, the embedded PostgreSQL and its backends), next to the targets of issue 18.
//
// Phases, in one run, each a real `npm start` in the checkout (BENCH_ROOT, default this one) with
// its own functions/ folder, on a temporary data dir:
//   cold     empty data dir (initdb, migrations, functions built and deployed): spawn → /health 200
//   edited   BENCH_EDITS starts (median and each), each after an edit to one function (an export
//            appended to an action, the file dated a minute back as a saved file is): the build of
//            that function only (bundle, its type check, its definition); the others come from the
//            data dir's caches
//   warm     BENCH_STARTS more starts on the same data dir, functions unchanged (median and each)
//   idle     BENCH_IDLE_S seconds after the last warm start: the tree's memory, and the CPU it
//            used meanwhile (all its processes, as a share of one core: an idle Patchbay's loops
//            sleep until something is due, so this stays near zero)
//   loaded   BENCH_LOAD_S seconds of GET /proxy at 64 connections to a loopback upstream, the
//            tree's memory sampled every second (peak and at the end), and the requests/s
//   after    BENCH_AFTER_S seconds of quiet, sampled every 5 s: the last figure and when the tree
//            first fell under 200 MB
//   catalog  the provider catalog load every start does (loadCatalog, this checkout's code, in this
//            process): the shipped catalog, and Nango's whole providers.yaml (~1,000 entries, from
//            @nangohq/providers) as the operator's file; median of BENCH_CATALOG_ROUNDS loads each
// The functions folder is a copy of the checkout's functions/ (the edit happens in the copy);
// BENCH_FUNCTION_COPIES=N makes it N copies of each integration (github1, github2…: 282 functions
// with 47), each function's code its own, to see how the cold and edited starts grow with the
// folder (memory then counts them too).
// Memory is read from /proc, three ways: `rssMb` sums every process's VmRSS (what `ps` shows;
// pages shared between processes, such as PostgreSQL's shared buffers or the node binary, count
// once per process), `pssMb` sums their Pss (shared pages split among all their users, including
// processes outside the tree: this bench's own node processes make it smaller), and `treeMb`, the
// memory the tree would hold on a machine of its own: its processes' anonymous and shared-memory
// pages (Pss_Anon + Pss_Shmem: shared only among themselves) plus each mapped file's resident
// pages once (the largest Rss any of them has of it). The targets are judged on `treeMb`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { appendFile, chmod, cp, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { request } from 'undici';
import YAML from 'yaml';
import { stopOrphanPostgres } from '../bin/postgres-orphan.js';
import { freePort } from '../bin/embedded-postgres.js';
import { loadCatalog } from '../server/providers/catalog.js';
import { processCpu } from './lib/children.js';
import { median, runLoad, round } from './lib/load.js';
import { api, BenchSession, machineInfo, positiveNumber, ROOT, type Patchbay } from './lib/session.js';

const CHECKOUT = path.resolve(process.env.BENCH_ROOT ?? ROOT);
const STARTS = Math.max(1, Math.round(positiveNumber('BENCH_STARTS', 3)));
const EDITS = Math.max(1, Math.round(positiveNumber('BENCH_EDITS', 3)));
const IDLE_S = positiveNumber('BENCH_IDLE_S', 10);
const LOAD_S = positiveNumber('BENCH_LOAD_S', 60);
const AFTER_S = positiveNumber('BENCH_AFTER_S', 60);
const CATALOG_ROUNDS = Math.max(1, Math.round(positiveNumber('BENCH_CATALOG_ROUNDS', 5)));
const FUNCTION_COPIES = Math.max(1, Math.round(positiveNumber('BENCH_FUNCTION_COPIES', 1)));
const LOAD_CONNECTIONS = 64;
/** How often /health is asked while a start is under way. */
const HEALTH_POLL_MS = 20;
const START_TIMEOUT_MS = 180_000;
const AFTER_SAMPLE_MS = 5000;

const TARGETS = {
  coldStartMs: { target: '< 6000', ok: (v: number) => v < 6000 },
  warmStartMs: { target: '< 2000', ok: (v: number) => v < 2000 },
  nangoCatalogLoadMs: { target: '< 2000 (well under the start-up budget)', ok: (v: number) => v < 2000 },
  idleMb: { target: '< 150', ok: (v: number) => v < 150 },
  loadedMb: { target: '< 300 (peak over the load)', ok: (v: number) => v < 300 },
  afterLoadMb: { target: '< 200, a minute after the load', ok: (v: number) => v < 200 },
} as const;

const session = new BenchSession('footprint');
const log = (message: string) => session.log(message);

// ---------------------------------------------------------------- the process tree, from /proc

interface ProcessMemory {
  pid: number;
  role: string;
  rssMb: number;
  pssMb: number;
  /** Pss_Anon + Pss_Shmem. */
  privateMb: number;
  /** Resident MB of each mapped file. */
  files: Map<string, number>;
}

/**
 * Shared memory that the kernel shows as a mapped file: PostgreSQL's main shared memory (a shared
 * mapping of /dev/zero: its shared buffers), POSIX and System V segments, memfds. Its pages are
 * Pss_Shmem, already counted per process; counting them again as a file counted PostgreSQL's
 * shared buffers twice (7 MB idle, 35 MB after a load).
 */
const SHARED_MEMORY_FILE = /^\/(dev\/zero|dev\/shm\/|SYSV|memfd:)/;

function mappedFiles(pid: number): Map<string, number> {
  const files = new Map<string, number>();
  let current: string | undefined;
  for (const line of (readText(`/proc/${pid}/smaps`) ?? '').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (header !== null) {
      const name = header[2] ?? '';
      current = header[1] !== '0' && name.startsWith('/') && !SHARED_MEMORY_FILE.test(name) ? name : undefined;
      continue;
    }
    if (current !== undefined && line.startsWith('Rss:')) files.set(current, (files.get(current) ?? 0) + Number(/(\d+)/.exec(line)?.[1] ?? 0) / 1024);
  }
  return files;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** `pid` and every process below it. */
function treeOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const other = Number(entry);
    if (!Number.isInteger(other)) continue;
    const parent = parentOf(other);
    if (parent === undefined) continue;
    children.set(parent, [...(children.get(parent) ?? []), other]);
  }
  const tree: number[] = [];
  const queue = [pid];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

function commandOf(pid: number): string {
  return (readText(`/proc/${pid}/cmdline`) ?? '').split('\0').join(' ').trim();
}

function roleOf(pid: number, root: number): string {
  const command = commandOf(pid);
  if (pid === root) return 'npm';
  if (/esbuild/.test(command)) return 'esbuild';
  if (/(^|\/)postgres(\s|:|$)|^postgres:/.test(command)) return 'postgres';
  if (/^(\/bin\/)?(sh|bash|dash)\b/.test(command)) return 'sh';
  // `npm start` runs scripts/launch.mjs (bin/patchbay.ts through tsx before it).
  if (/launch\.mjs|bin\/patchbay/.test(command)) return 'patchbay';
  return command.split(' ')[0] ?? 'other';
}

function kbField(text: string | undefined, field: string): number {
  const match = text === undefined ? null : new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]) / 1024;
}

interface TreeMemory {
  /** What the targets are judged on (see the top of this file). */
  treeMb: number;
  rssMb: number;
  pssMb: number;
  /** Resident pages of mapped files (the node and postgres binaries, libraries), each file once. */
  filesMb: number;
  /** Summed per role: npm, sh, patchbay, esbuild, postgres; `privateMb` is Pss_Anon + Pss_Shmem. */
  byRole: Record<string, { processes: number; rssMb: number; pssMb: number; privateMb: number }>;
}

function treeMemory(root: number): TreeMemory {
  const processes: ProcessMemory[] = treeOf(root).map((pid) => {
    const rollup = readText(`/proc/${pid}/smaps_rollup`);
    return {
      pid,
      role: roleOf(pid, root),
      rssMb: kbField(readText(`/proc/${pid}/status`), 'VmRSS'),
      pssMb: kbField(rollup, 'Pss'),
      privateMb: kbField(rollup, 'Pss_Anon') + kbField(rollup, 'Pss_Shmem'),
      files: mappedFiles(pid),
    };
  });
  const byRole: TreeMemory['byRole'] = {};
  const fileMb = new Map<string, number>();
  for (const p of processes) {
    const role = (byRole[p.role] ??= { processes: 0, rssMb: 0, pssMb: 0, privateMb: 0 });
    role.processes += 1;
    role.rssMb = round(role.rssMb + p.rssMb, 1);
    role.pssMb = round(role.pssMb + p.pssMb, 1);
    role.privateMb = round(role.privateMb + p.privateMb, 1);
    for (const [file, mb] of p.files) fileMb.set(file, Math.max(fileMb.get(file) ?? 0, mb));
  }
  const filesMb = [...fileMb.values()].reduce((sum, mb) => sum + mb, 0);
  return {
    treeMb: round(processes.reduce((sum, p) => sum + p.privateMb, 0) + filesMb, 1),
    filesMb: round(filesMb, 1),
    rssMb: round(processes.reduce((sum, p) => sum + p.rssMb, 0), 1),
    pssMb: round(processes.reduce((sum, p) => sum + p.pssMb, 0), 1),
    byRole,
  };
}

const describe = (memory: TreeMemory) =>
  `${memory.treeMb} MB (files ${memory.filesMb}, private: ${Object.entries(memory.byRole)
    .map(([role, m]) => `${role}${m.processes > 1 ? `×${m.processes}` : ''} ${m.privateMb}`)
    .join(', ')}; RSS sum ${memory.rssMb}, PSS sum ${memory.pssMb})`;

// ---------------------------------------------------------------- npm start

interface Started {
  npm: ChildProcess;
  url: string;
  secretKey: string;
  startMs: number;
}

/** Median ms of CATALOG_ROUNDS loads of the catalog with `overrideFile` (warnings ignored). */
function catalogLoadMs(overrideFile: string | undefined): number {
  const times: number[] = [];
  for (let i = 0; i < CATALOG_ROUNDS; i++) {
    const started = performance.now();
    loadCatalog(overrideFile, { onWarning: () => undefined });
    times.push(performance.now() - started);
  }
  return round(median(times), 1);
}

async function isHealthy(url: string): Promise<boolean> {
  try {
    const response = await request(`${url}/health`, { headersTimeout: 1000, bodyTimeout: 1000 });
    await response.body.dump();
    return response.statusCode === 200;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `npm start` in the checkout, timed from the spawn to the first 200 from /health. */
async function npmStart(env: NodeJS.ProcessEnv): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const startedAt = performance.now();
  const npm = spawn('npm', ['start'], { cwd: CHECKOUT, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let secretKey: string | undefined;
  readline.createInterface({ input: npm.stdout as NonNullable<typeof npm.stdout> }).on('line', (line) => {
    secretKey ??= /Secret key: (\S+)/.exec(line)?.[1];
  });
  readline.createInterface({ input: npm.stderr as NonNullable<typeof npm.stderr> }).on('line', (line) => {
    if (line.trim() !== '') process.stderr.write(`[npm start] ${line}\n`);
  });
  let exited = false;
  npm.once('exit', () => (exited = true));
  while (!(await isHealthy(url))) {
    if (exited) throw new Error(`npm start exited (code ${npm.exitCode}) before /health answered`);
    if (performance.now() - startedAt > START_TIMEOUT_MS) throw new Error(`/health did not answer within ${START_TIMEOUT_MS} ms`);
    await sleep(HEALTH_POLL_MS);
  }
  const startMs = round(performance.now() - startedAt, 0);
  // The banner comes once the server listens: /health may answer a moment before it is printed.
  for (let waited = 0; secretKey === undefined && waited < 5000; waited += 20) await sleep(20);
  if (secretKey === undefined) throw new Error('npm start printed no secret key');
  return { npm, url, secretKey, startMs };
}

/** SIGTERM to Patchbay (npm's child), as Ctrl-C would reach it; then waits for npm to end. */
async function npmStop(started: Started, dataDir: string): Promise<void> {
  const npmPid = started.npm.pid as number;
  if (started.npm.exitCode === null && started.npm.signalCode === null) {
    const exit = new Promise<void>((resolve) => started.npm.once('exit', () => resolve()));
    const patchbay = treeOf(npmPid).filter((pid) => roleOf(pid, npmPid) === 'patchbay');
    for (const pid of patchbay.length > 0 ? patchbay : [npmPid]) process.kill(pid, 'SIGTERM');
    // The wait is cleared once npm ends: left running, it kept this process alive 30 s after its report.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([exit.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 30_000)))]);
    clearTimeout(timer);
    if (timedOut) {
      log('npm start did not end 30 s after SIGTERM; killing its process group');
      process.kill(-npmPid, 'SIGKILL');
      await exit;
    }
  }
  const orphan = await stopOrphanPostgres(path.join(dataDir, 'postgres'));
  if (orphan !== undefined) log(`stopped PostgreSQL (pid ${orphan}) left behind`);
}

// ---------------------------------------------------------------- the functions folder

interface BenchFunctions {
  dir: string;
  /** Actions and syncs in it. */
  count: number;
  /** The file `editOne` changes (relative to `dir`). */
  edited: string;
  editOne(): Promise<void>;
}

/** The checkout's functions/ copied into `parent` (FUNCTION_COPIES times each integration). */
async function functionsFolder(parent: string): Promise<BenchFunctions> {
  const source = path.join(CHECKOUT, 'functions');
  const dir = path.join(parent, 'functions');
  const integrations = (await readdir(source, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  await cp(source, dir, { recursive: true, filter: (file) => !integrations.includes(path.relative(source, file).split(path.sep)[0] ?? '') });
  for (const integration of integrations) {
    for (let copy = 1; copy <= FUNCTION_COPIES; copy++) {
      await cp(path.join(source, integration), path.join(dir, FUNCTION_COPIES === 1 ? integration : `${integration}${copy}`), { recursive: true });
    }
  }
  const files = (await readdir(dir, { recursive: true })).map(String).filter((file) => /(^|\/)(actions|syncs)\/[^/]+\.ts$/.test(file)).sort();
  // Copies bundle to code of their own, as different functions do (identical ones would share a
  // bundle, a definition and a row of the database).
  if (FUNCTION_COPIES > 1) for (const file of files) await appendFile(path.join(dir, file), `\nexport const benchCopy = ${JSON.stringify(file.split('/')[0])};\n`);
  const edited = files.find((file) => file.includes('/actions/'));
  if (edited === undefined) throw new Error(`no action in ${source} to edit`);
  // Every file saved a minute before the start, as a checkout's are: a file modified just before
  // (or during) a build is not cached, and the copies were made just now.
  const minuteAgo = () => new Date(Date.now() - 60_000);
  let edits = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) await utimes(path.join(entry.parentPath, entry.name), minuteAgo(), minuteAgo());
  }
  return {
    dir,
    count: files.length,
    edited,
    async editOne() {
      const file = path.join(dir, edited);
      // A new name each time: a second `benchEdited` would not type-check.
      await appendFile(file, `\nexport const benchEdited${edits++} = ${Date.now()};\n`);
      await utimes(file, minuteAgo(), minuteAgo());
    },
  };
}

// ---------------------------------------------------------------- the run

async function main() {
  const upstream = await session.startServer('upstream', 'upstream.ts', process.env);
  const dataDir = await session.tempDir('patchbay-footprint-');
  // As root, the embedded PostgreSQL runs as `postgres` and must traverse this folder.
  await chmod(dataDir, 0o755);
  // The shipped catalog plus one provider pointing at the loopback upstream.
  const providers = YAML.parse(readFileSync(path.join(CHECKOUT, 'server', 'providers', 'providers.yaml'), 'utf8')) as Record<string, unknown>;
  providers['bench-api'] = { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, headers: { authorization: 'Bearer ${apiKey}' } } };
  const providersFile = path.join(dataDir, 'providers.yaml');
  await writeFile(providersFile, YAML.stringify(providers));
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('PATCHBAY_') && !name.startsWith('npm_') && name !== 'DATABASE_URL'),
  );
  Object.assign(env, {
    PATCHBAY_DATA_DIR: dataDir,
    PATCHBAY_PROVIDERS_FILE: providersFile,
    PATCHBAY_ALLOW_PRIVATE_EGRESS: 'true',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  });

  const functions = await functionsFolder(await session.tempDir('patchbay-footprint-functions-'));
  env.PATCHBAY_FUNCTIONS_DIR = functions.dir;

  let current: Started | undefined;
  session.onCleanup(async () => {
    if (current !== undefined) await npmStop(current, dataDir);
  });

  log(`cold start of ${CHECKOUT} (empty data dir)`);
  current = await npmStart(env);
  const coldStartMs = current.startMs;
  log(`cold start: /health after ${coldStartMs} ms`);
  // The first start's background work (a type check thread, esbuild) ends before the next.
  await sleep(2000);
  await npmStop(current, dataDir);
  current = undefined;

  const editedStartsMs: number[] = [];
  for (let i = 0; i < EDITS; i++) {
    await functions.editOne();
    await sleep(1000);
    current = await npmStart(env);
    editedStartsMs.push(current.startMs);
    log(`start after editing ${functions.edited} (${i + 1}/${EDITS}): /health after ${current.startMs} ms`);
    await sleep(2000);
    await npmStop(current, dataDir);
    current = undefined;
  }
  const editedStartMs = median(editedStartsMs);

  const warmStartsMs: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    await sleep(1000);
    current = await npmStart(env);
    warmStartsMs.push(current.startMs);
    log(`warm start ${i + 1}/${STARTS}: /health after ${current.startMs} ms`);
    if (i < STARTS - 1) {
      await npmStop(current, dataDir);
      current = undefined;
    }
  }
  const warmStartMs = median(warmStartsMs);
  log(`the edit added ${round(editedStartMs - warmStartMs, 0)} ms to a warm start (${functions.count} functions in the folder)`);
  const started = current as Started;
  const npmPid = started.npm.pid as number;

  const afterStart = treeMemory(npmPid);
  const cpuBefore = processCpu(npmPid);
  await sleep(IDLE_S * 1000);
  const idle = treeMemory(npmPid);
  const cpuAfter = processCpu(npmPid);
  const idleCpuPercent =
    cpuBefore === undefined || cpuAfter === undefined
      ? null
      : round(((cpuAfter.selfUs + cpuAfter.descendantsUs - cpuBefore.selfUs - cpuBefore.descendantsUs) / (IDLE_S * 1e6)) * 100, 2);
  log(`idle: right after start ${describe(afterStart)}; ${IDLE_S} s later ${describe(idle)}; CPU meanwhile ${idleCpuPercent ?? '?'} % of a core`);

  const patchbay: Patchbay = { child: { name: 'patchbay', pid: npmPid, url: started.url, stop: async () => ({ code: 0, signal: null }) }, url: started.url, secretKey: started.secretKey, dataDir };
  await api(patchbay, 'POST', '/integrations', { provider: 'bench-api', unique_key: 'bench' });
  await api(patchbay, 'POST', '/connections', { provider_config_key: 'bench', connection_id: 'c-1', credentials: { type: 'API_KEY', apiKey: 'k-1' } });

  log(`loaded: ${LOAD_S} s of GET /proxy at ${LOAD_CONNECTIONS} connections`);
  const samples: TreeMemory[] = [];
  const sampler = setInterval(() => samples.push(treeMemory(npmPid)), 1000);
  const load = await runLoad({
    url: `${started.url}/proxy/items?x=1`,
    connections: LOAD_CONNECTIONS,
    durationS: LOAD_S,
    headers: { authorization: `Bearer ${started.secretKey}`, 'provider-config-key': 'bench', 'connection-id': 'c-1' },
  }).finally(() => clearInterval(sampler));
  const atEnd = treeMemory(npmPid);
  samples.push(atEnd);
  const peak = samples.reduce((a, b) => (b.treeMb > a.treeMb ? b : a));
  log(`loaded: ${load.rps} requests/s, p99 ${load.p99} ms; peak ${describe(peak)}; at the end ${describe(atEnd)}`);

  const after: { s: number; treeMb: number; rssMb: number; pssMb: number }[] = [];
  let underAfterS: number | null = atEnd.treeMb < 200 ? 0 : null;
  let lastAfter = atEnd;
  for (let waitedMs = AFTER_SAMPLE_MS; waitedMs <= AFTER_S * 1000; waitedMs += AFTER_SAMPLE_MS) {
    await sleep(AFTER_SAMPLE_MS);
    lastAfter = treeMemory(npmPid);
    after.push({ s: waitedMs / 1000, treeMb: lastAfter.treeMb, rssMb: lastAfter.rssMb, pssMb: lastAfter.pssMb });
    if (underAfterS === null && lastAfter.treeMb < 200) underAfterS = waitedMs / 1000;
  }
  log(`after: ${AFTER_S} s later ${describe(lastAfter)}; under 200 MB after ${underAfterS ?? 'never'} s`);

  const nangoProviders = path.join(path.dirname(createRequire(import.meta.url).resolve('@nangohq/providers/package.json')), 'providers.yaml');
  const catalog = { shippedMs: catalogLoadMs(undefined), nangoMs: catalogLoadMs(nangoProviders), rounds: CATALOG_ROUNDS };
  log(`catalog: the shipped one loads in ${catalog.shippedMs} ms, with Nango's providers.yaml in ${catalog.nangoMs} ms (median of ${CATALOG_ROUNDS})`);

  const measured: Record<keyof typeof TARGETS, number> = {
    coldStartMs,
    warmStartMs,
    nangoCatalogLoadMs: catalog.nangoMs,
    idleMb: idle.treeMb,
    loadedMb: peak.treeMb,
    // BENCH_AFTER_S (60 by default) after the load: "back under 200 MB within a minute".
    afterLoadMb: lastAfter.treeMb,
  };
  const targets = Object.fromEntries(
    Object.entries(TARGETS).map(([name, { target, ok }]) => {
      const value = measured[name as keyof typeof TARGETS];
      return [name, { value, target, met: ok(value) }];
    }),
  );
  for (const [name, t] of Object.entries(targets)) log(`${t.met ? 'met    ' : 'NOT MET'} ${name}: ${t.value} (target ${t.target})`);
  return {
    date: new Date().toISOString(),
    machine: machineInfo(),
    checkout: CHECKOUT,
    settings: { starts: STARTS, edits: EDITS, idleS: IDLE_S, loadS: LOAD_S, afterS: AFTER_S, loadConnections: LOAD_CONNECTIONS, catalogRounds: CATALOG_ROUNDS, functionCopies: FUNCTION_COPIES },
    functions: { count: functions.count, edited: functions.edited },
    start: { coldMs: coldStartMs, warmMs: warmStartMs, warmEachMs: warmStartsMs, editedMs: editedStartMs, editedEachMs: editedStartsMs, editAddedMs: round(editedStartMs - warmStartMs, 0), catalog },
    idleCpu: { seconds: IDLE_S, percentOfCore: idleCpuPercent },
    memory: { afterStart, idle, loadedPeak: peak, loadedAtEnd: atEnd, afterLoad: lastAfter, afterLoadSamples: after, underTwoHundredAfterS: underAfterS },
    load: { rps: load.rps, p50: load.p50, p99: load.p99, requests: load.requests },
    targets,
  };
}

await session.run(main);
