// The Node client: the `Nango` class of `@nangohq/node` (same constructor, methods, HTTP requests
// and axios-shaped results and errors) on undici, for the routes Patchbay serves. Builds requests
// here (routes, headers, query); sdk/http.ts sends them. Imports nothing of the platform.
import os from 'node:os';
import type { Dispatcher } from 'undici';
import type { RequestConfig } from './errors.js';
import { HttpClient, type HttpResponse } from './http.js';
import { appendQuery, serializeParams } from './params.js';
import type {
  ActionAsyncResponse,
  Connection,
  ConnectionCredentials,
  ConnectionList,
  CreateIntegrationBody,
  Integration,
  ListConnectionsParams,
  ListRecordsRequestConfig,
  ListRecordsResponse,
  Metadata,
  MetadataChangeResponse,
  ProxyConfiguration,
  SyncSelector,
  SyncStatusResponse,
  TriggerSyncOptions,
} from './types.js';
import { verifyWebhookSignature } from './webhooks.js';

/** Reported in the User-Agent; test/unit/sdk/client.test.ts keeps it equal to package.json's version. */
export const SDK_VERSION = '0.1.0';

/** Nango Cloud, as in `@nangohq/node`; point `host` at your Patchbay. */
export const DEFAULT_HOST = 'https://api.nango.dev';

/** Exactly one of `apiKey` or `secretKey` (the same thing; `secretKey` is `@nangohq/node`'s older name). */
type NangoCredentials = { apiKey: string; secretKey?: never } | { apiKey?: never; secretKey: string };

export type NangoProps = {
  /** Patchbay's URL, e.g. `http://localhost:3003`. Default `https://api.nango.dev`. */
  host?: string;
  /** Key that signs the webhooks you receive; default `secretKey`. */
  webhookSigningKey?: string;
  /** Default connection for `proxy` and its shortcuts. */
  connectionId?: string;
  /** Default integration for `proxy` and its shortcuts. */
  providerConfigKey?: string;
  /** Sent as `Nango-Is-Sync`. */
  isSync?: boolean;
  /** Sent as `Nango-Is-Script`. */
  isScript?: boolean;
  /** Sent as `Nango-Is-Dry-Run`. */
  dryRun?: boolean;
  /** Attaches proxy calls to an existing log operation (`Nango-Activity-Log-Id`). */
  activityLogId?: string | undefined;
} & NangoCredentials;

export interface NangoAdminProps {
  /** Appended to the User-Agent: `patchbay-node/0.1.0 (linux/6.1; node.js/20.20.0); <userAgent>`. */
  userAgent?: string;
  /** An undici dispatcher to send through (a ProxyAgent, a MockAgent…); default: a keep-alive Agent per client. */
  dispatcher?: Dispatcher;
}

/** What the proxy and its shortcuts take in an app: ProxyConfiguration with the keys optional (they default to the client's). */
export type NangoProxyConfiguration = ProxyConfiguration;

/** `patchbay-node/<version> (<os>/<release>; node.js/<version>)[; <custom>]`, like `@nangohq/node`'s. */
export function buildUserAgent(custom?: string): string {
  const osName = os.platform().replace(' ', '_');
  const osVersion = os.release().replace(' ', '_');
  return `patchbay-node/${SDK_VERSION} (${osName}/${osVersion}; node.js/${process.versions.node})${custom ? `; ${custom}` : ''}`;
}

/** `${host}/proxy` + endpoint, then `params` (a string is an error when the endpoint has a query already, as in `@nangohq/node`). */
export function buildProxyUrl(serverUrl: string, config: Pick<ProxyConfiguration, 'endpoint' | 'params' | 'paramsSerializer'>): string {
  const url = `${serverUrl}/proxy${config.endpoint.startsWith('/') ? '' : '/'}${config.endpoint}`;
  if (typeof config.params === 'string' && config.params !== '' && url.includes('?')) {
    throw new Error('Can not set query params in endpoint and in params');
  }
  return appendQuery(url, serializeParams(config.params, config.paramsSerializer));
}

/**
 * The headers of a proxy call, as @nangohq/node sends them: the keys, `Base-Url-Override` and
 * `Nango-Activity-Log-Id` (empty when unset), each custom header as `Nango-Proxy-<name>`, a
 * custom `Content-Type` also as the real one, and `Retries`/`Decompress`/`Retry-On`/
 * `Forward-Headers-On-Redirect` when given.
 */
export function buildProxyHeaders(config: ProxyConfiguration & { providerConfigKey: string; connectionId: string }, activityLogId?: string): Record<string, string> {
  const headers: Record<string, string> = {
    'Connection-Id': config.connectionId,
    'Provider-Config-Key': config.providerConfigKey,
    'Base-Url-Override': config.baseUrlOverride || '',
    'Nango-Activity-Log-Id': activityLogId || '',
  };
  for (const [name, value] of Object.entries(config.headers ?? {})) {
    if (value === undefined || value === null) continue;
    headers[`Nango-Proxy-${name}`] = String(value);
    // The proxy forwards only Nango-Proxy-* upstream; the plain Content-Type describes the body
    // we send to Patchbay (@nangohq/node matches 'Content-Type' exactly; any case works here).
    if (name.toLowerCase() === 'content-type') headers['Content-Type'] = String(value);
  }
  if (config.retries) headers['Retries'] = String(config.retries);
  if (config.decompress) headers['Decompress'] = String(config.decompress);
  if (config.retryOn) headers['Retry-On'] = config.retryOn.join(',');
  if (config.forwardHeadersOnRedirect !== undefined) headers['Forward-Headers-On-Redirect'] = String(config.forwardHeadersOnRedirect);
  return headers;
}

function requireValue(value: unknown, message: string): void {
  if (!value) throw new Error(message);
}

function requireSyncArray(syncs: unknown): void {
  if (!syncs) throw new Error('Sync is required');
  if (!Array.isArray(syncs)) throw new Error('Syncs must be an array of strings. If it is a single sync, please wrap it in an array.');
}

interface ApiCall {
  query?: Record<string, unknown> | URLSearchParams;
  headers?: Record<string, string>;
  data?: unknown;
}

/**
 * A client for Patchbay's API, call for call the `Nango` class of `@nangohq/node`: point `host`
 * at Patchbay and existing code keeps working, without axios. Results and errors have axios's
 * shape (`response.data`, `error.response.status`).
 *
 * @example
 * import { Nango } from 'patchbay/sdk';
 *
 * const nango = new Nango({ secretKey: PATCHBAY_SECRET_KEY, host: 'http://localhost:3003' });
 * const res = await nango.get({ endpoint: '/user', providerConfigKey: 'github', connectionId: 'u-1' });
 * console.log(res.status, res.data.login);
 * const issue = await nango.triggerAction('github', 'u-1', 'create-issue', { repo: 'octo/hello', title: 'Bug' });
 */
export class Nango {
  readonly serverUrl: string;
  readonly apiKey: string;
  /** @deprecated Use `apiKey`. */
  readonly secretKey: string | undefined;
  readonly webhookSigningKey: string | undefined;
  connectionId: string;
  providerConfigKey: string;
  isSync = false;
  dryRun = false;
  isScript = false;
  activityLogId: string | undefined;
  readonly userAgent: string;
  readonly #http: HttpClient;

  constructor(config: NangoProps, adminProps: NangoAdminProps = {}) {
    let serverUrl = config.host || DEFAULT_HOST;
    if (serverUrl.endsWith('/')) serverUrl = serverUrl.slice(0, -1);
    if (config.apiKey && config.secretKey) throw new Error('You must specify only one of apiKey or secretKey, not both (cf. documentation).');
    const apiKey = config.apiKey ?? config.secretKey;
    if (!apiKey) throw new Error('You must specify an API key (cf. documentation).');
    if (!URL.canParse(serverUrl)) throw new Error(`Invalid URL provided for the Nango host: ${serverUrl}`);
    this.serverUrl = serverUrl;
    this.apiKey = apiKey;
    this.secretKey = config.secretKey;
    this.webhookSigningKey = config.webhookSigningKey;
    this.connectionId = config.connectionId || '';
    this.providerConfigKey = config.providerConfigKey || '';
    if (config.isSync) this.isSync = true;
    if (config.isScript) this.isScript = true;
    if (config.dryRun) this.dryRun = true;
    if (config.activityLogId) this.activityLogId = config.activityLogId;
    this.userAgent = buildUserAgent(adminProps.userAgent);
    this.#http = new HttpClient({ userAgent: this.userAgent, ...(adminProps.dispatcher === undefined ? {} : { dispatcher: adminProps.dispatcher }) });
  }

  // The secret key must not show up when someone logs the client.
  toJSON(): Record<string, unknown> {
    return { serverUrl: this.serverUrl, connectionId: this.connectionId, providerConfigKey: this.providerConfigKey, userAgent: this.userAgent };
  }

  /** Closes the client's idle keep-alive connections (lets a script exit at once). */
  close(): Promise<void> {
    return this.#http.close();
  }

  // ───────────────────────────── proxy ─────────────────────────────

  /**
   * Calls the provider's API through Patchbay, with the connection's credentials. Resolves with
   * `{ data, status, statusText, headers, config }` for a 2xx; throws a NangoHttpError (with
   * `.response.status/.data/.headers`) otherwise, or with a network `code` when nothing answered.
   *
   * @example
   * const res = await nango.proxy({
   *   method: 'POST',
   *   endpoint: '/calendar/v3/users/me/calendarList',
   *   providerConfigKey: 'google-calendar',
   *   connectionId: 'u-1',
   *   data: { id: 1, colorId: 'blue' },
   *   retries: 5,
   * });
   */
  async proxy<T = any>(config: NangoProxyConfiguration): Promise<HttpResponse<T>> {
    // The client's defaults fill only missing keys (an empty string counts as missing, as in @nangohq/node).
    const filled = { ...config };
    if (!filled.connectionId && this.connectionId) filled.connectionId = this.connectionId;
    if (!filled.providerConfigKey && this.providerConfigKey) filled.providerConfigKey = this.providerConfigKey;
    for (const param of ['endpoint', 'providerConfigKey', 'connectionId'] as const) {
      if (typeof filled[param] === 'undefined') throw new Error(`${param} is missing and is required to make a proxy call!`);
    }
    const keyed = filled as typeof filled & { providerConfigKey: string; connectionId: string };
    const url = buildProxyUrl(this.serverUrl, keyed);
    const requested = (config.method ?? 'GET').toUpperCase();
    // As @nangohq/node: POST/PUT/PATCH carry `data`, DELETE only when given, anything else is a GET.
    const method = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(requested) ? requested : 'GET';
    const data = method === 'GET' || (method === 'DELETE' && !config.data) ? undefined : config.data;
    const requestConfig: RequestConfig = { ...keyed, method: method as ProxyConfiguration['method'], url };
    return this.#http.send<T>({
      method,
      url,
      headers: this.#enrich(buildProxyHeaders(keyed, this.activityLogId)),
      data,
      ...(config.responseType === undefined ? {} : { responseType: config.responseType }),
      config: requestConfig,
    });
  }

  /** `proxy` with `method: 'GET'`. */
  get<T = any>(config: Omit<NangoProxyConfiguration, 'method'>): Promise<HttpResponse<T>> {
    return this.proxy<T>({ ...config, method: 'GET' });
  }

  /**
   * `proxy` with `method: 'POST'`.
   *
   * @example
   * await nango.post({ endpoint: '/repos/octo/hello/issues', providerConfigKey: 'github', connectionId: 'u-1', data: { title: 'Bug' } });
   */
  post<T = any>(config: Omit<NangoProxyConfiguration, 'method'>): Promise<HttpResponse<T>> {
    return this.proxy<T>({ ...config, method: 'POST' });
  }

  /** `proxy` with `method: 'PUT'`. */
  put<T = any>(config: Omit<NangoProxyConfiguration, 'method'>): Promise<HttpResponse<T>> {
    return this.proxy<T>({ ...config, method: 'PUT' });
  }

  /** `proxy` with `method: 'PATCH'`. */
  patch<T = any>(config: Omit<NangoProxyConfiguration, 'method'>): Promise<HttpResponse<T>> {
    return this.proxy<T>({ ...config, method: 'PATCH' });
  }

  /** `proxy` with `method: 'DELETE'` (the body is sent only when `data` is given). */
  delete<T = any>(config: Omit<NangoProxyConfiguration, 'method'>): Promise<HttpResponse<T>> {
    return this.proxy<T>({ ...config, method: 'DELETE' });
  }

  // ───────────────────────────── actions ─────────────────────────────

  /**
   * Runs an action and resolves with its output (`POST /action/trigger`). A failed action throws:
   * `error.response.data.error` is `{ code: 'action_script_runtime_error', payload }` for an ActionError.
   *
   * @example
   * const issue = await nango.triggerAction<{ number: number }>('github', 'u-1', 'create-issue', { repo: 'octo/hello', title: 'Bug' });
   */
  async triggerAction<T = any>(providerConfigKey: string, connectionId: string, actionName: string, input?: unknown): Promise<T> {
    return (await this.#triggerAction<T>(providerConfigKey, connectionId, actionName, false, input)).data;
  }

  /**
   * Queues an action and resolves at once with `{ id, statusUrl }` (`X-Async: true`); read the
   * result later with `getAsyncActionResult`.
   *
   * @example
   * const { id } = await nango.triggerActionAsync('github', 'u-1', 'create-issue', { repo: 'octo/hello', title: 'Bug' });
   * const output = await nango.getAsyncActionResult({ id }); // throws (404 action_pending) while it runs
   */
  async triggerActionAsync(providerConfigKey: string, connectionId: string, actionName: string, input?: unknown): Promise<ActionAsyncResponse> {
    return (await this.#triggerAction<ActionAsyncResponse>(providerConfigKey, connectionId, actionName, true, input)).data;
  }

  /** The output of an async action (`GET /action/:id`); throws a 404 while it is pending and its error when it failed. */
  async getAsyncActionResult<T = any>(props: { id?: string; statusUrl?: string }): Promise<T> {
    if (!props.id && !props.statusUrl) throw new Error('Either id or statusUrl must be provided');
    const path = props.statusUrl ? props.statusUrl : `/action/${props.id}`;
    return (await this.#api<T>('GET', path)).data;
  }

  #triggerAction<T>(providerConfigKey: string, connectionId: string, actionName: string, async: boolean, input: unknown): Promise<HttpResponse<T>> {
    return this.#api<T>('POST', '/action/trigger', {
      headers: { 'Connection-Id': connectionId, 'Provider-Config-Key': providerConfigKey, ...(async ? { 'X-Async': 'true' } : {}) },
      data: { action_name: actionName, input },
    });
  }

  // ───────────────────────────── syncs and records ─────────────────────────────

  /**
   * Runs syncs now (`POST /sync/trigger`): all of the integration's when `syncs` is empty, for
   * every connection when `connectionId` is omitted. `{ reset: true }` asks for a full run.
   *
   * @example
   * await nango.triggerSync('github', ['issues'], 'u-1', { reset: true });
   */
  triggerSync(providerConfigKey: string, syncs?: SyncSelector[], connectionId?: string, optsOrSyncMode?: TriggerSyncOptions | boolean | 'incremental' | 'full_refresh' | 'full_refresh_and_clear_cache'): Promise<HttpResponse<{ success: boolean }>> {
    if (syncs && !Array.isArray(syncs)) throw new Error('Syncs must be an array. If it is a single sync, please wrap it in an array.');
    const body: Record<string, unknown> = { syncs: syncs || [], provider_config_key: providerConfigKey, connection_id: connectionId };
    if (typeof optsOrSyncMode === 'boolean' || typeof optsOrSyncMode === 'string') {
      // The legacy form: `true` meant a full refresh.
      body.sync_mode = typeof optsOrSyncMode === 'boolean' ? (optsOrSyncMode ? 'full_refresh' : 'incremental') : optsOrSyncMode;
    } else {
      body.opts = typeof optsOrSyncMode === 'object' ? optsOrSyncMode : undefined;
    }
    return this.#api('POST', '/sync/trigger', { data: body });
  }

  /** Starts (unpauses) syncs' schedules and runs them at once (`POST /sync/start`). */
  startSync(providerConfigKey: string, syncs: SyncSelector[], connectionId?: string): Promise<HttpResponse<{ success: boolean }>> {
    requireValue(providerConfigKey, 'Provider Config Key is required');
    requireSyncArray(syncs);
    return this.#api('POST', '/sync/start', { data: { syncs: syncs || [], provider_config_key: providerConfigKey, connection_id: connectionId } });
  }

  /** Pauses syncs' schedules (`POST /sync/pause`). */
  pauseSync(providerConfigKey: string, syncs: SyncSelector[], connectionId?: string): Promise<HttpResponse<{ success: boolean }>> {
    requireValue(providerConfigKey, 'Provider Config Key is required');
    requireSyncArray(syncs);
    return this.#api('POST', '/sync/pause', { data: { syncs: syncs || [], provider_config_key: providerConfigKey, connection_id: connectionId } });
  }

  /**
   * The state of syncs (`GET /sync/status`): `'*'` for all of them.
   *
   * @example
   * const { syncs } = await nango.syncStatus('github', ['issues'], 'u-1');
   */
  async syncStatus(providerConfigKey: string, syncs: SyncSelector[] | '*', connectionId?: string): Promise<SyncStatusResponse> {
    requireValue(providerConfigKey, 'Provider Config Key is required');
    requireValue(syncs, 'Sync is required');
    if (!Array.isArray(syncs) && syncs !== '*') throw new Error('Syncs must be an array. If it is a single sync, please wrap it in an array.');
    const names = syncs === '*' ? '*' : syncs.map((sync) => (typeof sync === 'string' ? sync : sync.variant ? `${sync.name}::${sync.variant}` : sync.name)).join(',');
    return (await this.#api<SyncStatusResponse>('GET', '/sync/status', { query: { syncs: names, provider_config_key: providerConfigKey, connection_id: connectionId } })).data;
  }

  /** Overrides a sync's frequency for one connection, or reverts it with `null` (`PUT /sync/update-connection-frequency`). */
  async updateSyncConnectionFrequency(providerConfigKey: string, sync: SyncSelector, connectionId: string, frequency: string | null): Promise<{ frequency: string }> {
    requireValue(providerConfigKey, 'Provider Config Key is required');
    requireValue(sync, 'Sync is required');
    if (typeof connectionId !== 'string') throw new Error('ConnectionId must be a string.');
    if (typeof frequency !== 'string' && frequency !== null) throw new Error('Frequency must be a string or null.');
    const name = typeof sync === 'string' ? { sync_name: sync } : { sync_name: sync.name, sync_variant: sync.variant };
    return (await this.#api<{ frequency: string }>('PUT', '/sync/update-connection-frequency', { data: { ...name, provider_config_key: providerConfigKey, connection_id: connectionId, frequency } })).data;
  }

  /**
   * One page of a sync's records, oldest change first (`GET /records`). Pass `next_cursor` back as
   * `cursor` for the next page; it is null on the last one.
   *
   * @example
   * let cursor: string | null = null;
   * do {
   *   const page = await nango.listRecords<{ title: string }>({ providerConfigKey: 'github', connectionId: 'u-1', model: 'Issue', cursor });
   *   for (const issue of page.records) console.log(issue.id, issue.title);
   *   cursor = page.next_cursor;
   * } while (cursor);
   */
  async listRecords<T = Record<string, unknown>>(config: ListRecordsRequestConfig): Promise<ListRecordsResponse<T>> {
    for (const param of ['model', 'providerConfigKey', 'connectionId'] as const) {
      if (typeof config[param] === 'undefined') throw new Error(`${param} is missing and is required to make a proxy call!`);
    }
    const query = new URLSearchParams({ model: config.model });
    if (config.variant) query.set('variant', config.variant);
    if (config.modifiedAfter || config.delta) query.set('modified_after', `${config.modifiedAfter || config.delta}`);
    if (config.limit) query.set('limit', String(config.limit));
    if (config.filter) query.set('filter', config.filter);
    if (config.cursor) query.set('cursor', config.cursor);
    for (const id of config.ids ?? []) query.append('ids', id);
    // `/records/` with its trailing slash, as @nangohq/node sends it.
    return (await this.#api<ListRecordsResponse<T>>('GET', '/records/', { query, headers: { 'Connection-Id': config.connectionId, 'Provider-Config-Key': config.providerConfigKey } })).data;
  }

  /** Empties stored records' payloads up to a cursor, keeping their metadata (`PATCH /records/prune`). */
  async pruneRecords(config: { providerConfigKey: string; connectionId: string; model: string; variant?: string; untilCursor: string; limit?: number }): Promise<{ count: number; has_more: boolean }> {
    const data = { model: config.model, until_cursor: config.untilCursor, ...(config.limit ? { limit: config.limit } : {}), ...(config.variant ? { variant: config.variant } : {}) };
    return (await this.#api<{ count: number; has_more: boolean }>('PATCH', '/records/prune', { data, headers: { 'Connection-Id': config.connectionId, 'Provider-Config-Key': config.providerConfigKey } })).data;
  }

  // ───────────────────────────── connections ─────────────────────────────

  /**
   * Lists connections (`GET /connections`), filtered by the object form's fields, or by the legacy
   * `(connectionId?, search?, queries?)` arguments.
   *
   * @example
   * const { connections } = await nango.listConnections({ integrationId: 'github', limit: 50 });
   */
  async listConnections(connectionIdOrParams?: string | ListConnectionsParams, search?: string, queries?: { endUserId?: string; endUserOrganizationId?: string; limit?: number; page?: number }): Promise<ConnectionList> {
    const query = new URLSearchParams();
    if (typeof connectionIdOrParams === 'object') {
      const { connectionId, userId, integrationId, tags, limit, page } = connectionIdOrParams;
      if (connectionId) query.append('connectionId', connectionId);
      if (userId) query.append('endUserId', userId);
      if (integrationId) query.append('integrationId', Array.isArray(integrationId) ? integrationId.join(',') : integrationId);
      for (const [key, value] of Object.entries(tags ?? {})) {
        const tag = key === 'displayName' ? 'end_user_display_name' : key === 'email' ? 'end_user_email' : key.toLowerCase();
        query.append(`tags[${tag}]`, value);
      }
      if (limit) query.append('limit', String(limit));
      if (page) query.append('page', String(page));
    } else {
      if (connectionIdOrParams) query.append('connectionId', connectionIdOrParams);
      if (search) query.append('search', search);
      if (queries?.endUserId) query.append('endUserId', queries.endUserId);
      if (queries?.endUserOrganizationId) query.append('endUserOrganizationId', queries.endUserOrganizationId);
      if (queries?.limit) query.append('limit', String(queries.limit));
      if (queries?.page) query.append('page', String(queries.page));
    }
    return (await this.#api<ConnectionList>('GET', '/connections', { query })).data;
  }

  /**
   * A connection with its fresh credentials (`GET /connections/:id`); `forceRefresh` refreshes an
   * OAuth token now, `refreshToken` includes the refresh token.
   *
   * @example
   * const connection = await nango.getConnection('github', 'u-1');
   * console.log(connection.credentials.access_token, connection.metadata);
   */
  async getConnection(providerConfigKey: string, connectionId: string, forceRefresh?: boolean, refreshToken?: boolean, refreshGithubAppJwtToken?: boolean): Promise<Connection> {
    return (await this.getConnectionDetails({ providerConfigKey, connectionId, forceRefresh, refreshToken, refreshGithubAppJwtToken })).data;
  }

  /** The whole response of `GET /connections/:id` (what getConnection resolves with is its `data`). */
  getConnectionDetails(options: { providerConfigKey: string; connectionId: string; forceRefresh?: boolean | undefined; refreshToken?: boolean | undefined; refreshGithubAppJwtToken?: boolean | undefined; additionalHeader?: Record<string, string> }): Promise<HttpResponse<Connection>> {
    const query = {
      provider_config_key: options.providerConfigKey,
      force_refresh: options.forceRefresh ?? false,
      refresh_token: options.refreshToken ?? false,
      refresh_github_app_jwt_token: options.refreshGithubAppJwtToken ?? false,
    };
    return this.#api<Connection>('GET', `/connections/${encodeURIComponent(options.connectionId)}`, { query, headers: { ...options.additionalHeader } });
  }

  /** OAuth2: the access token; OAuth1: `{ oAuthToken, oAuthTokenSecret }`; other modes: the credentials object. */
  async getToken(providerConfigKey: string, connectionId: string, forceRefresh?: boolean, refreshGithubAppJwtToken?: boolean): Promise<string | { oAuthToken: string; oAuthTokenSecret: string } | ConnectionCredentials> {
    const { data } = await this.getConnectionDetails({ providerConfigKey, connectionId, forceRefresh, refreshGithubAppJwtToken });
    switch (data.credentials.type) {
      case 'OAUTH2':
        return data.credentials.access_token as string;
      case 'OAUTH1':
        return { oAuthToken: data.credentials.oauth_token as string, oAuthTokenSecret: data.credentials.oauth_token_secret as string };
      default:
        return data.credentials;
    }
  }

  /** The provider's raw token response stored with the connection (`credentials.raw`). */
  async getRawTokenResponse<T = Record<string, unknown>>(providerConfigKey: string, connectionId: string, forceRefresh?: boolean, refreshGithubAppJwtToken?: boolean): Promise<T> {
    const { data } = await this.getConnectionDetails({ providerConfigKey, connectionId, forceRefresh, refreshGithubAppJwtToken });
    return data.credentials.raw as T;
  }

  /** Changes a connection's metadata, config, tags or end user (`PATCH /connections/:id`). */
  async patchConnection(params: { connectionId: string; provider_config_key: string }, body: Record<string, unknown>): Promise<Connection> {
    return (await this.#api<Connection>('PATCH', `/connections/${encodeURIComponent(params.connectionId)}`, { query: { provider_config_key: params.provider_config_key }, data: body })).data;
  }

  /** Deletes a connection (`DELETE /connections/:id`); resolves with the whole response. */
  deleteConnection(providerConfigKey: string, connectionId: string): Promise<HttpResponse<{ success: boolean }>> {
    return this.#api('DELETE', `/connections/${encodeURIComponent(connectionId)}`, { query: { provider_config_key: providerConfigKey } });
  }

  // ───────────────────────────── metadata ─────────────────────────────

  /**
   * A connection's metadata.
   *
   * @example
   * const { team } = await nango.getMetadata<{ team: string }>('github', 'u-1');
   */
  async getMetadata<T = Metadata>(providerConfigKey: string, connectionId: string): Promise<T> {
    requireValue(providerConfigKey, 'Provider Config Key is required');
    requireValue(connectionId, 'Connection Id is required');
    return (await this.getConnectionDetails({ providerConfigKey, connectionId, forceRefresh: false, refreshToken: false })).data.metadata as T;
  }

  /**
   * Replaces the metadata of one or more connections (`POST /connections/metadata`).
   *
   * @example
   * await nango.setMetadata('github', ['u-1', 'u-2'], { team: 'core' });
   */
  setMetadata(providerConfigKey: string, connectionId: string | string[], metadata: Metadata): Promise<HttpResponse<MetadataChangeResponse>> {
    return this.#writeMetadata('POST', providerConfigKey, connectionId, metadata);
  }

  /** Merges keys into the metadata of one or more connections (`PATCH /connections/metadata`). */
  updateMetadata(providerConfigKey: string, connectionId: string | string[], metadata: Metadata): Promise<HttpResponse<MetadataChangeResponse>> {
    return this.#writeMetadata('PATCH', providerConfigKey, connectionId, metadata);
  }

  async #writeMetadata(method: 'POST' | 'PATCH', providerConfigKey: string, connectionId: string | string[], metadata: Metadata): Promise<HttpResponse<MetadataChangeResponse>> {
    requireValue(providerConfigKey, 'Provider Config Key is required');
    requireValue(connectionId, 'Connection Id is required');
    requireValue(metadata, 'Metadata is required');
    return this.#api(method, '/connections/metadata', { data: { metadata, connection_id: connectionId, provider_config_key: providerConfigKey } });
  }

  // ───────────────────────────── integrations ─────────────────────────────

  /** All integrations, as `{ configs }` (`@nangohq/node`'s legacy shape of `GET /integrations`). */
  async listIntegrations(): Promise<{ configs: Integration[] }> {
    const { data } = await this.#api<{ data: Integration[] }>('GET', '/integrations');
    return { configs: data.data };
  }

  /**
   * One integration (`GET /integrations/:key`); `include: ['credentials']` adds its OAuth client.
   *
   * @example
   * const { data } = await nango.getIntegration({ uniqueKey: 'github' }, { include: ['credentials'] });
   */
  async getIntegration(params: { uniqueKey: string }, queries?: { include?: ('webhook' | 'credentials')[] }): Promise<{ data: Integration }> {
    const query = new URLSearchParams();
    for (const include of queries?.include ?? []) query.append('include', include);
    return (await this.#api<{ data: Integration }>('GET', `/integrations/${encodeURIComponent(params.uniqueKey)}`, { query })).data;
  }

  /** Creates an integration (`POST /integrations`). */
  async createIntegration(body: CreateIntegrationBody): Promise<{ data: Integration }> {
    return (await this.#api<{ data: Integration }>('POST', '/integrations', { data: body })).data;
  }

  /** Changes an integration (`PATCH /integrations/:key`). */
  async updateIntegration(params: { uniqueKey: string }, body: Partial<Omit<CreateIntegrationBody, 'provider'>>): Promise<{ data: Integration }> {
    return (await this.#api<{ data: Integration }>('PATCH', `/integrations/${encodeURIComponent(params.uniqueKey)}`, { data: body })).data;
  }

  /** Deletes an integration and its connections (`DELETE /integrations/:key`); resolves with the whole response. */
  deleteIntegration(providerConfigKey: string): Promise<HttpResponse<{ success: boolean }>> {
    return this.#api('DELETE', `/integrations/${encodeURIComponent(providerConfigKey)}`);
  }

  // ───────────────────────────── webhooks ─────────────────────────────

  /**
   * True when a webhook request is signed with this client's `webhookSigningKey` (default:
   * `secretKey`): HMAC-SHA256 of the raw body in `X-Nango-Hmac-Sha256`, compared in constant time.
   *
   * @example
   * app.post('/webhooks', express.text({ type: '*\/*' }), (req, res) => {
   *   if (!nango.verifyIncomingWebhookRequest(req.body, req.headers)) return res.sendStatus(401);
   *   res.sendStatus(200);
   * });
   */
  verifyIncomingWebhookRequest(body: string | Uint8Array, headers: Record<string, unknown>): boolean {
    return verifyWebhookSignature(body, headers, this.webhookSigningKey ?? this.secretKey);
  }

  // ───────────────────────────── plumbing ─────────────────────────────

  /**
   * Authorization and the Nango-Is-* flags. @nangohq/node sets the flags on every request, but
   * axios drops a header whose value is `false`, so on the wire they appear only when true.
   */
  #enrich(headers: Record<string, string>): Record<string, string> {
    const enriched: Record<string, string> = { ...headers, Authorization: `Bearer ${this.apiKey}` };
    if (this.isSync) enriched['Nango-Is-Sync'] = 'true';
    if (this.isScript) enriched['Nango-Is-Script'] = 'true';
    if (this.dryRun) enriched['Nango-Is-Dry-Run'] = 'true';
    return enriched;
  }

  /** One call to Patchbay's own API; `config.headers` keeps everything but the Authorization. */
  #api<T>(method: string, path: string, call: ApiCall = {}): Promise<HttpResponse<T>> {
    const url = appendQuery(`${this.serverUrl}${path}`, call.query === undefined ? '' : serializeParams(call.query as Record<string, unknown>));
    const headers = call.headers ?? {};
    const config: RequestConfig = { endpoint: path, method: method as ProxyConfiguration['method'], url, headers, ...(call.data === undefined ? {} : { data: call.data }) };
    return this.#http.send<T>({ method, url, headers: this.#enrich(headers), data: call.data, config });
  }
}
