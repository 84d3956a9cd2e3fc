// The check every connection-scoped route starts with, and its two answers (a missing
// connection is 404 `unknown_connection` on every route).
import { PatchbayError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { ProviderLookup } from '../store/provider-cache.js';

/**
 * The connection's provider (from `providers`, a cache of the store's answers, when given);
 * throws `unknown_provider_config` or `unknown_connection` when missing.
 */
export async function requireConnection(store: Store, providerConfigKey: string, connectionId: string, providers: ProviderLookup = store.connections): Promise<string> {
  const provider = await providers.providerOf(providerConfigKey, connectionId);
  if (provider !== undefined) return provider;
  if ((await store.integrations.getByKey(providerConfigKey)) === undefined) throw new PatchbayError('unknown_provider_config');
  throw new PatchbayError('unknown_connection');
}
