// One LISTEN connection per process, shared by every channel (change feed, job wake-ups, run
// results) and by the process's runner thread (`patchbay start`), whose notifications the
// connection relays over the thread's message port (`relay`, createRelayedNotifications): an idle
// PostgreSQL backend is a few MB. Notifications are hints: after a reconnect, `onReconnect`
// listeners re-check state, because whatever was sent while the connection was down is gone.
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

/** Where a relay delivers: the notifications of another thread (createRelayedNotifications). */
export interface NotificationTarget {
  /** A notification on one of the target's channels, as sent: its origin prefix included. */
  received(channel: string, raw: string): void;
  /** The LISTEN connection came back: what was sent meanwhile is lost. */
  reconnected(): void;
}

/** One target's share of a LISTEN connection. */
export interface NotificationRelay {
  /** Forwards `channel` to the target from now on, LISTENing to it if nothing here did yet. */
  listen(channel: string): void;
  /** Forwards nothing more (the target's thread is gone). */
  close(): void;
}

/** The notifications of a process: they hold its LISTEN connection. */
export interface ListeningNotifications extends Notifications {
  /**
   * Lets another thread's notifications hear through this LISTEN connection: the target gets
   * every notification on the channels it asks for as sent, before this side skips its own
   * (the target has an origin of its own and skips only its own), and every reconnect.
   */
  relay(target: NotificationTarget): NotificationRelay;
}

/** Notifications without a LISTEN connection: fed by a relay of another thread's. */
export interface RelayedNotifications extends Notifications, NotificationTarget {}

const checkChannel = (channel: string) => {
  // Channel names go into LISTEN statements as they are.
  if (!/^[a-z_]+$/.test(channel)) throw new Error(`bad channel name ${channel}`);
};

/** What every Notifications does, wherever its notifications come from: handlers, origin, sending. */
function createDelivery(pool: Pool, logger: FastifyBaseLogger) {
  const handlers = new Map<string, ((payload: string) => void)[]>();
  const reconnectHandlers: (() => void)[] = [];
  // Our own notifications come back through LISTEN; the origin prefix lets us skip them.
  const origin = randomUUID();
  const prefix = `${origin}|`;
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

  return {
    handlers,
    /** Adds a handler; true when the channel is new, to be listened to. */
    add(channel: string, handler: (payload: string) => void): boolean {
      checkChannel(channel);
      const list = handlers.get(channel);
      if (list !== undefined) {
        list.push(handler);
        return false;
      }
      handlers.set(channel, [handler]);
      return true;
    },
    /** A notification as sent: delivered unless it is our own. */
    received(channel: string, raw: string) {
      const bar = raw.indexOf('|');
      if (bar < 0 || raw.startsWith(prefix)) return;
      deliverLocal(channel, raw.slice(bar + 1));
    },
    reconnected() {
      for (const handler of reconnectHandlers) handler();
    },
    onReconnect(handler: () => void) {
      reconnectHandlers.push(handler);
    },
    notify(channel: string, payload: string, options = { local: true }) {
      if (options.local) deliverLocal(channel, payload);
      pool.query('SELECT pg_notify($1, $2)', [channel, prefix + payload]).then(
        () => sending.succeeded(),
        (error: unknown) => sending.failed(error, { channel }),
      );
    },
    raw(channel: string, payload: string) {
      return { channel, payload: prefix + payload, deliverLocally: () => deliverLocal(channel, payload) };
    },
  };
}

export function createNotifications(pool: Pool, connectionString: string, logger: FastifyBaseLogger, options: NotificationsOptions = {}): ListeningNotifications {
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
  const delivery = createDelivery(pool, logger);
  const relays = new Set<{ target: NotificationTarget; channels: Set<string> }>();
  /** The LISTEN client in use, and how to give it up (once) for a new one. */
  let current: { client: pg.Client; lose: (error: unknown) => void } | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let started: Promise<void> | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const listening = createOutageLog(logger, 'listening for notifications');

  const channels = () => new Set([...delivery.handlers.keys(), ...[...relays].flatMap((relay) => [...relay.channels])]);
  // One query at a time on the LISTEN client: channels added together after start, and the
  // heartbeat, wait for each other (pg would queue them too, with a deprecation warning).
  let lastQuery: Promise<unknown> = Promise.resolve();
  const queryInTurn = (client: pg.Client, text: string): Promise<unknown> => {
    const run = lastQuery.then(() => client.query(text));
    lastQuery = run.catch(() => undefined);
    return run;
  };
  // A channel added after start is listened to at once.
  const listenNow = (channel: string) => {
    if (current !== undefined) queryInTurn(current.client, `LISTEN "${channel}"`).catch(() => undefined);
  };
  // Before our own are skipped: a relay's target has an origin of its own.
  const forward = (channel: string, raw: string) => {
    for (const { target, channels: forwarded } of relays) {
      if (!forwarded.has(channel)) continue;
      try {
        target.received(channel, raw);
      } catch (error) {
        logger.error({ err: error, channel }, 'relaying a notification failed');
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
      forward(message.channel, raw);
      delivery.received(message.channel, raw);
    });
    next.on('error', lose);
    try {
      await next.connect();
      for (const channel of channels()) await next.query(`LISTEN "${channel}"`);
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
    queryInTurn(client, 'SELECT 1').then(
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
          delivery.reconnected();
          for (const { target } of relays) target.reconnected();
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
      const known = channels().has(channel);
      if (delivery.add(channel, handler) && !known) listenNow(channel);
    },
    onReconnect: delivery.onReconnect,
    notify: delivery.notify,
    raw: delivery.raw,
    relay(target) {
      const relay = { target, channels: new Set<string>() };
      relays.add(relay);
      return {
        listen(channel) {
          checkChannel(channel);
          if (relay.channels.has(channel)) return;
          const known = channels().has(channel);
          relay.channels.add(channel);
          if (!known) listenNow(channel);
        },
        // The channel stays LISTENed to: the set of channels is fixed by the code, and the
        // thread started next asks for the same ones.
        close() {
          relays.delete(relay);
        },
      };
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

/**
 * The notifications of `patchbay start`'s runner thread: no LISTEN connection of their own.
 * `listen` asks the thread that holds one (its `relay`) for the channel through `listenThrough`;
 * what it hears arrives through `received` and `reconnected`. Sending and local delivery are as
 * in createNotifications, with an origin of their own.
 */
export function createRelayedNotifications(pool: Pool, logger: FastifyBaseLogger, listenThrough: (channel: string) => void): RelayedNotifications {
  const delivery = createDelivery(pool, logger);
  // What the relay still brings while the thread stops must not reach parts already stopped.
  let stopped = false;
  return {
    listen(channel, handler) {
      if (delivery.add(channel, handler)) listenThrough(channel);
    },
    onReconnect: delivery.onReconnect,
    notify: delivery.notify,
    raw: delivery.raw,
    received(channel, raw) {
      if (!stopped) delivery.received(channel, raw);
    },
    reconnected() {
      if (!stopped) delivery.reconnected();
    },
    start: () => Promise.resolve(),
    async stop() {
      stopped = true;
    },
  };
}
