// How a background loop (log writer, scheduler, reaper, LISTEN client…) reports its failures
// while the database is away: the first of an outage as one warning, the rest at debug level,
// the recovery as one line. Before this, each loop warned on every tick (5 lines a second for
// the log writer alone). Other errors are warned about every time: they are bugs, not an outage.
import type { FastifyBaseLogger } from 'fastify';
import { isConnectionError } from './db.js';

export interface OutageLog {
  /** Reports a failed turn of the loop. */
  failed(error: unknown, fields?: Record<string, unknown>): void;
  /** Reports a turn that reached the database: ends the outage, if one was reported. */
  succeeded(fields?: Record<string, unknown>): void;
  /** Inside an outage: the last turn failed for want of the database. */
  readonly down: boolean;
}

/** `what` names the loop's work, e.g. 'writing log batches'. */
export function createOutageLog(logger: FastifyBaseLogger, what: string): OutageLog {
  let outage: { sinceMs: number; failures: number } | undefined;
  return {
    failed(error, fields) {
      if (!isConnectionError(error)) {
        logger.warn({ err: error, ...fields }, `${what} failed`);
        return;
      }
      if (outage !== undefined) {
        outage.failures++;
        logger.debug({ err: error, ...fields }, `${what} failed again: the database is still unreachable`);
        return;
      }
      outage = { sinceMs: Date.now(), failures: 1 };
      logger.warn({ err: error, ...fields }, `${what} failed: the database is unreachable; retrying quietly until it is back`);
    },
    succeeded(fields) {
      if (outage === undefined) return;
      const { sinceMs, failures } = outage;
      outage = undefined;
      logger.info({ downMs: Date.now() - sinceMs, failures, ...fields }, `${what} works again`);
    },
    get down() {
      return outage !== undefined;
    },
  };
}
