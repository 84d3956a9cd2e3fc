// The host side of the `nango` object: what a guest's call to `proxy`, `getConnection` or
// `setMetadata` does, for one run. Values in and out are plain data; failures are thrown as
// HostFailure data that the guest turns into its own errors. Nothing secret is ever returned.
import { Buffer } from 'node:buffer';
import type { Dispatcher } from 'undici';
import { toConnectionDetails, toPublicCredentials } from '../server/connection-json.js';
import { isPatchbayError, PatchbayError } from '../server/errors.js';
import { isReservedRequestHeader } from '../server/proxy/headers.js';
import { findUnstorableText } from '../server/validate.js';
import type { ProxyEngine } from '../server/proxy/index.js';
import type { CancelSignal } from '../server/proxy/cancel.js';
import type { ConnectionCredentials, Integration, Store } from '../server/store/index.js';
import { buildControlOperations, type ControlDeps } from './control-operations.js';
import type { HostFailure } from './sandbox/index.js';

// A function buffers each response to copy it into the isolate, whose heap is 128 MB by default:
// 10 MB leaves room for the parsed copy and the function's own work.
export const MAX_FUNCTION_RESPONSE_BYTES = 10 * 1024 * 1024;

// RFC 9110 field names (tokens) and values (no CR, LF or NUL): anything else would be refused
// by undici deep in the send path, or worse, split into another header.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;

// nango.uncontrolledFetch follows redirects itself (each hop through the egress guard), as fetch
// does by default; 5 is Nango's bound, and fetch's own is 20.
const MAX_FETCH_REDIRECTS = 5;
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
// Headers a cross-origin redirect must not carry on (fetch drops them too: WHATWG Fetch §4.4).
const CROSS_ORIGIN_DROPPED = ['authorization', 'proxy-authorization', 'cookie'];

export interface RunScope {
  providerConfigKey: string;
  connectionId: string;
  logId: string;
  signal?: CancelSignal | undefined;
  /** The run's log: credential reads and uncontrolled fetches are recorded there (never a secret). */
  log?: ((level: 'info' | 'warn', message: string) => void) | undefined;
  /** How many nango.triggerAction calls led to this run (0: the app or a schedule started it). */
  triggerDepth?: number | undefined;
}

export interface OperationDeps {
  proxy: ProxyEngine;
  store: Store;
  /** Functions may use connections of other integrations (PATCHBAY_FUNCTIONS_CROSS_INTEGRATION). */
  crossIntegration: boolean;
  /** Tells other processes a connection changed (its cached copies must go). */
  connectionChanged(providerConfigKey: string, connectionId: string): void;
  /**
   * The guarded undici agent every outgoing request uses (server/proxy/egress.ts): nango.uncontrolledFetch
   * goes through it. Without it, uncontrolledFetch is refused.
   */
  egress?: Dispatcher | undefined;
  /** What triggerAction, triggerSync, startSync, getEnvironmentVariables and getWebhookURL need; without it they are refused. */
  control?: ControlDeps | undefined;
}

export type Operation = (args: Record<string, unknown>) => Promise<unknown>;

export function hostFailure(code: string, message: string, extra: Partial<HostFailure> = {}): HostFailure {
  return { hostFailure: true, code, message, ...extra };
}

/** Rethrows anything a host operation hit as HostFailure data; nothing else crosses. */
export function toHostFailure(error: unknown): HostFailure {
  if (isPatchbayError(error)) {
    if (error.code === 'upstream_network_error') return hostFailure('network_error', error.message);
    return hostFailure(error.code, error.message, { status: error.status });
  }
  return hostFailure('internal_error', 'The operation failed inside Patchbay.');
}

export function buildOperations(deps: OperationDeps, scope: RunScope): Record<string, Operation> {
  // A function serves one integration: reaching another's connections (and, through them, its
  // credentials) needs the operator's PATCHBAY_FUNCTIONS_CROSS_INTEGRATION=true.
  const keysOf = (args: Record<string, unknown>) => {
    const providerConfigKey = typeof args.providerConfigKey === 'string' && args.providerConfigKey !== '' ? args.providerConfigKey : scope.providerConfigKey;
    if (providerConfigKey !== scope.providerConfigKey && !deps.crossIntegration) {
      throw new PatchbayError('integration_not_allowed', {
        message: `This function belongs to the integration ${scope.providerConfigKey} and cannot use connections of ${providerConfigKey.slice(0, 200)}.`,
      });
    }
    return { providerConfigKey, connectionId: typeof args.connectionId === 'string' && args.connectionId !== '' ? args.connectionId : scope.connectionId };
  };

  const connectionOf = async (args: Record<string, unknown>) => {
    const keys = keysOf(args);
    const connection = await deps.store.connections.get(keys.providerConfigKey, keys.connectionId);
    if (connection === undefined) throw new PatchbayError('unknown_connection');
    return connection;
  };

  // Credentials cross into the isolate only when the run's own integration allows it
  // (functions_can_read_credentials), and only for connections of that integration, whatever
  // PATCHBAY_FUNCTIONS_CROSS_INTEGRATION says. Read from the store, not a cache: turning the
  // setting off takes effect at the next call.
  const readableCredentials = async (args: Record<string, unknown>, what: string) => {
    const keys = keysOf(args);
    if (keys.providerConfigKey !== scope.providerConfigKey) {
      throw hostFailure('credentials_not_allowed', `Functions may read credentials of their own integration's connections only (${what}).`, { status: 403 });
    }
    const integration = await deps.store.integrations.getByKey(scope.providerConfigKey);
    if (integration === undefined) throw new PatchbayError('unknown_provider_config');
    if (!integration.functionsCanReadCredentials) {
      throw hostFailure(
        'credentials_not_allowed',
        `${what} needs the integration's functions_can_read_credentials setting (PATCH /integrations/${scope.providerConfigKey} {"functions_can_read_credentials": true}); functions never see credentials otherwise.`,
        { status: 403 },
      );
    }
    // Through the proxy's target: the same fresh (refreshed when due) credentials a call would use.
    const target = await deps.proxy.targets.resolve(keys.providerConfigKey, keys.connectionId);
    scope.log?.('info', `${what}: the function read the credentials of connection ${keys.connectionId} (${target.connection.credentials.type}).`);
    return { integration, connection: target.connection };
  };

  const writeMetadata = async (args: Record<string, unknown>, merge: boolean) => {
    const metadata = args.metadata;
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw hostFailure('invalid_metadata', 'Metadata must be an object.');
    }
    // PostgreSQL refuses NUL and lone surrogates in json: say so instead of an internal error.
    const unstorable = findUnstorableText(metadata);
    if (unstorable !== undefined) throw hostFailure('invalid_metadata', `Metadata ${unstorable.path.join('.')}: ${unstorable.message}`);
    const keys = keysOf(args);
    const { missing } = await deps.store.connections.writeMetadata(keys.providerConfigKey, [keys.connectionId], metadata as Record<string, unknown>, merge);
    if (missing.length > 0) throw new PatchbayError('unknown_connection');
    deps.connectionChanged(keys.providerConfigKey, keys.connectionId);
    return null;
  };

  return {
    ...buildControlOperations(deps.store, deps.control, scope, keysOf),
    async proxy(args) {
      const keys = keysOf(args);
      const result = await deps.proxy.call({
        ...toProxyRequest(args),
        ...keys,
        signal: scope.signal,
        logParentId: scope.logId,
      });
      const body = await readBounded(result.body, MAX_FUNCTION_RESPONSE_BYTES);
      const headers = flattenHeaders(result.headers);
      return { status: result.status, headers, data: decodeBody(body, headers['content-type'], args.responseType) };
    },
    async getConnection(args) {
      if (args.withCredentials !== true) return toConnectionDetails(await connectionOf(args));
      const { connection } = await readableCredentials(args, 'nango.getConnection() with credentials');
      return { ...toConnectionDetails(connection), credentials: toPublicCredentials(connection.credentials, false) };
    },
    async getToken(args) {
      const { connection } = await readableCredentials(args, 'nango.getToken()');
      return toToken(connection.credentials);
    },
    async getIntegration(args) {
      const include = Array.isArray(args.include) ? args.include.filter((item): item is string => typeof item === 'string') : [];
      if (include.includes('credentials')) {
        const { integration } = await readableCredentials({}, "nango.getIntegration({include: ['credentials']})");
        return toFunctionIntegration(integration, true);
      }
      const integration = await deps.store.integrations.getByKey(scope.providerConfigKey);
      if (integration === undefined) throw new PatchbayError('unknown_provider_config');
      return toFunctionIntegration(integration, false);
    },
    async uncontrolledFetch(args) {
      if (deps.egress === undefined) throw hostFailure('not_supported', 'nango.uncontrolledFetch is not available in this runner.');
      return fetchUncontrolled(deps.egress, args, scope);
    },
    async getMetadata(args) {
      return (await connectionOf(args)).metadata;
    },
    setMetadata: (args) => writeMetadata(args, false),
    updateMetadata: (args) => writeMetadata(args, true),
  };
}

/** What nango.getToken() answers, as Nango's: the OAuth2 access token, else the credentials object. */
export function toToken(credentials: ConnectionCredentials): unknown {
  switch (credentials.type) {
    case 'OAUTH2':
      return credentials.access_token;
    case 'OAUTH2_CC':
      return { token: credentials.token, client_id: credentials.client_id, client_secret: credentials.client_secret, expires_at: credentials.expires_at };
    case 'NONE':
      return {};
    default:
      return credentials;
  }
}

/** nango.getIntegration(): the public shape of GET /integrations/:key (client secret only with `withCredentials`). */
function toFunctionIntegration(integration: Integration, withCredentials: boolean) {
  return {
    unique_key: integration.uniqueKey,
    provider: integration.provider,
    display_name: integration.displayName ?? integration.provider,
    logo: `/images/template-logos/${integration.provider}.svg`,
    forward_webhooks: integration.forwardWebhooks,
    created_at: integration.createdAt.toISOString(),
    updated_at: integration.updatedAt.toISOString(),
    ...(withCredentials ? { credentials: integration.credentials } : {}),
  };
}

/**
 * nango.uncontrolledFetch: a plain request to any URL, with no credentials and no retries, through
 * the egress guard on every hop (redirects are followed here, so each target is judged). The body is
 * read bounded, as proxy responses are.
 */
async function fetchUncontrolled(dispatcher: Dispatcher, args: Record<string, unknown>, scope: RunScope) {
  let url: URL;
  try {
    url = new URL(String(args.url));
  } catch {
    throw hostFailure('invalid_url', 'uncontrolledFetch() needs an absolute http or https URL.');
  }
  let method = typeof args.method === 'string' && args.method !== '' ? args.method.toUpperCase() : 'GET';
  const headers = toProxyRequest({ endpoint: '/', headers: args.headers }).headers;
  let body: Buffer | undefined;
  // A binary body crosses beside the JSON (the bridge puts it in `data`); a string one in it.
  if (args.data instanceof Uint8Array) body = Buffer.from(args.data.buffer, args.data.byteOffset, args.data.byteLength);
  else if (typeof args.body === 'string') body = Buffer.from(args.body);
  const signal = scope.signal as AbortSignal | undefined;
  for (let redirects = 0; ; redirects++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw hostFailure('invalid_url', 'uncontrolledFetch() can only fetch http and https URLs.');
    let response: Dispatcher.ResponseData;
    try {
      response = await dispatcher.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: method as Dispatcher.HttpMethod, headers, body, signal });
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'EGRESS_DENIED') throw hostFailure('egress_denied', `Calls to ${url.hostname} are not allowed (a private, loopback, link-local or metadata address).`, { status: 403 });
      throw hostFailure('network_error', `uncontrolledFetch to ${url.hostname} failed${typeof code === 'string' ? ` (${code})` : ''}.`);
    }
    const location = response.headers.location;
    if (REDIRECT_STATUSES.has(response.statusCode) && typeof location === 'string' && redirects < MAX_FETCH_REDIRECTS) {
      response.body.destroy();
      const next = new URL(location, url);
      if (next.origin !== url.origin) for (const name of CROSS_ORIGIN_DROPPED) delete headers[name];
      // fetch's rules: 303 turns anything but GET/HEAD into GET, 301/302 turn POST into GET.
      if ((response.statusCode === 303 && method !== 'GET' && method !== 'HEAD') || ((response.statusCode === 301 || response.statusCode === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
        for (const name of Object.keys(headers)) if (name.startsWith('content-')) delete headers[name];
      }
      url = next;
      continue;
    }
    const bytes = await readBounded(response.body, MAX_FUNCTION_RESPONSE_BYTES);
    // Origin and path only: a query string may hold a key the function added.
    scope.log?.('info', `uncontrolledFetch ${method} ${url.origin}${url.pathname} → ${response.statusCode}`);
    const pairs: [string, string][] = [];
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) pairs.push([name, item]);
    }
    return { status: response.statusCode, url: url.href, redirected: redirects > 0, headers: pairs, body: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  }
}

/** A guest's proxy config → the engine's call shape (without the keys). */
export function toProxyRequest(args: Record<string, unknown>) {
  const method = typeof args.method === 'string' && args.method !== '' ? args.method.toUpperCase() : 'GET';
  if (typeof args.endpoint !== 'string' || args.endpoint === '') throw hostFailure('invalid_endpoint', 'proxy() needs an endpoint.');
  const headers: Record<string, string> = {};
  if (typeof args.headers === 'object' && args.headers !== null) {
    for (const [name, value] of Object.entries(args.headers)) {
      const lower = name.toLowerCase();
      if (value === undefined || value === null || isReservedRequestHeader(lower)) continue;
      const text = String(value);
      if (!HEADER_NAME.test(lower) || HEADER_VALUE_FORBIDDEN.test(text)) {
        throw hostFailure('invalid_headers', `The header ${JSON.stringify(name.slice(0, 100))} has a name or value that cannot be sent.`);
      }
      headers[lower] = text;
    }
  }
  let body: Buffer | undefined;
  const data = args.data;
  if (data instanceof Uint8Array) body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  else if (data instanceof ArrayBuffer) body = Buffer.from(data);
  else if (typeof data === 'string') body = Buffer.from(data);
  else if (data !== undefined && data !== null) {
    body = Buffer.from(JSON.stringify(data));
    headers['content-type'] ??= 'application/json';
  }
  const retryOn = Array.isArray(args.retryOn) ? args.retryOn.filter((s): s is number => Number.isInteger(s)) : [];
  return {
    method,
    endpoint: withParams(args.endpoint, args.params),
    headers,
    body,
    options: {
      retries: typeof args.retries === 'number' && args.retries > 0 ? Math.min(Math.floor(args.retries), 10) : 0,
      retryOn,
      baseUrlOverride: typeof args.baseUrlOverride === 'string' && args.baseUrlOverride !== '' ? args.baseUrlOverride : undefined,
      // The host must read the body to hand it over as data.
      decompress: true,
    },
  };
}

/** `params` as @nangohq/node applies them: a string is the query, an object is set key by key. */
export function withParams(endpoint: string, params: unknown): string {
  if (params === undefined || params === null) return endpoint;
  if (typeof params === 'string') {
    if (params === '') return endpoint;
    if (endpoint.includes('?')) throw hostFailure('invalid_params', 'params cannot be a string when the endpoint already has a query.');
    return `${endpoint}?${params.replace(/^\?/, '')}`;
  }
  if (typeof params !== 'object') return endpoint;
  const [path, query = ''] = splitOnce(endpoint, '?');
  const search = new URLSearchParams(query);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? path : `${path}?${text}`;
}

function splitOnce(text: string, separator: string): [string, string?] {
  const at = text.indexOf(separator);
  return at < 0 ? [text] : [text.slice(0, at), text.slice(at + 1)];
}

async function readBounded(body: AsyncIterable<Buffer | string>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += buffer.byteLength;
    if (total > maxBytes) {
      (body as { destroy?: () => void }).destroy?.();
      throw hostFailure('response_too_large', `The provider's response is larger than ${maxBytes} bytes, the limit for functions.`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}

function flattenHeaders(headers: Record<string, string | string[]>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/** As axios does by default: JSON when it parses, text otherwise; bytes when asked for. */
export function decodeBody(body: Buffer, contentType: string | undefined, responseType: unknown): unknown {
  if (responseType === 'arraybuffer' || responseType === 'stream') return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  const text = body.toString('utf8');
  if (responseType === 'text') return text;
  if (text === '') return contentType?.includes('json') ? null : '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
