// Live log operations for GET /logs/stream: every log writer, in any process, announces each chunk
// it stored on LOG_CHUNKS_CHANNEL; while streams are open, this process reads each announced chunk
// once (by primary key) and hands its operations to the streams whose filters they match. Nothing
// is read while no stream is open, and the log table is never polled.
import type { FastifyBaseLogger } from 'fastify';
import { matchesLogFilter, type LogFilter, type LogOperation, type LogStore, type Notifications } from '../store/index.js';

export const LOG_CHUNKS_CHANNEL = 'patchbay_log_chunks';
/**
 * Open streams per process: each is a socket and a filter run per operation; a hundred
 * dashboards at once is far beyond one team's use, and a leak of them must not grow without end.
 */
export const MAX_LIVE_STREAMS = 100;
/**
 * Announced chunks waiting to be read: a burst beyond this (the database slow, thousands of
 * calls a second) drops the oldest, and a stream misses them rather than the server
 * holding ever more.
 */
const MAX_PENDING_CHUNKS = 256;

export type LiveFilter = Omit<LogFilter, 'before' | 'limit'>;

export interface LiveLogs {
  /** Calls `send` with each new operation matching `filter`; returns the unsubscribe. Undefined when full. */
  subscribe(filter: LiveFilter, send: (operation: LogOperation) => void): (() => void) | undefined;
  readonly streams: number;
}

export function createLiveLogs(deps: { notifications: Notifications; logs: Pick<LogStore, 'readChunk'>; logger: FastifyBaseLogger }): LiveLogs {
  const subscribers = new Set<{ filter: LiveFilter; send: (operation: LogOperation) => void }>();
  const pending: string[] = [];
  let reading = false;

  const drain = async () => {
    if (reading) return;
    reading = true;
    try {
      for (let id = pending.shift(); id !== undefined; id = pending.shift()) {
        if (subscribers.size === 0) {
          pending.length = 0;
          break;
        }
        let operations: LogOperation[];
        try {
          operations = await deps.logs.readChunk(id);
        } catch (error) {
          deps.logger.warn({ err: error }, 'live logs: a stored chunk could not be read');
          continue;
        }
        for (const op of operations) {
          for (const subscriber of subscribers) if (matchesLogFilter(op, subscriber.filter)) subscriber.send(op);
        }
      }
    } finally {
      reading = false;
    }
  };

  deps.notifications.listen(LOG_CHUNKS_CHANNEL, (chunkId) => {
    if (subscribers.size === 0) return;
    pending.push(chunkId);
    if (pending.length > MAX_PENDING_CHUNKS) pending.shift();
    void drain();
  });

  return {
    subscribe(filter, send) {
      if (subscribers.size >= MAX_LIVE_STREAMS) return undefined;
      const subscriber = { filter, send };
      subscribers.add(subscriber);
      return () => void subscribers.delete(subscriber);
    },
    get streams() {
      return subscribers.size;
    },
  };
}
