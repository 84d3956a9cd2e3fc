// Which provider a connection belongs to, remembered: every action trigger and record read
// starts by checking that its connection exists, and a connection's provider changes only with
// its integration. Only found connections are kept (a new one is seen at once); the change feed
// forgets a connection when it is deleted or changed and an integration's when it is (bin/system.ts),
// and an entry is read again after PROVIDER_TTL_MS whatever happened.
import { Lru } from '../lru.js';

const MAX_ENTRIES = 10_000;
// A safety net behind the change feed, as the proxy's target cache has one.
const PROVIDER_TTL_MS = 60_000;

export interface ProviderLookup {
  providerOf(providerConfigKey: string, connectionId: string): Promise<string | undefined>;
}

export interface ProviderCache extends ProviderLookup {
  invalidate(providerConfigKey: string, connectionId: string): void;
  invalidateIntegration(providerConfigKey: string): void;
  clear(): void;
}

export function createProviderCache(source: ProviderLookup, options: { now?: () => number } = {}): ProviderCache {
  const now = options.now ?? Date.now;
  const entries = new Lru<string, { provider: string; at: number }>(MAX_ENTRIES);
  // Bumped by every invalidation: a read that started before one does not store what it read.
  let generation = 0;
  const keyOf = (providerConfigKey: string, connectionId: string) => `${providerConfigKey}\u0000${connectionId}`;
  return {
    async providerOf(providerConfigKey, connectionId) {
      const key = keyOf(providerConfigKey, connectionId);
      const cached = entries.get(key);
      if (cached !== undefined && now() - cached.at < PROVIDER_TTL_MS) return cached.provider;
      const started = generation;
      const provider = await source.providerOf(providerConfigKey, connectionId);
      if (provider === undefined) entries.delete(key);
      else if (started === generation) entries.set(key, { provider, at: now() });
      return provider;
    },
    invalidate(providerConfigKey, connectionId) {
      generation++;
      entries.delete(keyOf(providerConfigKey, connectionId));
    },
    invalidateIntegration(providerConfigKey) {
      generation++;
      for (const key of entries.keys()) if (key.startsWith(`${providerConfigKey}\u0000`)) entries.delete(key);
    },
    clear() {
      generation++;
      entries.clear();
    },
  };
}
