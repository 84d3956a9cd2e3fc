// What an end user's browser can do with a connect session: authorize an OAuth2 integration
// (redirect to the provider, then the callback), or hand over an API key or a username and
// password. Every path ends the same way: the connection stored (encrypted, with the session's
// end user, organization and tags), every process told, an auth webhook queued, and for OAuth
// the waiting WebSocket told. A failure stores nothing.
import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { isPatchbayError, PatchbayError } from '../errors.js';
import type { Catalog, FieldDefinition, Provider } from '../providers/catalog.js';
import { resolveBaseUrl } from '../proxy/build-request.js';
import { verifyCredentials, type VerifyDeps } from '../credentials/verify.js';
import type { ConnectSession, ConnectionCredentials, Integration, Store } from '../store/index.js';
import { buildAuthorizationUrl, exchangeCode, metadataFrom, splitScopes, TokenExchangeError } from './oauth.js';
import { assertIntegrationAllowed, endUserOf } from './sessions.js';
import { hashSecret, newPkcePair, newState } from './tokens.js';
import type { WsHub } from './ws-hub.js';
import type { AuthFacts } from '../webhooks/payloads.js';

/** The end user has this long to get through the provider's consent screen. */
const FLOW_TTL_MS = 15 * 60_000;
// Connection config comes from the end user's browser: a few short values, checked again by
// the templates they fill (provider-hosts.ts keeps base URLs on the provider's domain).
const MAX_CONFIG_KEYS = 20;
const MAX_CONFIG_VALUE_CHARS = 1024;
// An end user retries a few times at most; a session token in a loop must not fill a table.
const MAX_FLOWS_PER_SESSION = 20;

export interface ConnectFlowDeps {
  store: Store;
  catalog: Catalog;
  ws: WsHub;
  verification: VerifyDeps;
  /** Token requests: the guarded upstream agent. */
  dispatcher: Dispatcher;
  publicUrl: () => string;
  connectionChanged: (providerConfigKey: string, connectionId: string) => void;
  /** Queues the auth webhook (to the session's webhook URL override, if any). */
  authEvent: (facts: AuthFacts, webhookUrlOverride: string | null) => void;
  now?: () => number;
}

/** A failure the end user sees: a type for the frontend SDK, a sentence for the page. */
export class FlowError extends Error {
  override name = 'FlowError';
  constructor(
    readonly type: string,
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
  }
}

function toFlowError(error: unknown): FlowError {
  if (error instanceof FlowError) return error;
  if (error instanceof TokenExchangeError) return new FlowError('token_exchange_failed', error.message, 502);
  if (isPatchbayError(error)) return new FlowError(error.code, error.message, error.status);
  return new FlowError('unknown_error', 'Something went wrong on our side. Please try again.', 500);
}

export interface OAuthStart {
  session: ConnectSession;
  integrationKey: string;
  wsClientId: string | undefined;
  params: Record<string, string>;
  userScopes: string[];
  authorizationParams: Record<string, string>;
}

export interface CallbackQuery {
  state: string | undefined;
  code: string | undefined;
  error: string | undefined;
  errorDescription: string | undefined;
}

export interface CallbackResult {
  providerConfigKey: string;
  connectionId: string;
}

export function createConnectFlows(deps: ConnectFlowDeps) {
  const now = deps.now ?? Date.now;
  const redirectUri = () => `${deps.publicUrl()}/oauth/callback`;

  const integrationOf = async (session: ConnectSession, integrationKey: string) => {
    assertIntegrationAllowed(session, integrationKey);
    const integration = await deps.store.integrations.getByKey(integrationKey);
    if (integration === undefined) throw new PatchbayError('unknown_provider_config');
    const provider = deps.catalog.get(integration.provider);
    if (provider === undefined) throw new PatchbayError('unknown_provider');
    return { integration, provider };
  };

  /** The connection config a flow stores: session defaults, then what the end user entered, held to the provider's fields. */
  const connectionConfigOf = (session: ConnectSession, integrationKey: string, provider: Provider, entered: Record<string, string>) => {
    const config: Record<string, unknown> = { ...(session.integrationsConfigDefaults[integrationKey]?.connection_config ?? {}) };
    const entries = Object.entries(entered);
    if (entries.length > MAX_CONFIG_KEYS) throw new PatchbayError('invalid_connection_config', { message: `At most ${MAX_CONFIG_KEYS} connection config values.` });
    for (const [key, value] of entries) {
      const field: FieldDefinition | undefined = provider.connectionConfig[key];
      if (field === undefined || field.automated) continue; // not the end user's to set
      if (value === '') continue; // left empty: an optional field's `||` alternative applies
      if (value.length > MAX_CONFIG_VALUE_CHARS) throw new PatchbayError('invalid_connection_config', { message: `${key} is too long.` });
      if (field.pattern !== undefined && !safeTest(field.pattern, value)) {
        throw new PatchbayError('invalid_connection_config', { message: `${field.title ?? key} does not have the expected format.` });
      }
      config[key] = value;
    }
    for (const [key, field] of Object.entries(provider.connectionConfig)) {
      if (!field.optional && !field.automated && (config[key] === undefined || config[key] === '')) {
        throw new PatchbayError('invalid_connection_config', { message: `${field.title ?? key} is required.` });
      }
    }
    // The base URL it makes must stay on the provider's hosts (a subdomain that is a whole URL…).
    if (provider.proxy.baseUrl !== undefined) {
      try {
        resolveBaseUrl(provider, { connectionConfig: config }, undefined);
      } catch (error) {
        if (isPatchbayError(error) && error.code === 'invalid_connection_config') throw error;
      }
    }
    return config;
  };

  /** The auth webhook of a flow's end, with the session's end user, organization and tags. */
  const report = (
    session: ConnectSession,
    provider: Provider,
    providerConfigKey: string,
    connectionId: string,
    outcome: Pick<AuthFacts, 'operation' | 'success' | 'error'>,
  ) =>
    deps.authEvent(
      { ...outcome, connectionId, providerConfigKey, provider: provider.key, authMode: provider.authMode, tags: session.tags, endUser: endUserOf(session) ?? null },
      session.webhookUrlOverride,
    );

  const connectionIdFor = (session: ConnectSession) => session.reconnect?.connectionId ?? randomUUID();

  /** Stores the connection; a reconnect keeps the connection's metadata and merges its tags. */
  const store = async (
    session: ConnectSession,
    integration: Integration,
    provider: Provider,
    connectionId: string,
    credentials: ConnectionCredentials,
    connectionConfig: Record<string, unknown>,
  ): Promise<CallbackResult> => {
    const existing = await deps.store.connections.get(integration.uniqueKey, connectionId);
    if (session.reconnect === null && existing !== undefined) throw new FlowError('unknown_error', 'A connection with this id already exists.', 409);
    if (session.reconnect !== null && existing === undefined) throw new FlowError('unknown_connection', 'The connection to reconnect no longer exists.', 404);
    await deps.store.connections.upsert({
      integrationId: integration.id,
      connectionId,
      credentials,
      connectionConfig: { ...(existing?.connectionConfig ?? {}), ...connectionConfig },
      metadata: existing?.metadata,
      tags: { ...(existing?.tags ?? {}), ...session.tags },
      endUser: endUserOf(session) ?? existing?.endUser ?? undefined,
      webhookUrlOverride: session.webhookUrlOverride ?? existing?.webhookUrlOverride ?? undefined,
    });
    deps.connectionChanged(integration.uniqueKey, connectionId);
    report(session, provider, integration.uniqueKey, connectionId, { operation: existing === undefined ? 'creation' : 'override', success: true });
    return { providerConfigKey: integration.uniqueKey, connectionId };
  };

  return {
    /** The provider's authorization URL for this flow (the popup is redirected there). */
    async startOAuth(start: OAuthStart): Promise<URL> {
      const { integration, provider } = await integrationOf(start.session, start.integrationKey);
      if (provider.authMode !== 'OAUTH2') {
        throw new FlowError('invalid_auth_mode', `${provider.displayName} does not use OAuth2; it asks for ${provider.authMode === 'BASIC' ? 'a username and password' : 'an API key'}.`);
      }
      const client = integration.credentials;
      if (client === null || client.type !== 'OAUTH2' || client.client_id === '' || client.client_secret === '') {
        throw new FlowError('missing_oauth_client', `The integration ${integration.uniqueKey} has no OAuth client configured.`);
      }
      const connectionConfig = connectionConfigOf(start.session, start.integrationKey, provider, start.params);
      const defaults = start.session.integrationsConfigDefaults[start.integrationKey];
      const configured = splitScopes(client.scopes, provider.scopeSeparator);
      const state = newState();
      const pkce = provider.disablePkce ? undefined : newPkcePair();
      const url = buildAuthorizationUrl({
        provider,
        clientId: client.client_id,
        scopes: configured.length > 0 ? configured : provider.defaultScopes,
        userScopes: [...splitScopes(defaults?.user_scopes, provider.scopeSeparator), ...start.userScopes],
        connectionConfig,
        redirectUri: redirectUri(),
        state,
        codeChallenge: pkce?.challenge,
        extraParams: { ...(defaults?.authorization_params ?? {}), ...start.authorizationParams },
      });
      const created = await deps.store.connect.createFlow({
        stateHash: hashSecret(state),
        sessionId: start.session.id,
        integrationKey: start.integrationKey,
        connectionId: connectionIdFor(start.session),
        wsClientId: start.wsClientId ?? null,
        secret: { codeVerifier: pkce?.verifier ?? '', redirectUri: redirectUri() },
        connectionConfig,
        expiresAt: new Date(Math.min(now() + FLOW_TTL_MS, start.session.expiresAt.getTime())),
      }, MAX_FLOWS_PER_SESSION);
      if (!created) throw new FlowError('too_many_attempts', 'Too many authorizations were started with this session. Please start again later.', 429);
      return url;
    },

    /**
     * The provider sent the end user back. The state is taken (single use) before anything
     * else; every failure after that is told to the waiting WebSocket too.
     */
    async finishOAuth(query: CallbackQuery): Promise<CallbackResult> {
      if (query.state === undefined || query.state === '' || query.state.length > 200) {
        throw new FlowError('invalid_state', 'This authorization has no state: it was not started by Patchbay.');
      }
      const flow = await deps.store.connect.takeFlow(hashSecret(query.state));
      if (flow === undefined) throw new FlowError('invalid_state', 'This authorization link is unknown or was already used. Please start again.');
      const tell = (error: FlowError) => {
        if (flow.wsClientId !== null) {
          deps.ws.send(flow.wsClientId, {
            message_type: 'error',
            provider_config_key: flow.integrationKey,
            connection_id: flow.connectionId,
            error_type: error.type,
            error_desc: error.message,
          });
        }
        return error;
      };
      let session: ConnectSession | undefined;
      let provider: Provider | undefined;
      try {
        if (flow.expiresAt.getTime() <= now()) throw new FlowError('expired_state', 'This authorization took too long and has expired. Please start again.');
        session = await deps.store.connect.sessionById(flow.sessionId);
        if (session === undefined || session.expiresAt.getTime() <= now()) {
          throw new FlowError('expired_connect_session_token', 'The connect session has expired. Please start again.', 401);
        }
        const { integration, provider: found } = await integrationOf(session, flow.integrationKey);
        provider = found;
        if (query.error !== undefined) {
          const description = query.errorDescription ?? (query.error === 'access_denied' ? 'You did not grant access.' : query.error);
          throw new FlowError(query.error === 'access_denied' ? 'access_denied' : 'authorization_error', `The provider did not authorize the connection: ${description.slice(0, 300)}`);
        }
        if (query.code === undefined || query.code === '') throw new FlowError('missing_code', 'The provider sent no authorization code.');
        const client = integration.credentials;
        if (client === null || client.type !== 'OAUTH2') throw new FlowError('missing_oauth_client', `The integration ${integration.uniqueKey} has no OAuth client configured.`);
        const grant = await exchangeCode({
          provider,
          clientId: client.client_id,
          clientSecret: client.client_secret,
          code: query.code,
          redirectUri: flow.secret.redirectUri,
          codeVerifier: flow.secret.codeVerifier === '' ? undefined : flow.secret.codeVerifier,
          connectionConfig: flow.connectionConfig,
          dispatcher: deps.dispatcher,
          nowMs: now(),
        });
        const credentials: ConnectionCredentials = {
          type: 'OAUTH2',
          access_token: grant.accessToken,
          refresh_token: grant.refreshToken,
          expires_at: grant.expiresAt?.toISOString(),
          raw: grant.raw,
        };
        const connectionConfig = { ...flow.connectionConfig, ...metadataFrom(provider.tokenResponseMetadata, grant.raw) };
        const result = await store(session, integration, provider, flow.connectionId, credentials, connectionConfig);
        if (flow.wsClientId !== null) {
          deps.ws.send(flow.wsClientId, { message_type: 'success', provider_config_key: result.providerConfigKey, connection_id: result.connectionId, is_pending: false });
        }
        return result;
      } catch (error) {
        const failure = toFlowError(error);
        if (session !== undefined && provider !== undefined) {
          report(session, provider, flow.integrationKey, flow.connectionId, {
            operation: session.reconnect === null ? 'creation' : 'override',
            success: false,
            error: { type: failure.type, description: failure.message },
          });
        }
        throw tell(failure);
      }
    },

    /** API_KEY and BASIC: verified with the provider when its catalog entry says how, then stored. */
    async credentialsAuth(
      session: ConnectSession,
      integrationKey: string,
      mode: 'API_KEY' | 'BASIC',
      credentials: ConnectionCredentials,
      params: Record<string, string>,
    ): Promise<CallbackResult> {
      const { integration, provider } = await integrationOf(session, integrationKey);
      if (provider.authMode !== mode) {
        throw new PatchbayError('invalid_body', { message: `${provider.displayName} uses ${provider.authMode}, not ${mode}.` });
      }
      const connectionConfig = connectionConfigOf(session, integrationKey, provider, params);
      const connectionId = connectionIdFor(session);
      await verifyCredentials(deps.verification, { provider, integration, connectionId, connectionConfig, credentials });
      return store(session, integration, provider, connectionId, credentials, connectionConfig);
    },
  };
}

export type ConnectFlows = ReturnType<typeof createConnectFlows>;

/** A catalog pattern tested without letting a bad one throw. */
function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return true;
  }
}
