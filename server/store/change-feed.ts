// Cross-process cache invalidation: writers NOTIFY what changed, every process LISTENs and drops
// its cached copy at once. A hint, not the truth: caches keep a TTL for when a notification is
// lost (the listener reconnecting, a NOTIFY outside a transaction that rolled back…).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { Pool } from './db.js';

const CHANNEL = 'patchbay_changes';
const RECONNECT_MS = 1000;

export type Change =
  | { kind: 'connection'; providerConfigKey: string; connectionId: string }
  | { kind: 'integration'; providerConfigKey: string };

export interface ChangeFeed {
  /** Tells every process; `local: false` skips this process's own listeners. */
  publish(change: Change, options?: { local: boolean }): void;
  subscribe(listener: (change: Change) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createChangeFeed(pool: Pool, connectionString: string, logger: FastifyBaseLogger): ChangeFeed {
  const listeners: ((change: Change) => void)[] = [];
  // Our own notifications come back through LISTEN; the origin id lets us skip them.
  const origin = randomUUID();
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;

  const deliver = (payload: string | undefined) => {
    if (payload === undefined) return;
    let message: { origin?: string; change?: Change };
    try {
      message = JSON.parse(payload) as { origin?: string; change?: Change };
    } catch {
      return;
    }
    if (message.origin === origin || message.change === undefined) return;
    for (const listener of listeners) listener(message.change);
  };

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString, application_name: 'patchbay-change-feed' });
    next.on('notification', (message) => deliver(message.payload));
    next.on('error', (error) => {
      logger.warn({ err: error }, 'change feed connection lost; reconnecting');
      void next.end().catch(() => undefined);
      if (client === next) client = undefined;
      scheduleReconnect();
    });
    await next.connect();
    await next.query(`LISTEN ${CHANNEL}`);
    client = next;
  };

  const scheduleReconnect = () => {
    if (stopped || retry !== undefined) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect().catch((error: unknown) => {
        logger.warn({ err: error }, 'change feed reconnect failed');
        scheduleReconnect();
      });
    }, RECONNECT_MS);
    retry.unref();
  };

  return {
    publish(change, options = { local: true }) {
      // Local listeners first: this process must not wait for the round trip.
      if (options.local) for (const listener of listeners) listener(change);
      pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ origin, change })]).catch((error: unknown) => {
        logger.warn({ err: error }, 'change notification not sent');
      });
    },
    subscribe(listener) {
      listeners.push(listener);
    },
    start: () => connect(),
    async stop() {
      stopped = true;
      if (retry !== undefined) clearTimeout(retry);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}
