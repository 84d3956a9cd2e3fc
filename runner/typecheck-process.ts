// Runs typecheckFunctions (typecheck.ts) in a child process of its own. TypeScript and the ~150 MB
// of declaration trees a check parses would otherwise stay in the server's heap for as long as it
// runs, where every major GC walks them while the proxy is serving; and a process of its own gets
// V8 settings made for a compiler's short run, which the server's cannot have (V8's settings are
// per process). The process is kept a minute after its last check (a redeploy reuses its parsed
// trees), then stopped, which frees it all.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FunctionSource } from './bundle.js';
import type { TypecheckLocations, TypecheckResult } from './typecheck.js';

export interface CheckRequest {
  id: number;
  sources: FunctionSource[];
  functionsDir: string;
  locations: TypecheckLocations;
  /** typecheckFunctions' incremental build information file, if any. */
  buildInfoFile?: string;
}

export type CheckReply = { id: number; result: TypecheckResult } | { id: number; error: string };

const IDLE_MS = 60_000;

/** Where the checker keeps TypeScript's code cache (runner/code-cache.ts): beside the check's incremental state. */
const typescriptCodeCacheFile = (buildInfoFile: string) => `${buildInfoFile}.v8-code-cache`;

/**
 * TurboFan only for the checker's hottest code: V8 optimizes a function once it has run through
 * an "interrupt budget" of bytecode, here four times the default (67,584 in Node 20's V8). A check
 * runs for seconds, and with the default TurboFan spent more CPU compiling the checker (on V8's
 * background threads) than its code saved. Checking the 6 example functions: 3.0 → 2.1-2.4 s of CPU,
 * 1.8 → 1.4-1.6 s; 282 functions: 9.9 → 7.9 s of CPU, 6.5 → 5.6-6.1 s. Without TurboFan at all
 * (`--max-opt=1`) the 6 took 2.0 s of CPU but 1.8 s, and the 282 7.2-7.9 s.
 */
const CHECKER_V8_FLAGS = ['--interrupt-budget=270336'];

interface Pending {
  resolve(result: TypecheckResult): void;
  reject(error: Error): void;
}

let checker: ChildProcess | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let nextId = 0;
const pending = new Map<number, Pending>();

function failAll(error: Error): void {
  for (const waiter of pending.values()) waiter.reject(error);
  pending.clear();
}

/** Lets the process exit while the checker idles (the child and its message channel both hold it). */
function hold(child: ChildProcess, held: boolean): void {
  if (held) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}

/** `buildInfoFile`: the checks' incremental state, if kept; TypeScript's code cache is kept beside it. */
function startChecker(buildInfoFile: string | undefined): ChildProcess {
  // Compiled into dist/ the child's file is plain JavaScript. Run from source (tsx, vitest) it is
  // TypeScript: the child loads tsx's loader first.
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSource ? './typecheck-child.ts' : './typecheck-child.js', import.meta.url));
  const started = fork(file, buildInfoFile === undefined ? [] : [typescriptCodeCacheFile(buildInfoFile)], {
    execArgv: [...CHECKER_V8_FLAGS, ...(fromSource ? ['--import', import.meta.resolve('tsx')] : [])],
    // Nothing of the server's environment (its keys, the database's URL): the checker reads files only.
    env: {},
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  started.on('message', (reply: CheckReply) => {
    const waiter = pending.get(reply.id);
    if (waiter === undefined) return;
    pending.delete(reply.id);
    if ('error' in reply) waiter.reject(new Error(reply.error));
    else waiter.resolve(reply.result);
    if (pending.size === 0) {
      hold(started, false);
      stopWhenIdle();
    }
  });
  // A checker stopped while idle may report its end after the next one took a check: what is
  // pending then is the next one's.
  started.on('error', (error) => {
    if (checker !== started) return;
    checker = undefined;
    failAll(error);
  });
  started.on('exit', (code, signal) => {
    if (checker !== started) return;
    checker = undefined;
    failAll(new Error(`the type check process exited (${signal ?? `code ${code}`})`));
  });
  return started;
}

function stopWhenIdle(): void {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(stopTypecheckProcess, IDLE_MS);
  idleTimer.unref();
}

/**
 * Stops the process now if no check is running, instead of a minute later: `patchbay start` builds
 * its functions once, and the checker's memory has no use after that.
 */
export function stopTypecheckProcess(): void {
  if (checker === undefined || pending.size > 0) return;
  clearTimeout(idleTimer);
  const idle = checker;
  checker = undefined;
  idle.kill();
}

/**
 * Starts the type check process ahead of its first check, which it loads TypeScript for meanwhile
 * (`patchbay start`, once it knows its functions must be built: ~0.3 s of the check's critical
 * path). Unused, it stops when idle as after a check.
 */
export function prepareTypecheckProcess(buildInfoFile?: string): void {
  if (checker !== undefined) return;
  checker = startChecker(buildInfoFile);
  hold(checker, false);
  stopWhenIdle();
}

/** typecheckFunctions, in the type check process. */
export function typecheckInProcess(sources: FunctionSource[], functionsDir: string, locations: TypecheckLocations, buildInfoFile?: string): Promise<TypecheckResult> {
  clearTimeout(idleTimer);
  const child = (checker ??= startChecker(buildInfoFile));
  const id = nextId++;
  const request: CheckRequest = { id, sources, functionsDir, locations, ...(buildInfoFile === undefined ? {} : { buildInfoFile }) };
  // Held while a check runs (a `patchbay deploy` waits for nothing else); an idle checker must
  // not keep the process alive.
  hold(child, true);
  return new Promise<TypecheckResult>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    child.send(request, (error) => {
      if (error === null || !pending.has(id)) return;
      pending.delete(id);
      reject(error);
    });
  });
}
