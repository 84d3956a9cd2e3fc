// Cross-process cache invalidation: writers NOTIFY what changed, every process LISTENs and drops
// its cached copy at once. A hint, not the truth: caches keep a TTL for when a notification is
// lost (the listener reconnecting, a NOTIFY outside a transaction that rolled back…).
import type { Notifications } from './notifications.js';

const CHANNEL = 'patchbay_changes';

export type Change =
  | { kind: 'connection'; providerConfigKey: string; connectionId: string }
  | { kind: 'integration'; providerConfigKey: string }
  /** An operator cleared a connection's pacing state (the proxy's rate-limit holds). */
  | { kind: 'pacing'; providerConfigKey: string; connectionId: string }
  | { kind: 'functions' };

export interface ChangeFeed {
  /** Tells every process; `local: false` skips this process's own listeners. */
  publish(change: Change, options?: { local: boolean }): void;
  subscribe(listener: (change: Change) => void): void;
}

export function createChangeFeed(notifications: Notifications): ChangeFeed {
  const listeners: ((change: Change) => void)[] = [];
  notifications.listen(CHANNEL, (payload) => {
    let change: Change;
    try {
      change = JSON.parse(payload) as Change;
    } catch {
      return;
    }
    for (const listener of listeners) listener(change);
  });
  return {
    publish(change, options = { local: true }) {
      notifications.notify(CHANNEL, JSON.stringify(change), options);
    },
    subscribe(listener) {
      listeners.push(listener);
    },
  };
}
