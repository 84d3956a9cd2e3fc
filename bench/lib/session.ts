// What every benchmark run shares: settings from the environment, progress lines on stderr,
// the child processes it starts (bench servers, `patchbay start` with its embedded PostgreSQL)
// and their cleanup, and the JSON report (stdout and bench/results/<name>-<timestamp>.json).
//
// A BenchSession stops what it started in reverse order on the way out: at the end of the run,
// on a failure, or on SIGINT/SIGTERM.
//
// BENCH_PROFILE=1 starts Patchbay with --cpu-prof: a V8 profile of the Patchbay process alone is
// written to bench/results/profiles/ when it stops.
//
// Patchbay starts as `npm start` starts it: package.json's `start` script (scripts/launch.mjs,
// which runs dist/ after compiling whatever source changed), with the same Node flags.
// BENCH_PATCHBAY=source runs bin/patchbay.ts through tsx instead; BENCH_PATCHBAY_ENTRY=<file> runs
// another compiled entry point (an A/B run of two builds), with the same flags;
// BENCH_PATCHBAY_FLAGS="<node flags>" adds Node flags (an A/B run of a V8 setting).
import { readFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import YAML from 'yaml';
import { stopOrphanPostgres } from '../../bin/postgres-orphan.js';
import { jsonUrl, spawnChild, type Child } from './children.js';
import { round } from './load.js';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const ROOT = path.dirname(BENCH_DIR);
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const PROFILE_DIR = path.join(RESULTS_DIR, 'profiles');
export const PROFILE = ['1', 'true', 'yes'].includes((process.env.BENCH_PROFILE ?? '').trim().toLowerCase());
/** How long a child may take to start (Patchbay: initdb and PostgreSQL on a fresh data dir). */
const SERVER_READY_MS = 30_000;
const FROM_SOURCE = (process.env.BENCH_PATCHBAY ?? '').trim().toLowerCase() === 'source';
const PATCHBAY_READY_MS = 180_000;

export function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

export function machineInfo() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

export interface Patchbay {
  child: Child;
  url: string;
  secretKey: string;
  /** PATCHBAY_DATA_DIR: secrets.json and the embedded PostgreSQL's cluster (postgres/). */
  dataDir: string;
}

export interface PatchbayOptions {
  /** The providers file (PATCHBAY_PROVIDERS_FILE), as an object written out as YAML. */
  providers: Record<string, unknown>;
  /** More PATCHBAY_* settings, e.g. PATCHBAY_FUNCTIONS_DIR. */
  env?: Record<string, string>;
  /** Another compiled entry point than this checkout's dist/bin/patchbay.js (A/B runs of two builds). */
  entry?: string;
}

export class BenchSession {
  readonly name: string;
  /** Undo steps, run in reverse on the way out. */
  private readonly undo: (() => Promise<void>)[] = [];
  private cleaning: Promise<void> | undefined;

  constructor(name: string) {
    this.name = name;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        this.log(`${signal}: stopping the servers`);
        void this.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
      });
    }
  }

  log(message: string): void {
    process.stderr.write(`[bench:${this.name}] ${message}\n`);
  }

  onCleanup(step: () => Promise<void>): void {
    this.undo.push(step);
  }

  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      for (const step of this.undo.splice(0).reverse()) {
        await step().catch((error: unknown) => this.log(`stop failed: ${String(error)}`));
      }
    })();
    return this.cleaning;
  }

  /** A temporary folder, removed on the way out. */
  async tempDir(prefix: string): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    this.onCleanup(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  /** Spawn a bench server (bench/servers/<file>) and stop it on the way out. */
  async startServer(name: string, file: string, env: NodeJS.ProcessEnv): Promise<Child> {
    const child = await spawnChild({
      name,
      args: ['--import', 'tsx', path.join(BENCH_DIR, 'servers', file)],
      env,
      cwd: ROOT,
      ready: jsonUrl,
      readyTimeoutMs: SERVER_READY_MS,
      stdin: true,
    });
    this.onCleanup(async () => {
      const exit = await child.stop(5000);
      if (exit.code !== 0) this.log(`${name} exited with code ${exit.code}, signal ${exit.signal}`);
    });
    return child;
  }

  /** `patchbay start` in a child process, on an embedded PostgreSQL in a fresh data dir. */
  async startPatchbay(options: PatchbayOptions): Promise<Patchbay> {
    const dataDir = await this.tempDir('patchbay-bench-');
    // As root, the embedded PostgreSQL runs as `postgres` and must traverse this folder.
    await chmod(dataDir, 0o755);
    const providersFile = path.join(dataDir, 'providers.yaml');
    await writeFile(providersFile, YAML.stringify(options.providers));
    const secretKey = randomUUID();
    // The caller's environment minus anything Patchbay would read: no DATABASE_URL (embedded
    // PostgreSQL) and no stray PATCHBAY_* setting.
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('PATCHBAY_') && name !== 'DATABASE_URL'),
    );
    Object.assign(env, {
      PATCHBAY_DATA_DIR: dataDir,
      PATCHBAY_SECRET_KEY: secretKey,
      PATCHBAY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      PATCHBAY_ALLOW_PRIVATE_EGRESS: 'true',
      PATCHBAY_PROVIDERS_FILE: providersFile,
      ...options.env,
    });

    const profileArgs: string[] = [];
    let profilesBefore = new Set<string>();
    if (PROFILE) {
      await mkdir(PROFILE_DIR, { recursive: true });
      profilesBefore = new Set(await readdir(PROFILE_DIR));
      profileArgs.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`);
    }
    const { flags, script } = npmStartCommand();
    const extraFlags = (process.env.BENCH_PATCHBAY_FLAGS ?? '').split(/\s+/).filter((flag) => flag !== '');
    const otherEntry = options.entry ?? process.env.BENCH_PATCHBAY_ENTRY;
    const entry = otherEntry !== undefined && otherEntry !== '' ? [otherEntry] : FROM_SOURCE ? ['--import', 'tsx', path.join(ROOT, 'bin', 'patchbay.ts')] : [path.join(ROOT, script)];
    const child = await spawnChild({
      name: 'patchbay',
      args: [...profileArgs, ...flags, ...extraFlags, ...entry, 'start'],
      env,
      cwd: ROOT,
      ready: (line) => /Patchbay is running at (\S+)/.exec(line)?.[1],
      readyTimeoutMs: PATCHBAY_READY_MS,
    });
    this.onCleanup(async () => {
      // SIGTERM: Patchbay finishes in-flight requests, flushes its logs and stops PostgreSQL.
      const exit = await child.stop(30_000);
      if (exit.code !== 0) this.log(`patchbay exited with code ${exit.code}, signal ${exit.signal}`);
      // A PostgreSQL left behind by a Patchbay that had to be killed holds the data dir: stop it.
      const pid = await stopOrphanPostgres(path.join(dataDir, 'postgres'));
      if (pid !== undefined) this.log(`stopped PostgreSQL (pid ${pid}) left behind by Patchbay`);
      if (PROFILE) await this.reportProfiles(profilesBefore);
    });
    return { child, url: child.url, secretKey, dataDir };
  }

  private async reportProfiles(before: Set<string>): Promise<void> {
    const written = (await readdir(PROFILE_DIR)).filter((name) => !before.has(name));
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is Patchbay's main thread;
    // the other is the thread tsx's module-loader hooks run on, idle once everything is loaded.
    for (const name of written.sort()) {
      const main = name.split('.')[4] === '0';
      this.log(`Patchbay CPU profile (${main ? 'main thread' : 'module-loader thread'}): ${path.relative(process.cwd(), path.join(PROFILE_DIR, name))}`);
    }
    if (written.length === 0) this.log('BENCH_PROFILE: Patchbay wrote no CPU profile');
  }

  /**
   * Runs the benchmark, prints its report on stdout and writes it to bench/results, stops every
   * child, and sets the exit code: 1 when `main` throws (a non-2xx response, a failed check).
   */
  async run(main: () => Promise<{ date: string } & Record<string, unknown>>): Promise<void> {
    let code = 1;
    try {
      const report = await main();
      const json = JSON.stringify(report, null, 2);
      await mkdir(RESULTS_DIR, { recursive: true });
      const file = path.join(RESULTS_DIR, `${this.name}-${report.date.replace(/[:.]/g, '-')}.json`);
      await writeFile(file, `${json}\n`);
      process.stdout.write(`${json}\n`);
      this.log(`written to ${path.relative(process.cwd(), file)}`);
      code = 0;
    } catch (error) {
      this.log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    } finally {
      await this.cleanup();
    }
    process.exitCode = code;
    // Everything has been stopped; if a handle still keeps the process alive, say so rather than hang.
    setTimeout(() => {
      this.log('a handle kept the process alive after shutdown; exiting');
      process.exit(code);
    }, 10_000).unref();
  }
}

/** package.json's `start` script, `node <flags> <script> start`, taken apart. */
function npmStartCommand(): { flags: string[]; script: string } {
  const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? '';
  const words = start.trim().split(/\s+/);
  if (words[0] !== 'node' || words.at(-1) !== 'start' || words.length < 3) throw new Error(`package.json's start script is not \`node <flags> <script> start\`: ${start}`);
  return { flags: words.slice(1, -2), script: words.at(-2) as string };
}

/** A call to Patchbay's API with its secret key; throws unless it answers 2xx. Returns the JSON body. */
export async function api(patchbay: Patchbay, method: 'GET' | 'POST', route: string, body?: unknown): Promise<unknown> {
  const response = await request(`${patchbay.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${patchbay.secretKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${route} answered ${response.statusCode}: ${text}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/** An integration of `provider` (under the same key) with one API-key connection: the benches' setup. */
export async function addApiKeyConnection(patchbay: Patchbay, provider: string, connectionId: string, apiKey: string): Promise<void> {
  await api(patchbay, 'POST', '/integrations', { provider, unique_key: provider });
  await api(patchbay, 'POST', '/connections', { provider_config_key: provider, connection_id: connectionId, credentials: { type: 'API_KEY', apiKey } });
}
