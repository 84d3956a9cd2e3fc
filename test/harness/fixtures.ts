// Domain values built by hand for unit tests of pure stages (no database involved).
import type { Connection, ConnectionCredentials, Integration, IntegrationCredentials } from '../../server/store/index.js';

export function connectionFixture(credentials: ConnectionCredentials, connectionConfig: Record<string, unknown> = {}): Connection {
  return {
    id: 1,
    connectionId: 'conn-1',
    integrationId: 1,
    providerConfigKey: 'key',
    provider: 'provider',
    credentials,
    connectionConfig,
    metadata: {},
    tags: {},
    endUser: null,
    webhookUrlOverride: null,
    lastFetchedAt: null,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    lastRefreshSuccess: null,
    lastRefreshFailure: null,
    refreshAttempts: 0,
    refreshExhausted: false,
  };
}

export function integrationFixture(credentials: IntegrationCredentials | null): Integration {
  return {
    id: 1,
    uniqueKey: 'key',
    provider: 'provider',
    displayName: null,
    credentials,
    custom: null,
    integrationConfig: null,
    forwardWebhooks: false,
    functionsCanReadCredentials: false,
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };
}
