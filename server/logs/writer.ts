// Buffered log writer: operations are queued in memory and inserted in batches off the
// request path. Bounded: past MAX_QUEUE the oldest are dropped (and counted), never the process.
import { randomFillSync } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { toCopyLine, type LogOperation, type LogStore } from '../store/logs.js';

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
  /** 200 ms: logs show up quickly, and one INSERT carries hundreds of calls under load. */
  flushIntervalMs?: number;
  maxBatch?: number;
  maxQueue?: number;
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

export function createLogWriter(options: LogWriterOptions): LogWriter {
  const flushIntervalMs = options.flushIntervalMs ?? 200;
  const maxBatch = options.maxBatch ?? 1000;
  const maxQueue = options.maxQueue ?? 100_000;
  // Rows are written as COPY lines as they arrive: one string per call instead of thousands of
  // object graphs kept alive until the next flush (which showed up as GC time under load).
  let queue: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let dropped = 0;

  // Sends one batch of what is queued, then more only while full batches wait (or, for an
  // explicit flush, until the queue is empty). Draining every few rows as they arrive would cost
  // a transaction per handful of calls under load: batches are sent full, or on the timer.
  const flushOnce = async (all: boolean) => {
    do {
      if (queue.length === 0) return;
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      try {
        await options.store.insertLines(batch);
      } catch (error) {
        if (isDataError(error)) {
          // PostgreSQL refused a value in the batch: sending it again cannot help.
          dropped += batch.length;
          options.logger.error({ err: error, count: batch.length }, 'log batch refused by the database; dropped');
          continue;
        }
        // The database is away: keep the batch for the next tick, within the bound.
        options.logger.warn({ err: error, count: batch.length }, 'log batch not written; will retry');
        queue = batch.concat(queue).slice(-maxQueue);
        return;
      }
    } while (all || queue.length >= maxBatch);
  };

  const run = (all: boolean) => {
    flushing ??= flushOnce(all).finally(() => {
      flushing = undefined;
    });
    return flushing;
  };

  /** Writes everything queued so far (or as much as the database takes). */
  const flush = async () => {
    // A flush of full batches may be under way: let it end, then send the rest.
    while (flushing !== undefined) await flushing;
    await run(true);
  };

  return {
    write(operation) {
      queue.push(toCopyLine(operation));
      if (queue.length > maxQueue) {
        queue.shift();
        dropped++;
      }
      if (queue.length >= maxBatch) void run(false);
    },
    flush,
    start() {
      if (timer !== undefined) return;
      timer = setInterval(() => void run(false), flushIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await flush();
      if (queue.length > 0) await flush();
    },
    get dropped() {
      return dropped;
    },
  };
}
