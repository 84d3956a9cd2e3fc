// Runs typecheckFunctions (typecheck.ts) on a worker thread. TypeScript and the ~150 MB of
// declaration trees a check parses would otherwise stay in the server's heap for as long as it
// runs, where every major GC walks them while the proxy is serving. The thread is kept a minute
// after its last check (a redeploy reuses its parsed trees), then stopped, which frees it all.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FunctionSource } from './bundle.js';
import type { TypecheckLocations, TypecheckResult } from './typecheck.js';

export interface CheckRequest {
  id: number;
  sources: FunctionSource[];
  functionsDir: string;
  locations: TypecheckLocations;
}

export type CheckReply = { id: number; result: TypecheckResult } | { id: number; error: string };

const IDLE_MS = 60_000;

interface Pending {
  resolve(result: TypecheckResult): void;
  reject(error: Error): void;
}

let worker: Worker | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let nextId = 0;
const pending = new Map<number, Pending>();

function failAll(error: Error): void {
  for (const waiter of pending.values()) waiter.reject(error);
  pending.clear();
}

function startWorker(): Worker {
  // Compiled into dist/ the thread's file is plain JavaScript. Run from source (tsx, vitest) it
  // is TypeScript: the thread registers tsx's loader before importing it.
  const fromSource = import.meta.url.endsWith('.ts');
  const started = fromSource
    ? new Worker(
        `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
          `.then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./typecheck-worker.ts', import.meta.url).href)}); })`,
        { eval: true },
      )
    : new Worker(fileURLToPath(new URL('./typecheck-worker.js', import.meta.url)));
  started.on('message', (reply: CheckReply) => {
    const waiter = pending.get(reply.id);
    if (waiter === undefined) return;
    pending.delete(reply.id);
    if ('error' in reply) waiter.reject(new Error(reply.error));
    else waiter.resolve(reply.result);
    if (pending.size === 0) {
      started.unref();
      stopWhenIdle();
    }
  });
  started.on('error', (error) => {
    if (worker === started) worker = undefined;
    failAll(error);
  });
  started.on('exit', (code) => {
    if (worker === started) worker = undefined;
    if (pending.size > 0) failAll(new Error(`the type check thread exited with code ${code}`));
  });
  return started;
}

function stopWhenIdle(): void {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    const idle = worker;
    worker = undefined;
    void idle?.terminate();
  }, IDLE_MS);
  idleTimer.unref();
}

/**
 * Stops the thread now if no check is running, instead of a minute later: `patchbay start` builds
 * its functions once, and the checker's memory has no use after that.
 */
export function stopTypecheckThread(): void {
  if (worker === undefined || pending.size > 0) return;
  clearTimeout(idleTimer);
  const idle = worker;
  worker = undefined;
  void idle.terminate();
}

/** typecheckFunctions, on the type check thread. */
export function typecheckInThread(sources: FunctionSource[], functionsDir: string, locations: TypecheckLocations): Promise<TypecheckResult> {
  clearTimeout(idleTimer);
  worker ??= startWorker();
  const id = nextId++;
  const request: CheckRequest = { id, sources, functionsDir, locations };
  // Referenced while a check runs (a `patchbay deploy` waits for nothing else); an idle thread
  // must not keep the process alive.
  worker.ref();
  return new Promise<TypecheckResult>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    (worker as Worker).postMessage(request);
  });
}
