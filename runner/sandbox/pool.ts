// The isolate pool: up to `size` warm isolates (`minSize` made at once and kept, the others made
// on demand and disposed when idle), each running one run at a time, either in a warm context
// of the same function (its bundle already evaluated by an earlier run) or in a fresh context
// prepared while the isolate was idle; killed, worn or resized isolates are replaced, extra runs
// queue (and go first to an isolate that holds their function warm). Owns the CPU watchdog timer;
// knows nothing of what a run does (run.ts).
import ivm from 'isolated-vm';
import { Lru } from '../../server/lru.js';
import { ContextBridge } from './bridge.js';
import { loadGuestRuntime } from './guest-script.js';
import { GUEST_BOOTSTRAP_GLOBAL, RUNTIME_FILENAME, type GuestRequest } from './guest/protocol.js';
import { CPU_CHECK_INTERVAL_MS, ISOLATE_IDLE_MS, MAX_RUNS_PER_ISOLATE, MAX_WARM_CONTEXTS_PER_ISOLATE, RECYCLE_HEAP_FRACTION } from './limits.js';
import { CodeCache, ScriptCache } from './script-cache.js';

// The guest runtime's code cache key: no bundle hash can collide with it (hashes are hex).
const RUNTIME_CACHE_KEY = 'patchbay:guest-runtime';

/** A context ready for one run: the guest runtime evaluated, its host links connected. */
export interface PreparedContext {
  context: ivm.Context;
  /** The guest's `enter(request)`. */
  enter: ivm.Reference<(request: GuestRequest) => Promise<unknown>>;
  bridge: ContextBridge;
}

/** A context whose bundle is evaluated, kept for the next run of the same function version. */
export interface WarmContext {
  prepared: PreparedContext;
  /** Runs it has served. */
  runs: number;
}

export interface PoolOptions {
  size: number;
  /** Isolates made at once and kept when idle; the others up to `size` come and go with demand. */
  minSize?: number;
  /** How long an isolate above `minSize` may stay unused; default ISOLATE_IDLE_MS. */
  idleMs?: number | undefined;
  maxCachedScripts: number;
  codeCache: CodeCache;
}

function releaseQuietly(handle: { release(): void }): void {
  try {
    handle.release();
  } catch {
    // Its isolate is gone, and the handle with it.
  }
}

export function releasePrepared(prepared: PreparedContext): void {
  prepared.bridge.release();
  releaseQuietly(prepared.enter);
  releaseQuietly(prepared.context);
}

export class IsolateSlot {
  isolate!: ivm.Isolate;
  memoryMb!: number;
  /** Runs (and inspections) started on the current isolate. */
  runs = 0;
  busy = false;
  /** Heap (V8 + external, garbage included) measured after the last run; 0 before the first. */
  heapUsedBytes = 0;
  #runtime: Promise<ivm.Script> | undefined;
  readonly #scripts: ScriptCache;
  #next: Promise<PreparedContext> | undefined;
  // By bundle hash, the least recently used released past the limit. A context serves one function only.
  readonly #warm = new Lru<string, WarmContext>(MAX_WARM_CONTEXTS_PER_ISOLATE, (warm) => releasePrepared(warm.prepared));

  constructor(
    private readonly pool: IsolatePool,
    memoryMb: number,
    maxCachedScripts: number,
  ) {
    this.#scripts = new ScriptCache(maxCachedScripts);
    this.#create(memoryMb);
  }

  get compiledScripts(): number {
    return this.#scripts.size;
  }

  /** The prepared context, waiting for it if it is still being made. */
  takePrepared(): Promise<PreparedContext> {
    const next = this.#next ?? this.#prepare(false);
    this.#next = undefined;
    return next;
  }

  /** Whether a context of this bundle is kept warm here. */
  hasWarm(hash: string): boolean {
    return this.#warm.has(hash);
  }

  get warmContexts(): number {
    return this.#warm.size;
  }

  /** The warm context of this bundle, taken out while it runs (run.ts gives it back with keepWarm). */
  takeWarm(hash: string): WarmContext | undefined {
    return this.#warm.take(hash);
  }

  /** Keeps a context of this bundle for its next run; the least recently used goes past the limit. */
  keepWarm(hash: string, warm: WarmContext): void {
    this.#warm.set(hash, warm);
  }

  /** Starts preparing the next run's context now, while the isolate is idle. */
  prepareNext(checkHeap: boolean): void {
    if (this.#next !== undefined || this.isolate.isDisposed) return;
    const next = this.#prepare(checkHeap);
    // Observed here so that an idle failure is not an unhandled rejection; takePrepared rethrows it.
    next.catch(() => undefined);
    this.#next = next;
  }

  /** The bundle compiled in this isolate (cached by hash). */
  async script(hash: string, code: string, filename: string): Promise<ivm.Script> {
    const cached = this.#scripts.get(hash);
    if (cached !== undefined) return cached;
    const script = await this.pool.codeCache.compile(this.isolate, hash, code, filename);
    this.#scripts.set(hash, script);
    return script;
  }

  /** Replaces the isolate: after a kill, after MAX_RUNS_PER_ISOLATE runs, or for another memory limit. */
  renew(memoryMb: number): void {
    this.#dropNext();
    this.#replaceIsolate(memoryMb);
  }

  dispose(): void {
    this.#dropNext();
    this.#disposeIsolate();
  }

  #create(memoryMb: number): void {
    this.isolate = new ivm.Isolate({ memoryLimit: memoryMb });
    this.memoryMb = memoryMb;
    this.runs = 0;
    this.heapUsedBytes = 0;
    this.#runtime = undefined;
  }

  #replaceIsolate(memoryMb: number): void {
    this.#disposeIsolate();
    this.#create(memoryMb);
    this.pool.recycled++;
  }

  #dropNext(): void {
    const next = this.#next;
    this.#next = undefined;
    if (next !== undefined) this.pool.letGo(next.then(releasePrepared, () => undefined));
  }

  #disposeIsolate(): void {
    this.#warm.clear();
    this.#scripts.clear();
    if (this.#runtime !== undefined) this.pool.letGo(this.#runtime.then(releaseQuietly, () => undefined));
    this.#runtime = undefined;
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  async #prepare(checkHeap: boolean): Promise<PreparedContext> {
    if (checkHeap) {
      const heap = await this.isolate.getHeapStatistics();
      this.heapUsedBytes = heap.used_heap_size + heap.externally_allocated_size;
      // Not renew(): this preparation is the slot's next context and must survive.
      if (this.heapUsedBytes > this.memoryMb * 1024 * 1024 * RECYCLE_HEAP_FRACTION) this.#replaceIsolate(this.memoryMb);
    }
    const isolate = this.isolate;
    if (this.#runtime === undefined) {
      const compiling = loadGuestRuntime().then((source) => this.pool.codeCache.compile(isolate, RUNTIME_CACHE_KEY, source, RUNTIME_FILENAME));
      this.#runtime = compiling;
      // A failed build or compile is retried by the next preparation, not cached.
      compiling.catch(() => {
        if (this.#runtime === compiling) this.#runtime = undefined;
      });
    }
    const runtime = await this.#runtime;
    const context = await isolate.createContext();
    const bridge = new ContextBridge();
    try {
      await runtime.run(context);
      const bootstrap = await context.global.get(GUEST_BOOTSTRAP_GLOBAL, { reference: true });
      try {
        const enter = (await bootstrap.apply(undefined, [bridge.call, bridge.timer, bridge.service], { result: { reference: true } })) as PreparedContext['enter'];
        return { context, enter, bridge };
      } finally {
        bootstrap.release();
      }
    } catch (error) {
      bridge.release();
      releaseQuietly(context);
      throw error;
    }
  }
}

interface Waiter {
  memoryMb: number;
  hash: string | undefined;
  resolve: (slot: IsolateSlot) => void;
  reject: (error: Error) => void;
}

interface CpuWatch {
  usedNs: () => bigint;
  limitNs: bigint;
  onExceeded: () => void;
}

export class SandboxClosedError extends Error {
  constructor() {
    super('The sandbox is closed.');
    this.name = 'SandboxClosedError';
  }
}

export class IsolatePool {
  readonly codeCache: CodeCache;
  recycled = 0;
  runs = 0;
  readonly #slots: IsolateSlot[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #watches = new Set<CpuWatch>();
  readonly #active = new Set<() => void>();
  #cpuTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #drained: (() => void) | undefined;
  readonly #size: number;
  readonly #minSize: number;
  readonly #maxCachedScripts: number;
  readonly #idleMs: number;
  #shrinkTimer: NodeJS.Timeout | undefined;
  /**
   * isolated-vm work that slots and runs let go of while it was under way (a context being
   * prepared, the runtime being compiled, a killed run's call into its isolate). isolated-vm
   * answers it on this thread, even once its isolate is disposed, so close() waits for it to
   * settle: a runner thread exits right after, and isolated-vm answering a thread that is gone
   * aborts the process (`environment != nullptr`, `ivm::RuntimeError`).
   */
  readonly #lettingGo = new Set<Promise<void>>();

  constructor(options: PoolOptions & { memoryMb: number }) {
    this.codeCache = options.codeCache;
    this.#size = options.size;
    this.#minSize = Math.min(options.size, options.minSize ?? options.size);
    this.#maxCachedScripts = options.maxCachedScripts;
    this.#idleMs = options.idleMs ?? ISOLATE_IDLE_MS;
    for (let index = 0; index < this.#minSize; index++) this.#addSlot(options.memoryMb).prepareNext(false);
  }

  #addSlot(memoryMb: number): IsolateSlot {
    const slot = new IsolateSlot(this, memoryMb, this.#maxCachedScripts);
    this.#slots.push(slot);
    return slot;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** For slots: `work` they no longer wait for, which close() still does (see #lettingGo). */
  letGo(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#lettingGo.add(settled);
    void settled.then(() => this.#lettingGo.delete(settled));
  }

  get slots(): readonly IsolateSlot[] {
    return this.#slots;
  }

  get queued(): number {
    return this.#waiters.length;
  }

  /**
   * An idle isolate with `memoryMb` of heap, one holding the bundle `hash` warm if there is one,
   * waiting (FIFO) when all are busy.
   */
  acquire(memoryMb: number, signal?: AbortSignal, hash?: string): Promise<IsolateSlot> {
    if (this.#closed) return Promise.reject(new SandboxClosedError());
    const idle =
      (hash === undefined ? undefined : this.#slots.find((slot) => !slot.busy && slot.memoryMb === memoryMb && slot.hasWarm(hash))) ??
      this.#slots.find((slot) => !slot.busy && slot.memoryMb === memoryMb) ??
      this.#slots.find((slot) => !slot.busy);
    if (idle !== undefined) return Promise.resolve(this.#assign(idle, memoryMb));
    // All busy and room left: one more isolate, its context prepared by the run itself.
    if (this.#slots.length < this.#size) return Promise.resolve(this.#assign(this.#addSlot(memoryMb), memoryMb));
    return new Promise<IsolateSlot>((resolve, reject) => {
      const waiter: Waiter = { memoryMb, hash, resolve, reject };
      this.#waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.#waiters.indexOf(waiter);
          if (at >= 0) {
            this.#waiters.splice(at, 1);
            reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          }
        },
        { once: true },
      );
    });
  }

  /** Gives the slot back; `dirty` (killed, or calls still in flight) replaces its isolate. */
  release(slot: IsolateSlot, dirty: boolean): void {
    this.runs++;
    slot.busy = false;
    if (this.#closed) {
      slot.dispose();
      if (this.#slots.every((other) => !other.busy)) this.#drained?.();
      return;
    }
    const worn = slot.runs >= MAX_RUNS_PER_ISOLATE;
    const renewed = dirty || worn || slot.isolate.isDisposed;
    if (renewed) slot.renew(slot.memoryMb);
    slot.prepareNext(!renewed);
    // Among the oldest waiters (a window as wide as the pool, so no run waits long past its turn),
    // the first whose function is warm here; else the oldest.
    const window = Math.min(this.#waiters.length, this.#slots.length);
    let at = 0;
    for (let index = 0; index < window; index++) {
      const hash = this.#waiters[index]!.hash;
      if (hash !== undefined && slot.hasWarm(hash)) {
        at = index;
        break;
      }
    }
    const waiter = this.#waiters.splice(at, 1)[0];
    if (waiter !== undefined) waiter.resolve(this.#assign(slot, waiter.memoryMb));
    else if (this.#slots.length > this.#minSize) this.#shrinkWhenIdle();
  }

  /** After `idleMs` without a run, the isolates above the minimum that are idle go. */
  #shrinkWhenIdle(): void {
    clearTimeout(this.#shrinkTimer);
    this.#shrinkTimer = setTimeout(() => {
      this.#shrinkTimer = undefined;
      if (this.#closed) return;
      // The last made go first; the first ones hold the longest-lived warm contexts.
      for (let index = this.#slots.length - 1; index >= 0 && this.#slots.length > this.#minSize; index--) {
        const slot = this.#slots[index] as IsolateSlot;
        if (slot.busy) continue;
        this.#slots.splice(index, 1);
        slot.dispose();
      }
    }, this.#idleMs);
    this.#shrinkTimer.unref();
  }

  /** Calls `onExceeded` once `usedNs()` (a run's CPU time: its isolate's and the host's on its behalf) passes `limitMs`. */
  watchCpu(usedNs: () => bigint, limitMs: number, onExceeded: () => void): () => void {
    const watch: CpuWatch = { usedNs, limitNs: BigInt(limitMs) * 1_000_000n, onExceeded };
    this.#watches.add(watch);
    this.#cpuTimer ??= setInterval(() => this.#checkCpu(), CPU_CHECK_INTERVAL_MS);
    return () => {
      this.#watches.delete(watch);
      if (this.#watches.size === 0 && this.#cpuTimer !== undefined) {
        clearInterval(this.#cpuTimer);
        this.#cpuTimer = undefined;
      }
    };
  }

  /** Registers a running run's kill switch, which close() pulls. Returns the unregister function. */
  track(kill: () => void): () => void {
    this.#active.add(kill);
    return () => this.#active.delete(kill);
  }

  /** Refuses new and queued runs, stops running ones (they end `aborted`), disposes every isolate; resolves once isolated-vm's work on them has settled. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      clearTimeout(this.#shrinkTimer);
      for (const waiter of this.#waiters.splice(0)) waiter.reject(new SandboxClosedError());
      for (const kill of [...this.#active]) kill();
      for (const slot of this.#slots) if (!slot.busy) slot.dispose();
    }
    const drained = this.#slots.every((slot) => !slot.busy)
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const previous = this.#drained;
          this.#drained = () => {
            previous?.();
            resolve();
          };
        });
    // The slots released last (busy ones, when their runs end) let go of their work first.
    return drained.then(() => Promise.all(this.#lettingGo)).then(() => undefined);
  }

  #assign(slot: IsolateSlot, memoryMb: number): IsolateSlot {
    slot.busy = true;
    if (slot.memoryMb !== memoryMb) slot.renew(memoryMb);
    return slot;
  }

  #checkCpu(): void {
    for (const watch of this.#watches) {
      if (watch.usedNs() > watch.limitNs) {
        this.#watches.delete(watch);
        watch.onExceeded();
      }
    }
  }
}
