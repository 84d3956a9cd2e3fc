// A connection as JSON, in the field names of Nango's API: the list shape, the detailed shape
// without credentials (shared with the function runner's `nango.getConnection`, which never sees
// credentials) and the full shape with them, which only the connection routes answer, and only
// to the secret key (a dashboard session gets `toRedactedConnection`).
import type { Connection, ConnectionCredentials } from './store/index.js';

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

/** The detailed shape with credentials; the refresh token only when asked (`refresh_token=true`). */
export function toFullConnection(connection: Connection, withRefreshToken = false) {
  return { ...toConnectionDetails(connection), credentials: toPublicCredentials(connection.credentials, withRefreshToken) };
}

/** Credentials as a dashboard session sees them: their type and expiry, never a value. */
export function toCredentialsSummary(credentials: ConnectionCredentials) {
  const expiresAt = credentials.type === 'OAUTH2' || credentials.type === 'OAUTH2_CC' ? (credentials.expires_at ?? null) : null;
  return { type: credentials.type, expires_at: expiresAt === null ? null : new Date(expiresAt).toISOString() };
}

/** The detailed shape with `credentials` reduced to their summary (answers to a dashboard session). */
export function toRedactedConnection(connection: Connection) {
  return { ...toConnectionDetails(connection), credentials: toCredentialsSummary(connection.credentials) };
}

/**
 * Without `withRefreshToken` the refresh token appears nowhere: neither beside the access token
 * nor in `raw`, the provider's token response, which carries it too (as Nango strips both).
 * Any `refresh_token` key in `raw` goes, at any depth, and any value equal to the token.
 */
export function toPublicCredentials(credentials: ConnectionCredentials, withRefreshToken: boolean) {
  if (withRefreshToken || (credentials.type !== 'OAUTH2' && credentials.type !== 'OAUTH2_CC')) return credentials;
  const refreshToken = credentials.type === 'OAUTH2' ? credentials.refresh_token : undefined;
  const isSecret = (key: string, value: unknown) => key === 'refresh_token' || (refreshToken !== undefined && refreshToken !== '' && value === refreshToken);
  const raw = JSON.parse(JSON.stringify(credentials.raw, (key, value: unknown) => (isSecret(key, value) ? undefined : value))) as Record<string, unknown>;
  if (credentials.type === 'OAUTH2_CC') return { ...credentials, raw };
  const { refresh_token: _hidden, ...rest } = credentials;
  return { ...rest, raw };
}

function toPublicEndUser(connection: Connection) {
  const user = connection.endUser;
  if (user === null) return null;
  const organization = user.organization ? { id: user.organization.id, display_name: user.organization.display_name ?? null } : null;
  return { id: user.id, email: user.email ?? null, display_name: user.display_name ?? null, tags: user.tags ?? null, organization };
}
