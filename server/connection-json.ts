// A connection as JSON, in the contract's field names: the list shape and the detailed shape
// without credentials (which only GET /connections/:id adds). Shared by the routes and the
// function runner's `nango.getConnection`, which never sees credentials.
import type { Connection } from './store/index.js';

function toConnectionSummary(connection: Connection) {
  return {
    id: connection.id,
    connection_id: connection.connectionId,
    provider_config_key: connection.providerConfigKey,
    provider: connection.provider,
    errors: [] as { type: string; log_id: string }[],
    end_user: toPublicEndUser(connection),
    tags: connection.tags,
    metadata: connection.metadata,
  };
}

export function toPublicConnection(connection: Connection) {
  return { ...toConnectionSummary(connection), created: connection.createdAt.toISOString() };
}

export function toConnectionDetails(connection: Connection) {
  return {
    ...toConnectionSummary(connection),
    connection_config: connection.connectionConfig,
    webhook_url_override: connection.webhookUrlOverride,
    created_at: connection.createdAt.toISOString(),
    updated_at: connection.updatedAt.toISOString(),
    last_fetched_at: connection.lastFetchedAt?.toISOString() ?? null,
  };
}

function toPublicEndUser(connection: Connection) {
  const user = connection.endUser;
  if (user === null) return null;
  return { id: user.id, email: user.email ?? null, display_name: user.display_name ?? null, tags: user.tags ?? null, organization: null };
}
