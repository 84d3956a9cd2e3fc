// Buffered log writer: operations are queued in memory and inserted in batches off the
// request path. Bounded: past MAX_QUEUE the oldest are dropped (and counted), never the process.
// While the database is away, batches wait (in order) and are sent again with a backoff.
import { randomFillSync } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { createOutageLog } from '../store/index.js';
import { chunkFacets, connectionKey, createdAt, toCopyLine, type LogChunk, type LogOperation, type LogStore } from '../store/logs.js';
import { backoffMs } from '../proxy/backoff.js';

// Randomness for log ids, drawn from the system 4 KB at a time: uuid's own pool asks for 256
// bytes per 16 ids, and each draw is a system call on the proxy's hot path.
const RANDOM_POOL = new Uint8Array(4096);
let randomAt = RANDOM_POOL.length;
const pooledRandom = (): Uint8Array => {
  if (randomAt + 16 > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomAt = 0;
  }
  randomAt += 16;
  return RANDOM_POOL.subarray(randomAt - 16, randomAt);
};
const ID_OPTIONS = { rng: pooledRandom };

/**
 * The id of a new log operation: a UUIDv7, whose leading bits are the creation time, so the
 * primary key grows at its right edge instead of touching a random page of the index per row.
 */
export const newLogId = (): string => uuidv7(ID_OPTIONS);

export interface LogWriterOptions {
  store: LogStore;
  logger: FastifyBaseLogger;
  /** 200 ms: logs show up quickly, and one chunk carries up to a thousand calls under load. */
  flushIntervalMs?: number;
  maxBatch?: number;
  maxQueue?: number;
  /** Sees every operation as it is written, before it is queued (metrics count from here). */
  onWrite?: (operation: LogOperation) => void;
  /** Told the id of each chunk once it is stored (the live log stream announces it). */
  onStored?: (chunkId: string) => void;
}

export interface LogWriter {
  write(operation: LogOperation): void;
  flush(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  readonly dropped: number;
}

/** SQLSTATE class 22 (data exception): a value the column cannot take. */
const isDataError = (error: unknown) => String((error as { code?: unknown })?.code ?? '').startsWith('22');

// After a failed insert the next one waits twice as long as the last, up to 2 s: retrying a
// database that is away five times a second is noise, and once it is back the queued calls
// show up within two seconds.
const MAX_RETRY_WAIT_MS = 2000;

/** Queued COPY text is kept in buffers of this size, allocated outside the JavaScript heap. */
const CHUNK_BYTES = 64 * 1024;

/**
 * Up to maxBatch rows of COPY text, encoded into off-heap buffers as they arrive, and what the
 * chunk they become records about them. A busy proxy queues thousands of rows between two
 * flushes; kept as strings (each one a rope of the row's pieces) they survived young-generation
 * collections, which copied them again and again: one sixth of the proxy's CPU under load. Here
 * a queued row is bytes, not objects.
 */
class CopyBatch {
  rows = 0;
  private readonly id = newLogId();
  private readonly full: Buffer[] = [];
  private chunk: Buffer | undefined;
  private used = 0;
  private firstStarted = Number.POSITIVE_INFINITY;
  private lastStarted = Number.NEGATIVE_INFINITY;
  private firstCreated = Number.POSITIVE_INFINITY;
  private lastCreated = Number.NEGATIVE_INFINITY;
  /** Integration key → the connection ids seen with it. */
  private readonly connections = new Map<string, Set<string>>();
  private readonly parents = new Set<string>();
  private readonly types = new Set<string>();
  private readonly states = new Set<string>();
  private readonly statuses = new Set<number>();

  add(op: LogOperation): void {
    const line = toCopyLine(op);
    const room = this.chunk === undefined ? 0 : this.chunk.length - this.used;
    // A UTF-8 byte count is a pass over the text: only done when the row might not fit.
    if (line.length * 3 > room) {
      const bytes = Buffer.byteLength(line);
      if (bytes > room) {
        this.seal();
        this.chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, bytes));
      }
    }
    this.used += (this.chunk as Buffer).write(line, this.used);
    this.rows++;

    const started = op.startedAt.getTime();
    const created = createdAt(op.id) ?? started;
    if (started < this.firstStarted) this.firstStarted = started;
    if (started > this.lastStarted) this.lastStarted = started;
    if (created < this.firstCreated) this.firstCreated = created;
    if (created > this.lastCreated) this.lastCreated = created;
    if (op.integrationKey !== null) {
      let ids = this.connections.get(op.integrationKey);
      if (ids === undefined) {
        ids = new Set();
        this.connections.set(op.integrationKey, ids);
      }
      if (op.connectionId !== null) ids.add(op.connectionId);
    }
    if (op.parentId !== null) this.parents.add(op.parentId);
    this.types.add(op.type);
    this.states.add(op.state);
    if (op.status !== null) this.statuses.add(op.status);
  }

  /** The chunk to store; the batch takes no more rows after this. */
  toChunk(): LogChunk {
    this.seal();
    return {
      id: this.id,
      rows: this.rows,
      data: this.full,
      firstStarted: this.firstStarted,
      lastStarted: this.lastStarted,
      firstCreated: this.firstCreated,
      lastCreated: this.lastCreated,
      integrations: [...this.connections.keys()],
      connections: [...this.connections].flatMap(([integration, ids]) => [...ids].map((id) => connectionKey(integration, id))),
      parents: [...this.parents],
      facets: chunkFacets(this.types, this.states, this.statuses),
    };
  }

  private seal(): void {
    if (this.chunk !== undefined && this.used > 0) this.full.push(this.chunk.subarray(0, this.used));
    this.chunk = undefined;
    this.used = 0;
  }
}

export function createLogWriter(options: LogWriterOptions): LogWriter {
  const flushIntervalMs = options.flushIntervalMs ?? 200;
  const maxQueue = options.maxQueue ?? 100_000;
  const maxBatch = Math.min(options.maxBatch ?? 1000, maxQueue);
  // Full batches waiting to be sent, oldest first, and the batch rows are added to.
  const waiting: CopyBatch[] = [];
  let open = new CopyBatch();
  let queued = 0;
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let dropped = 0;
  // Consecutive failed inserts, and when the next insert may be tried (explicit flushes try at once).
  let failures = 0;
  let retryAtMs = 0;
  const outage = createOutageLog(options.logger, 'writing log batches');
  let droppingLogged = false;

  const closeOpen = () => {
    waiting.push(open);
    open = new CopyBatch();
  };

  // Past maxQueue rows (the database away for long), the oldest batches go.
  const enforceBound = () => {
    while (queued > maxQueue && waiting.length > 0) {
      const oldest = waiting.shift() as CopyBatch;
      queued -= oldest.rows;
      dropped += oldest.rows;
      if (!droppingLogged) {
        droppingLogged = true;
        options.logger.warn({ maxQueue }, 'log queue full while the database is away: dropping the oldest calls');
      }
    }
  };

  // Sends the oldest batch (the open one when no full batch waits), then more only while full
  // batches wait (or, for an explicit flush, until nothing is queued). Draining every few rows as
  // they arrive would cost a transaction per handful of calls under load.
  const flushOnce = async (all: boolean) => {
    for (;;) {
      if (waiting.length === 0 && open.rows > 0) closeOpen();
      const batch = waiting.shift();
      if (batch === undefined) return;
      queued -= batch.rows;
      try {
        // Sent again after a failure, a chunk keeps its id: the insert skips a chunk that was
        // stored after all (a connection lost on the way back from COMMIT).
        const chunk = batch.toChunk();
        await options.store.insertChunk(chunk);
        options.onStored?.(chunk.id);
        failures = 0;
        retryAtMs = 0;
        droppingLogged = false;
        outage.succeeded({ queued, dropped });
      } catch (error) {
        if (isDataError(error)) {
          // PostgreSQL refused a value in the batch: sending it again cannot help.
          dropped += batch.rows;
          options.logger.error({ err: error, count: batch.rows }, 'log batch refused by the database; dropped');
        } else {
          // The database is away: keep the batch, first in line, within the bound.
          outage.failed(error, { count: batch.rows });
          waiting.unshift(batch);
          queued += batch.rows;
          enforceBound();
          failures++;
          retryAtMs = Date.now() + backoffMs(failures + 1, { baseMs: flushIntervalMs, maxMs: MAX_RETRY_WAIT_MS });
          return;
        }
      }
      if (!all && waiting.length === 0) return;
    }
  };

  const run = (all: boolean) => {
    flushing ??= flushOnce(all).finally(() => {
      flushing = undefined;
    });
    return flushing;
  };

  /** A flush of full batches, unless the last insert failed and its backoff runs. */
  const tick = () => {
    if (Date.now() >= retryAtMs) void run(false);
  };

  /** Writes everything queued so far (or as much as the database takes). */
  const flush = async () => {
    // A flush of full batches may be under way: let it end, then send the rest.
    while (flushing !== undefined) await flushing;
    await run(true);
  };

  return {
    write(operation) {
      options.onWrite?.(operation);
      open.add(operation);
      queued++;
      if (open.rows >= maxBatch) {
        closeOpen();
        enforceBound();
        tick();
      }
    },
    flush,
    start() {
      if (timer !== undefined) return;
      timer = setInterval(tick, flushIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await flush();
      if (queued > 0) await flush();
    },
    get dropped() {
      return dropped;
    },
  };
}
