// Child processes for the benchmarks: spawn a Node script, wait for the URL it announces on
// stdout, forward the rest of its output to stderr (stdout carries only the JSON report), and
// stop it with SIGTERM (SIGKILL after a timeout).
//
// Every child still running when this process exits gets a SIGTERM from a process 'exit' hook,
// whatever the path to the exit; children spawned with `stdin: true` also see their stdin close
// when this process dies without running the hook (SIGKILL), and are expected to exit then.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import readline from 'node:readline';
import type { Readable } from 'node:stream';

export interface ChildOptions {
  name: string;
  /** Arguments to `node` (process.execPath). */
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The URL a stdout line announces, or undefined for any other line. */
  ready: (line: string) => string | undefined;
  readyTimeoutMs: number;
  /** Give the child a stdin pipe, which closes when this process dies. */
  stdin?: boolean;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  name: string;
  pid: number;
  url: string;
  /** SIGTERM, then SIGKILL if it has not exited after timeoutMs. Resolves once it has exited. */
  stop(timeoutMs: number): Promise<ChildExit>;
}

const live = new Set<ChildProcess>();
let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  });
}

/** A stdout line holding a JSON object with a `url` field (the bench servers' announcement). */
export function jsonUrl(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as { url?: unknown };
    return typeof value.url === 'string' ? value.url : undefined;
  } catch {
    return undefined;
  }
}

export function spawnChild(options: ChildOptions): Promise<Child> {
  installExitHook();
  const { name } = options;
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  live.add(child);

  let exitInfo: ChildExit | undefined;
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const prefix = `[${name}] `;
  const forward = (line: string) => {
    if (line.trim() !== '') process.stderr.write(`${prefix}${line}\n`);
  };
  readline.createInterface({ input: child.stderr as Readable }).on('line', forward);

  const stop = async (timeoutMs: number): Promise<ChildExit> => {
    if (exitInfo !== undefined) return exitInfo;
    if (child.pid === undefined) return { code: null, signal: null }; // never started
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      process.stderr.write(`${prefix}did not exit ${timeoutMs} ms after SIGTERM; sending SIGKILL\n`);
      child.kill('SIGKILL');
    }
    return exited;
  };

  return new Promise<Child>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop(5000).finally(() => reject(error));
    };
    const timer = setTimeout(() => fail(new Error(`${name} did not announce its URL within ${options.readyTimeoutMs} ms`)), options.readyTimeoutMs);
    child.once('error', (error) => fail(new Error(`${name} could not be started: ${error.message}`)));
    void exited.then(({ code, signal }) => fail(new Error(`${name} exited (code ${code}, signal ${signal}) before announcing its URL`)));
    readline.createInterface({ input: child.stdout as Readable }).on('line', (line) => {
      if (!settled) {
        const url = options.ready(line);
        if (url !== undefined) {
          settled = true;
          clearTimeout(timer);
          resolve({ name, pid: child.pid as number, url, stop });
          return;
        }
      }
      forward(line);
    });
  });
}

// ---------------------------------------------------------------- CPU time, from /proc (Linux)

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface ProcStat {
  ppid: number;
  /** utime + stime of every thread, in clock ticks. */
  ticks: number;
  /** cutime + cstime: the children it has reaped (for PostgreSQL: backends that have exited). */
  reapedTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is parenthesised and may hold spaces: split after its ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), reapedTicks: Number(fields[13]) + Number(fields[14]) };
  } catch {
    return undefined;
  }
}

export interface ProcessCpu {
  /** CPU time of the process itself (all its threads), in µs. */
  selfUs: number;
  /**
   * CPU time of its descendants (for Patchbay: the embedded PostgreSQL), in µs: the live ones
   * and those their parents have reaped, so it only grows while the process tree stays put.
   */
  descendantsUs: number;
}

/** The CPU time a process and its descendants have used so far, or undefined without /proc. */
export function processCpu(pid: number): ProcessCpu | undefined {
  const self = readStat(pid);
  if (self === undefined) return undefined;
  const children = new Map<number, number[]>();
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    const other = Number(entry);
    if (!Number.isInteger(other)) continue;
    const stat = readStat(other);
    if (stat === undefined) continue;
    stats.set(other, stat);
    const siblings = children.get(stat.ppid);
    if (siblings === undefined) children.set(stat.ppid, [other]);
    else siblings.push(other);
  }
  let descendants = self.reapedTicks;
  const queue = [...(children.get(pid) ?? [])];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    const stat = stats.get(next);
    descendants += (stat?.ticks ?? 0) + (stat?.reapedTicks ?? 0);
    queue.push(...(children.get(next) ?? []));
  }
  const us = 1e6 / clockTicks();
  return { selfUs: self.ticks * us, descendantsUs: descendants * us };
}
