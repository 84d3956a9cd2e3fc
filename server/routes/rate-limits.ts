// /connections/:connectionId/rate-limit: what the proxy's pacer holds for a connection, and the
// operator's way to let it go (a provider that announced a wait it does not mean, a reset
// header gone wrong). Pacing state lives in each process: reads show this process's view, a
// reset reaches every process through the change feed.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PatchbayError } from '../errors.js';
import type { ProxyEngine } from '../proxy/index.js';
import { pacePrefixOf } from '../proxy/pacer.js';
import type { Store } from '../store/index.js';
import { parseInput } from '../validate.js';
import { CONNECTION_ID } from './connections.js';
import { UNIQUE_KEY } from './integrations.js';

export interface RateLimitDeps {
  store: Store;
  proxy: ProxyEngine;
  /** Tells every process (this one included) to forget the connection's pacing state. */
  resetPacing: (providerConfigKey: string, connectionId: string) => void;
}

const params = z.strictObject({ connectionId: CONNECTION_ID });
const query = z.strictObject({ provider_config_key: UNIQUE_KEY });

export function rateLimitRoutes(app: FastifyInstance, deps: RateLimitDeps): void {
  const connectionOf = async (request: { params: unknown; query: unknown }) => {
    const { connectionId } = parseInput(params, request.params, 'invalid_uri_params');
    const { provider_config_key } = parseInput(query, request.query, 'invalid_query_params');
    if ((await deps.store.connections.get(provider_config_key, connectionId)) === undefined) throw new PatchbayError('unknown_connection');
    return { providerConfigKey: provider_config_key, connectionId };
  };

  app.get('/connections/:connectionId/rate-limit', async (request) => {
    const { providerConfigKey, connectionId } = await connectionOf(request);
    const prefix = pacePrefixOf(providerConfigKey, connectionId);
    return {
      provider_config_key: providerConfigKey,
      connection_id: connectionId,
      hosts: deps.proxy.pacer.inspect(prefix).map((state) => ({
        host: state.key.slice(prefix.length),
        in_flight: state.inFlight,
        waiting: state.waiting,
        remaining: state.remaining ?? null,
        held_until: state.resetAtMs === undefined ? null : new Date(state.resetAtMs).toISOString(),
      })),
    };
  });

  app.delete('/connections/:connectionId/rate-limit', async (request) => {
    const { providerConfigKey, connectionId } = await connectionOf(request);
    deps.resetPacing(providerConfigKey, connectionId);
    return { success: true };
  });
}
