// Keeps connection credentials valid: proactive OAuth2 refresh inside the expiry buffer,
// client-credentials tokens fetched and cached until expiry, forced refresh after a 401.
// One refresh at a time per connection: a single-flight map in the process, and a row lock
// (SELECT … FOR UPDATE, then re-read) across processes.
import type { Dispatcher } from 'undici';
import { isPatchbayError, PatchbayError } from '../errors.js';
import type { Catalog, Provider } from '../providers/catalog.js';
import { renderProviderUrl } from '../proxy/build-request.js';
import type { Connection, ConnectionCredentials, Store } from '../store/index.js';
import { requestToken, type TokenGrant } from './oauth2.js';

/** As Nango does: refresh when the token expires within 15 minutes, unless the provider says otherwise. */
const DEFAULT_EXPIRY_BUFFER_MS = 15 * 60_000;
/** As in Nango: after a failed refresh, callers get `connection_refresh_backoff` for 30 s. */
const REFRESH_FAILURE_COOLDOWN_MS = 30_000;
/** Failures on this many different days mark the connection exhausted, as in Nango. */
const EXHAUST_AFTER_DAYS = 4;
/** Bounds the wait for another process's refresh holding the row lock (12 s, as Nango's API allows). */
const LOCK_TIMEOUT_MS = 12_000;
const TOKEN_REQUEST_TIMEOUT_MS = 10_000;

export interface CredentialsManagerDeps {
  store: Store;
  catalog: Catalog;
  dispatcher: Dispatcher;
  now?: () => number;
  /** Called with every connection whose credentials changed (cache invalidation, logs). */
  onRefreshed?: (connection: Connection) => void;
  /** Called when the token endpoint refused a refresh (the auth webhook's `refresh` failure). */
  onRefreshFailed?: (connection: Connection, error: unknown) => void;
}

export interface CredentialsManager {
  /** The connection with valid credentials: as is, or refreshed (`force`: refreshed regardless). */
  fresh(connection: Connection, options: { force: boolean }): Promise<Connection>;
  /** True when `fresh` would call the token endpoint now. */
  needsRefresh(connection: Connection): boolean;
  /** True when a forced refresh can produce a different token (a 401 is worth one retry). */
  canRefresh(connection: Connection): boolean;
}

function currentToken(credentials: ConnectionCredentials): string | undefined {
  if (credentials.type === 'OAUTH2') return credentials.access_token;
  if (credentials.type === 'OAUTH2_CC') return credentials.token;
  return undefined;
}

export function createCredentialsManager(deps: CredentialsManagerDeps): CredentialsManager {
  const now = deps.now ?? Date.now;
  const inFlight = new Map<number, Promise<Connection>>();

  const providerOf = (connection: Connection): Provider => {
    const provider = deps.catalog.get(connection.provider);
    if (provider === undefined) throw new PatchbayError('unknown_provider');
    return provider;
  };

  const canRefresh = (connection: Connection) => {
    const credentials = connection.credentials;
    if (credentials.type === 'OAUTH2') return credentials.refresh_token !== undefined && credentials.refresh_token !== '';
    return credentials.type === 'OAUTH2_CC';
  };

  const needsRefresh = (connection: Connection): boolean => {
    const credentials = connection.credentials;
    if (!canRefresh(connection)) return false;
    if (credentials.type === 'OAUTH2_CC' && credentials.token === '') return true;
    const expiresAt = 'expires_at' in credentials ? credentials.expires_at : undefined;
    if (expiresAt === undefined) return false; // no expiry known: never refreshed proactively
    const provider = deps.catalog.get(connection.provider);
    const bufferMs = provider?.tokenExpirationBufferSec !== undefined ? provider.tokenExpirationBufferSec * 1000 : DEFAULT_EXPIRY_BUFFER_MS;
    return Date.parse(expiresAt) - now() < bufferMs;
  };

  const grantToCredentials = (previous: ConnectionCredentials, grant: TokenGrant): ConnectionCredentials => {
    if (previous.type === 'OAUTH2_CC') {
      return { ...previous, token: grant.accessToken, expires_at: grant.expiresAt?.toISOString(), raw: grant.raw };
    }
    if (previous.type !== 'OAUTH2') return previous;
    return {
      ...previous,
      access_token: grant.accessToken,
      // Providers that do not rotate refresh tokens omit them: keep the one we have.
      refresh_token: grant.refreshToken ?? previous.refresh_token,
      expires_at: grant.expiresAt?.toISOString(),
      raw: grant.raw,
    };
  };

  const callTokenEndpoint = async (connection: Connection): Promise<TokenGrant> => {
    const provider = providerOf(connection);
    const credentials = connection.credentials;
    const template = provider.refreshUrl ?? provider.tokenUrl;
    if (template === undefined) {
      throw new PatchbayError('refresh_token_external_error', { message: `Provider ${provider.key} has no token URL.` });
    }
    // The client secret and refresh token go only where the template says: a subdomain value
    // such as `attacker.example/x?` must not move the token URL off the provider's domain.
    let url: URL;
    try {
      url = renderProviderUrl(provider, template, { connectionConfig: connection.connectionConfig }, `token URL of ${provider.key}`, 'refresh_token_external_error');
    } catch (error) {
      if (!isPatchbayError(error) || error.code !== 'invalid_connection_config') throw error;
      throw new PatchbayError('refresh_token_external_error', { message: `The token URL of ${provider.key} is not on the provider's hosts once filled in.`, cause: error });
    }
    let clientId: string | undefined;
    let clientSecret: string | undefined;
    let params: Record<string, string>;
    if (credentials.type === 'OAUTH2_CC') {
      clientId = credentials.client_id;
      clientSecret = credentials.client_secret;
      params = { ...provider.tokenParams, grant_type: 'client_credentials' };
    } else if (credentials.type === 'OAUTH2') {
      const integration = await deps.store.integrations.getById(connection.integrationId);
      const app = integration?.credentials;
      clientId = credentials.config_override?.client_id ?? (app && 'client_id' in app ? app.client_id : undefined);
      clientSecret = credentials.config_override?.client_secret ?? (app && 'client_secret' in app ? app.client_secret : undefined);
      params = { ...provider.refreshParams, grant_type: 'refresh_token', refresh_token: credentials.refresh_token ?? '' };
    } else {
      throw new PatchbayError('invalid_credentials');
    }
    if (!clientId || !clientSecret) {
      throw new PatchbayError('refresh_token_external_error', {
        message: `The integration ${connection.providerConfigKey} has no OAuth client id and secret to refresh with.`,
      });
    }
    return requestToken(
      deps.dispatcher,
      {
        url: url.href,
        params,
        clientId,
        clientSecret,
        authorizationMethod: provider.authorizationMethod,
        bodyFormat: provider.bodyFormat,
        timeoutMs: TOKEN_REQUEST_TIMEOUT_MS,
      },
      now(),
    );
  };

  const refreshUnderLock = async (seen: Connection, force: boolean): Promise<Connection> => {
    let failure: unknown;
    const result = await deps.store.transaction(async (tx) => {
      const current = await tx.connections.getForUpdate(seen.id, { lockTimeoutMs: LOCK_TIMEOUT_MS });
      if (current === undefined) throw new PatchbayError('unknown_connection');
      // Another process refreshed while we waited for the lock: use its work.
      if (!force && !needsRefresh(current)) return current;
      if (force && currentToken(current.credentials) !== currentToken(seen.credentials)) return current;
      try {
        const grant = await callTokenEndpoint(current);
        const credentials = grantToCredentials(current.credentials, grant);
        await tx.connections.saveRefreshedCredentials(current.id, credentials);
        return { ...current, credentials, lastRefreshSuccess: new Date(now()), lastRefreshFailure: null, refreshAttempts: 0, refreshExhausted: false };
      } catch (error) {
        failure = error;
        await tx.connections.saveRefreshFailure(current.id, EXHAUST_AFTER_DAYS);
        return undefined;
      }
    });
    if (failure !== undefined || result === undefined) {
      deps.onRefreshFailed?.(seen, failure);
      throw failure;
    }
    if (result !== seen) deps.onRefreshed?.(result);
    return result;
  };

  return {
    needsRefresh,
    canRefresh,
    async fresh(connection, { force }) {
      if (!canRefresh(connection)) return connection;
      if (!force && !needsRefresh(connection)) return connection;
      if (!force) {
        if (connection.refreshExhausted) throw new PatchbayError('connection_refresh_exhausted');
        const failedAt = connection.lastRefreshFailure?.getTime();
        if (failedAt !== undefined && now() - failedAt < REFRESH_FAILURE_COOLDOWN_MS) {
          throw new PatchbayError('connection_refresh_backoff');
        }
      }
      let pending = inFlight.get(connection.id);
      if (pending === undefined) {
        pending = refreshUnderLock(connection, force).finally(() => inFlight.delete(connection.id));
        inFlight.set(connection.id, pending);
      }
      return pending;
    },
  };
}
