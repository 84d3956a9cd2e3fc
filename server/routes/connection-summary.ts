// GET /connections/:connectionId/summary: a connection as the dashboard shows it — settings,
// end user, tags, metadata, its credentials' type and expiry and how their refreshes go — and
// never a credential value. Unlike GET /connections/:connectionId it refreshes nothing.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toRedactedConnection } from '../connection-json.js';
import { PatchbayError } from '../errors.js';
import type { Store } from '../store/index.js';
import { parseInput } from '../validate.js';
import { CONNECTION_ID, refreshStatusOf } from './connections.js';
import { UNIQUE_KEY } from './integrations.js';

const params = z.strictObject({ connectionId: CONNECTION_ID });
const query = z.strictObject({ provider_config_key: UNIQUE_KEY });

export function connectionSummaryRoute(app: FastifyInstance, deps: { store: Store }): void {
  app.get('/connections/:connectionId/summary', async (request) => {
    const { connectionId } = parseInput(params, request.params, 'invalid_uri_params');
    const { provider_config_key } = parseInput(query, request.query, 'invalid_query_params');
    const connection = await deps.store.connections.get(provider_config_key, connectionId);
    if (connection === undefined) throw new PatchbayError('unknown_connection');
    return {
      ...toRedactedConnection(connection),
      refresh: {
        status: refreshStatusOf(connection),
        last_success: connection.lastRefreshSuccess?.toISOString() ?? null,
        last_failure: connection.lastRefreshFailure?.toISOString() ?? null,
        attempts: connection.refreshAttempts,
      },
    };
  });
}
