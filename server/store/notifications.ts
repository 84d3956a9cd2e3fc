// One LISTEN connection per process, shared by every channel (change feed, job wake-ups, run
// results). Notifications are hints: after a reconnect, `onReconnect` listeners re-check state,
// because whatever was sent while the connection was down is gone.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { Pool } from './db.js';
import { createOutageLog } from './outage-log.js';

// 1 s, not a growing backoff: a reconnect attempt costs one connect, and the sooner LISTEN is
// back, the sooner the caches dropped on reconnect are fresh again. Quiet while the database is
// away (one warning per outage, see outage-log.ts).
const RECONNECT_MS = 1000;
// A LISTEN connection whose peer vanished without a FIN (a failover, a NAT timeout) raises no
// error for as long as TCP keeps quiet, and every notification meanwhile is lost. A query
// every half minute finds it out; no answer within 10 s counts as a lost connection.
const HEARTBEAT_MS = 30_000;
const HEARTBEAT_TIMEOUT_MS = 10_000;

export interface NotificationsOptions {
  /** Tests shorten these. */
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
}

export interface Notifications {
  /** Delivers payloads sent on `channel` by other processes (and by this one unless skipped). */
  listen(channel: string, handler: (payload: string) => void): void;
  /** Runs after the LISTEN connection came back: missed notifications must be made up for. */
  onReconnect(handler: () => void): void;
  /**
   * Sends to every process. Local handlers run first and synchronously (`local: true`, the
   * default): a process must not wait for PostgreSQL's round trip to hear itself.
   */
  notify(channel: string, payload: string, options?: { local: boolean }): void;
  /**
   * For a NOTIFY sent inside another statement (one round trip instead of two): the raw
   * payload to pass to `pg_notify`, and the local delivery to call once it committed.
   */
  raw(channel: string, payload: string): { channel: string; payload: string; deliverLocally(): void };
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createNotifications(pool: Pool, connectionString: string, logger: FastifyBaseLogger, options: NotificationsOptions = {}): Notifications {
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
  const handlers = new Map<string, ((payload: string) => void)[]>();
  const reconnectHandlers: (() => void)[] = [];
  // Our own notifications come back through LISTEN; the origin prefix lets us skip them.
  const origin = randomUUID();
  const prefix = `${origin}|`;
  /** The LISTEN client in use, and how to give it up (once) for a new one. */
  let current: { client: pg.Client; lose: (error: unknown) => void } | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let started: Promise<void> | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const listening = createOutageLog(logger, 'listening for notifications');
  const sending = createOutageLog(logger, 'sending notifications');

  const deliverLocal = (channel: string, payload: string) => {
    for (const handler of handlers.get(channel) ?? []) {
      try {
        handler(payload);
      } catch (error) {
        logger.error({ err: error, channel }, 'notification handler failed');
      }
    }
  };

  const connect = async (): Promise<void> => {
    // The process id in its name lets an operator (or a test) tell the processes' listeners apart.
    const next = new pg.Client({
      connectionString,
      application_name: `patchbay-listen ${process.pid}`,
      keepAlive: true,
      keepAliveInitialDelayMillis: HEARTBEAT_MS,
      connectionTimeoutMillis: heartbeatTimeoutMs,
    });
    const close = () => void next.end().catch(() => undefined);
    let lost = false;
    const lose = (error: unknown) => {
      if (lost || stopped) return;
      lost = true;
      listening.failed(error);
      close();
      if (current?.client === next) current = undefined;
      scheduleReconnect();
    };
    next.on('notification', (message) => {
      const raw = message.payload ?? '';
      const bar = raw.indexOf('|');
      if (bar < 0 || raw.startsWith(prefix)) return;
      deliverLocal(message.channel, raw.slice(bar + 1));
    });
    next.on('error', lose);
    try {
      await next.connect();
      for (const channel of handlers.keys()) await next.query(`LISTEN "${channel}"`);
    } catch (error) {
      lost = true; // given up here: the caller tries again with a new client
      close();
      throw error;
    }
    if (stopped) close();
    else current = { client: next, lose };
  };

  const beat = () => {
    if (current === undefined) return;
    const { client, lose } = current;
    const timer = setTimeout(() => lose(new Error(`no answer to a heartbeat within ${heartbeatTimeoutMs} ms`)), heartbeatTimeoutMs);
    timer.unref();
    client.query('SELECT 1').then(
      () => clearTimeout(timer),
      (error: unknown) => {
        clearTimeout(timer);
        lose(error);
      },
    );
  };

  const scheduleReconnect = () => {
    if (stopped || retry !== undefined) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect()
        .then(() => {
          listening.succeeded();
          for (const handler of reconnectHandlers) handler();
        })
        .catch((error: unknown) => {
          listening.failed(error);
          scheduleReconnect();
        });
    }, RECONNECT_MS);
    retry.unref();
  };

  return {
    listen(channel, handler) {
      if (!/^[a-z_]+$/.test(channel)) throw new Error(`bad channel name ${channel}`);
      const list = handlers.get(channel);
      if (list !== undefined) {
        list.push(handler);
        return;
      }
      handlers.set(channel, [handler]);
      // A channel added after start is listened to at once.
      if (current !== undefined) void current.client.query(`LISTEN "${channel}"`).catch(() => undefined);
    },
    onReconnect(handler) {
      reconnectHandlers.push(handler);
    },
    notify(channel, payload, options = { local: true }) {
      if (options.local) deliverLocal(channel, payload);
      pool.query('SELECT pg_notify($1, $2)', [channel, prefix + payload]).then(
        () => sending.succeeded(),
        (error: unknown) => sending.failed(error, { channel }),
      );
    },
    raw(channel, payload) {
      return { channel, payload: prefix + payload, deliverLocally: () => deliverLocal(channel, payload) };
    },
    start() {
      if (started === undefined) {
        started = connect();
        heartbeat = setInterval(beat, heartbeatMs);
        heartbeat.unref();
      }
      return started;
    },
    async stop() {
      stopped = true;
      if (retry !== undefined) clearTimeout(retry);
      if (heartbeat !== undefined) clearInterval(heartbeat);
      await current?.client.end().catch(() => undefined);
      current = undefined;
    },
  };
}
