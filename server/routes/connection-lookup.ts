// The check every connection-scoped route starts with, and its two answers (a missing
// connection is 404 `unknown_connection` on every route).
import { PatchbayError } from '../errors.js';
import type { Store } from '../store/index.js';

/** The connection's provider; throws `unknown_provider_config` or `unknown_connection` when missing. */
export async function requireConnection(store: Store, providerConfigKey: string, connectionId: string): Promise<string> {
  const provider = await store.connections.providerOf(providerConfigKey, connectionId);
  if (provider !== undefined) return provider;
  if ((await store.integrations.getByKey(providerConfigKey)) === undefined) throw new PatchbayError('unknown_provider_config');
  throw new PatchbayError('unknown_connection');
}
