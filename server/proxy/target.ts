// Integration + connection + provider + fresh credentials → the Target a call is built from.
// Cached per (provider config key, connection id), bounded, and invalidated by the change feed
// the moment another process writes; concurrent lookups of one key share one database read.
// The feed only loses notifications while its LISTEN connection is down, and the whole cache
// is dropped when it comes back (`clear`), so the TTL is a long backstop, not the freshness
// mechanism: a short one made every connection in rotation a database read every few seconds.
import type { CredentialsManager } from '../credentials/refresh.js';
import { createRedactor, type Redactor } from '../logs/redact.js';
import { PatchbayError } from '../errors.js';
import type { Catalog, Provider } from '../providers/catalog.js';
import type { TemplateValues } from '../providers/template.js';
import type { Connection, Integration, Store } from '../store/index.js';
import { buildTemplateValues, defaultAuthorization, secretValuesOf } from './inject-credentials.js';

/**
 * Shared by every call to the connection while it is cached: calls read it and never write into
 * it (what they derive from it once, send.ts keeps beside it). A refresh makes a new one.
 */
export interface Target {
  readonly key: string;
  readonly connection: Connection;
  readonly integration: Integration;
  readonly provider: Provider;
  readonly values: TemplateValues;
  readonly authorization: string | undefined;
  readonly secrets: string[];
  /** Built once per target: log redaction runs on every call. */
  readonly redactor: Redactor;
}

export interface TargetResolverOptions {
  store: Store;
  catalog: Catalog;
  credentials: CredentialsManager;
  /** 5 minutes, spread by up to a fifth so entries loaded together are not reloaded together. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
  random?: () => number;
}

export interface TargetResolver {
  /** The cached target at once when it is loaded and its credentials are fresh (the common case), else a promise of it. */
  resolve(providerConfigKey: string, connectionId: string): Target | Promise<Target>;
  /** True when a forced refresh can produce other credentials (a 401 is worth one retry). */
  canRefresh(target: Target): boolean;
  /** Refreshes the credentials regardless of expiry (after a 401) and returns the new target. */
  forceRefresh(target: Target): Promise<Target>;
  invalidate(providerConfigKey: string, connectionId: string): void;
  /** Drops every cached connection of an integration (credentials rotated, renamed, deleted). */
  invalidateIntegration(providerConfigKey: string): void;
  /** Replaces a cached connection by a newer copy (after a refresh elsewhere in the process). */
  update(connection: Connection): void;
  /** Drops everything (the change feed reconnected: what changed meanwhile is unknown). */
  clear(): void;
}

interface Entry {
  loaded: Promise<Target>;
  /** The loaded target, once `loaded` has settled successfully. */
  value: Target | undefined;
  expiresAtMs: number;
}

export const targetKey = (providerConfigKey: string, connectionId: string) => `${providerConfigKey}\u0000${connectionId}`;

export function createTargetResolver(options: TargetResolverOptions): TargetResolver {
  const ttlMs = options.ttlMs ?? 300_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const cache = new Map<string, Entry>();

  const toTarget = (connection: Connection, integration: Integration): Target => {
    const provider = options.catalog.get(integration.provider);
    if (provider === undefined) {
      throw new PatchbayError('unknown_provider', { message: `Provider ${integration.provider} is not in the catalog.` });
    }
    const secrets = secretValuesOf(connection, integration);
    return {
      key: targetKey(connection.providerConfigKey, connection.connectionId),
      connection,
      integration,
      provider,
      values: buildTemplateValues(connection, integration),
      authorization: defaultAuthorization(connection),
      secrets,
      redactor: createRedactor(secrets),
    };
  };

  const load = async (providerConfigKey: string, connectionId: string): Promise<Target> => {
    const integration = await options.store.integrations.getByKey(providerConfigKey);
    if (integration === undefined) throw new PatchbayError('unknown_provider_config');
    const connection = await options.store.connections.get(providerConfigKey, connectionId);
    if (connection === undefined) throw new PatchbayError('unknown_connection');
    return toTarget(connection, integration);
  };

  const remember = (key: string, loaded: Promise<Target>) => {
    if (cache.size >= maxEntries && !cache.has(key)) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    const entry: Entry = { loaded, value: undefined, expiresAtMs: now() + ttlMs * (1 - 0.2 * random()) };
    cache.set(key, entry);
    loaded.then(
      (target) => {
        entry.value = target;
      },
      // A failed load must not be served from the cache.
      () => {
        if (cache.get(key) === entry) cache.delete(key);
      },
    );
  };

  const withFreshCredentials = async (target: Target, force: boolean): Promise<Target> => {
    if (!force && !options.credentials.needsRefresh(target.connection)) return target;
    let connection: Connection;
    try {
      connection = await options.credentials.fresh(target.connection, { force });
    } catch (error) {
      cache.delete(target.key); // re-read the refresh state (failure time, exhausted) next time
      throw error;
    }
    if (connection === target.connection) return target;
    const next = toTarget(connection, target.integration);
    remember(target.key, Promise.resolve(next));
    return next;
  };

  return {
    resolve(providerConfigKey, connectionId) {
      const key = targetKey(providerConfigKey, connectionId);
      let entry = cache.get(key);
      if (entry === undefined || entry.expiresAtMs <= now()) {
        remember(key, load(providerConfigKey, connectionId));
        entry = cache.get(key) as Entry;
      }
      const loaded = entry.value;
      if (loaded !== undefined && !options.credentials.needsRefresh(loaded.connection)) return loaded;
      return entry.loaded.then((target) => withFreshCredentials(target, false));
    },
    canRefresh: (target) => options.credentials.canRefresh(target.connection),
    forceRefresh: (target) => withFreshCredentials(target, true),
    invalidate(providerConfigKey, connectionId) {
      cache.delete(targetKey(providerConfigKey, connectionId));
    },
    invalidateIntegration(providerConfigKey) {
      const prefix = targetKey(providerConfigKey, '');
      for (const key of cache.keys()) if (key.startsWith(prefix)) cache.delete(key);
    },
    update(connection) {
      const key = targetKey(connection.providerConfigKey, connection.connectionId);
      const entry = cache.get(key);
      if (entry === undefined) return;
      remember(
        key,
        entry.loaded.then((target) => toTarget(connection, target.integration)),
      );
    },
    clear() {
      cache.clear();
    },
  };
}
