// The two halves of an OAuth2 authorization-code flow (RFC 6749 §4.1, PKCE RFC 7636): the URL
// the end user's browser is sent to, and the code exchanged for tokens at the callback. The
// catalog's fields keep Nango's meaning: authorization_params, scope_separator, default_scopes,
// token_params, `${connectionConfig.x}` placeholders, token_response_metadata.
import type { Dispatcher } from 'undici';
import { PatchbayError } from '../errors.js';
import { INVALID_ACCESS_TOKEN_MESSAGE, requestToken, type TokenGrant } from '../credentials/oauth2.js';
import type { Provider } from '../providers/catalog.js';
import { renderProviderUrl } from '../proxy/build-request.js';

// The token endpoint answers within seconds; an end user is waiting in the popup.
const TOKEN_EXCHANGE_TIMEOUT_MS = 15_000;

/** A catalog URL filled from what the end user entered: held to the provider's domain, else a clear 400. */
const renderUrl = (provider: Provider, template: string, connectionConfig: Record<string, unknown>, what: string) =>
  renderProviderUrl(provider, template, { connectionConfig }, what, 'invalid_connection_config');

/** Splits scope lists the way apps write them: commas, spaces or the provider's separator. */
export function splitScopes(text: string | undefined, separator: string): string[] {
  if (text === undefined || text.trim() === '') return [];
  const parts = separator.trim() === '' ? text.split(/[\s,]+/) : text.split(new RegExp(`[\\s,]+|${separator.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

export interface AuthorizationRequest {
  provider: Provider;
  clientId: string;
  /** The integration's configured scopes (or the provider's defaults when it has none). */
  scopes: string[];
  /** Slack-style user scopes (`user_scope`), sent as their own parameter. */
  userScopes: string[];
  connectionConfig: Record<string, unknown>;
  redirectUri: string;
  state: string;
  /** S256 challenge; undefined when the provider refuses PKCE. */
  codeChallenge: string | undefined;
  /** From the session's integrations_config_defaults and the frontend's authorization_params. */
  extraParams: Record<string, string>;
}

export function buildAuthorizationUrl(request: AuthorizationRequest): URL {
  const { provider } = request;
  if (provider.authorizationUrl === undefined) {
    throw new PatchbayError('unknown_provider', { message: `Provider ${provider.key} has no authorization URL.` });
  }
  const url = renderUrl(provider, provider.authorizationUrl, request.connectionConfig, "provider's authorization URL");
  const params = url.searchParams;
  params.set('client_id', request.clientId);
  params.set('redirect_uri', request.redirectUri);
  params.set('response_type', 'code');
  const scopes = [...new Set(request.scopes)];
  if (scopes.length > 0) params.set('scope', scopes.join(provider.scopeSeparator));
  if (request.userScopes.length > 0) params.set('user_scope', request.userScopes.join(provider.scopeSeparator));
  for (const [name, value] of Object.entries(provider.authorizationParams)) params.set(name, value);
  for (const [name, value] of Object.entries(request.extraParams)) {
    // What Patchbay owns in the flow cannot be replaced from the browser.
    if (!RESERVED_PARAMS.has(name)) params.set(name, value);
  }
  params.set('state', request.state);
  if (request.codeChallenge !== undefined) {
    params.set('code_challenge', request.codeChallenge);
    params.set('code_challenge_method', 'S256');
  }
  return url;
}

const RESERVED_PARAMS = new Set(['client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'response_type']);

export interface CodeExchange {
  provider: Provider;
  clientId: string;
  clientSecret: string;
  code: string;
  redirectUri: string;
  codeVerifier: string | undefined;
  connectionConfig: Record<string, unknown>;
  dispatcher: Dispatcher;
  nowMs: number;
}

export class TokenExchangeError extends Error {
  override name = 'TokenExchangeError';
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

/** Trades the code for tokens; the message of a failure never holds a secret. */
export async function exchangeCode(exchange: CodeExchange): Promise<TokenGrant> {
  const { provider } = exchange;
  if (provider.tokenUrl === undefined) throw new TokenExchangeError(`Provider ${provider.key} has no token URL.`, undefined);
  const url = renderUrl(provider, provider.tokenUrl, exchange.connectionConfig, "provider's token URL");
  const params: Record<string, string> = {
    grant_type: 'authorization_code',
    ...provider.tokenParams,
    code: exchange.code,
    redirect_uri: exchange.redirectUri,
  };
  if (exchange.codeVerifier !== undefined) params.code_verifier = exchange.codeVerifier;
  try {
    return await requestToken(
      exchange.dispatcher,
      {
        url: url.href,
        params,
        clientId: exchange.clientId,
        clientSecret: exchange.clientSecret,
        authorizationMethod: provider.authorizationMethod,
        bodyFormat: provider.bodyFormat,
        timeoutMs: TOKEN_EXCHANGE_TIMEOUT_MS,
      },
      exchange.nowMs,
    );
  } catch (error) {
    const payload = (error as { payload?: { status?: unknown; error?: unknown; error_description?: unknown; code?: unknown; invalid?: unknown } }).payload;
    const status = typeof payload?.status === 'number' ? payload.status : undefined;
    // Not refused: granted, with a token that could never be sent.
    if (payload?.invalid === 'access_token') throw new TokenExchangeError(INVALID_ACCESS_TOKEN_MESSAGE, status);
    const reason =
      typeof payload?.error === 'string'
        ? `${payload.error}${typeof payload.error_description === 'string' ? `: ${payload.error_description}` : ''}`
        : typeof payload?.code === 'string'
          ? `the token endpoint could not be reached (${payload.code})`
          : status !== undefined
            ? `HTTP ${status}`
            : 'no access token in the answer';
    throw new TokenExchangeError(`The provider refused the authorization code: ${reason.slice(0, 500)}.`, status);
  }
}

/** Values the catalog says to read from the token response (`instance_url`, `team.id`) into connection config. */
export function metadataFrom(paths: string[], source: Record<string, unknown>): Record<string, unknown> {
  const found: Record<string, unknown> = {};
  for (const path of paths) {
    let value: unknown = source;
    for (const part of path.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
    if (value !== undefined && value !== null && typeof value !== 'object') found[path.split('.').pop() as string] = value;
  }
  return found;
}
