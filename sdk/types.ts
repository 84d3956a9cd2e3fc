// The public types shared by the Node client (sdk/client.ts) and the `nango` object inside
// functions (sdk/functions.ts), so a proxy call moves between an app and a function unchanged.
// Types only, and no Node types: function files are type-checked without @types/node.

// ───────────────────────────── proxy configuration ─────────────────────────────

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'get' | 'post' | 'put' | 'patch' | 'delete';

/** How the response body is decoded: `json` (the default) parses JSON when the body is JSON and gives the text otherwise. */
export type ResponseType = 'json' | 'text' | 'arraybuffer' | 'stream';

/** A query value. `Date` becomes its ISO string, `null`/`undefined` are left out. */
export type ParamValue = string | number | boolean | Date | null | undefined;

/**
 * Query parameters: a query string (`'a=1&b=2'`), a `URLSearchParams`, or an object whose arrays
 * and nested objects are written with brackets, as axios writes them (see `paramsSerializer`).
 */
export type ProxyParams = string | URLSearchParams | { [name: string]: ParamValue | readonly ParamValue[] | ProxyParamsObject | readonly ProxyParamsObject[] };

/** A nested query object: `{ filter: { state: 'open' } }` → `filter[state]=open`. */
export interface ProxyParamsObject {
  [name: string]: ParamValue | readonly ParamValue[] | ProxyParamsObject | readonly ProxyParamsObject[];
}

/**
 * How an object `params` becomes a query string, as axios's `paramsSerializer` option.
 *
 * @example
 * // a=1&a=2 instead of the default a[]=1&a[]=2
 * await nango.get({ endpoint: '/items', params: { a: [1, 2] }, paramsSerializer: { indexes: null } });
 */
export interface ParamsSerializerOptions {
  /** Encodes each key and value; receives the default encoder as its second argument. */
  encode?: (value: string, defaultEncoder: (value: string) => string) => string;
  /** Writes the whole query string (without `?`) instead of the built-in rules. */
  serialize?: (params: Record<string, unknown>, options?: ParamsSerializerOptions) => string;
  /** Arrays: `false` (default) → `a[]=1&a[]=2`, `true` → `a[0]=1&a[1]=2`, `null` → `a=1&a=2`. */
  indexes?: boolean | null;
}

/** How `nango.paginate` walks a list endpoint, as in Nango's SDK. Merged over the provider's defaults. */
export type Pagination = CursorPagination | LinkPagination | OffsetPagination;

export interface PaginationBase {
  /** Page size sent as `limit_name_in_request`; a page shorter than this ends offset pagination. */
  limit?: number | string;
  limit_name_in_request?: string;
  /** Dot path of the array of items in the response body (`data.items`); the body itself when absent. */
  response_path?: string;
  /** Send the pagination parameters in the body even for GET (the default is the body for POST/PUT/PATCH only). */
  in_body?: boolean;
  /** Called after each page with the value the next request will use (undefined on the last page). */
  on_page?: (page: { nextPageParam: string | number | undefined; response: ProxyResponse }) => void | Promise<void>;
}

export interface CursorPagination extends PaginationBase {
  type: 'cursor';
  /** Where the next cursor goes in the request (dot keys nest in a body: `pagination.after`). */
  cursor_name_in_request: string;
  /** Dot path of the next cursor in the response body; a missing or empty cursor ends the walk. */
  cursor_path_in_response: string;
}

export interface LinkPagination extends PaginationBase {
  type: 'link';
  /** `rel` of the `Link` response header to follow (`next`). */
  link_rel_in_response_header?: string;
  /** Dot path of the next page's URL in the response body. */
  link_path_in_response_body?: string;
}

export interface OffsetPagination extends PaginationBase {
  type: 'offset';
  offset_name_in_request: string;
  /** First offset; default 0. */
  offset_start_value?: number;
  /** `by-response-size` (default) adds the page's length; `per-page` adds one (page numbers). */
  offset_calculation_method?: 'by-response-size' | 'per-page';
}

type DistributivePartial<T> = T extends unknown ? Partial<T> : never;

/**
 * What `nango.proxy` and its shortcuts take, in an app (`new Nango(...)`) and in a function.
 * In a function the connection and provider config key default to the run's; in an app, to the
 * client's `connectionId`/`providerConfigKey` options.
 *
 * @example
 * const response = await nango.get<{ login: string }>({
 *   endpoint: '/user',
 *   providerConfigKey: 'github',
 *   connectionId: 'u-1',
 *   params: { per_page: 100 },
 *   retries: 3,
 * });
 */
export interface ProxyConfiguration {
  /** Path on the provider's API, joined to its base URL: `/repos/octo/hello/issues`. */
  endpoint: string;
  /** Default `GET`. */
  method?: HttpMethod;
  /** Headers for the provider (sent as `Nango-Proxy-<name>`; a `Content-Type` is also the body's own). */
  headers?: Record<string, string>;
  /** Query parameters, as an object, a `URLSearchParams` or a query string (`a=1&b=2`). */
  params?: ProxyParams;
  /** How an object `params` is written (arrays, encoding), as in axios. */
  paramsSerializer?: ParamsSerializerOptions;
  /** Body: a JSON value, a string, `URLSearchParams`, bytes, or (in an app) a Node stream. */
  data?: unknown;
  /** Retries Patchbay makes for failed attempts (429, 5xx, network); default 0. */
  retries?: number;
  /** Extra statuses to retry. */
  retryOn?: number[];
  /** Another base URL than the provider's (checked against the egress policy). */
  baseUrlOverride?: string;
  /** Asks Patchbay to decompress the provider's response. */
  decompress?: boolean;
  /** How to decode the response body; default `json`. `stream` gives a Node Readable in an app. */
  responseType?: ResponseType;
  /** Re-apply the built headers on redirect hops. */
  forwardHeadersOnRedirect?: boolean;
  providerConfigKey?: string;
  connectionId?: string;
  /** Pagination settings for `nango.paginate` (functions); merged over the provider's defaults. */
  paginate?: DistributivePartial<Pagination>;
}

/**
 * ProxyConfiguration inside a function: the same, params and serializer included, except that a
 * function reads bodies whole (`stream` needs Node streams, which the sandbox does not have).
 */
export interface FunctionProxyConfiguration extends Omit<ProxyConfiguration, 'responseType'> {
  /**
   * How to decode the response body: JSON (default; text when it is not JSON), text, or bytes
   * (Uint8Array). `stream`, which Nango's functions may name, gives bytes too.
   */
  responseType?: 'json' | 'text' | 'arraybuffer' | 'stream';
  /** Nango's rate-limit header names; accepted and unused: Patchbay reads `Retry-After` and the provider's reset headers itself. */
  retryHeader?: { at?: string; after?: string };
}

// ───────────────────────────── responses and errors ─────────────────────────────

/** An axios-shaped response: what `nango.proxy/get/post/…` resolve with for a 2xx status. */
export interface ProxyResponse<T = any> {
  status: number;
  statusText: string;
  /** Lower-case header names; a repeated header's values are joined with `, `. */
  headers: Record<string, string>;
  data: T;
  config: ProxyConfiguration;
}

/** @deprecated Name kept for code ported from Nango; use ProxyResponse. */
export type AxiosLikeResponse<T = any> = ProxyResponse<T>;

/** `err.code` of a ProxyError: axios's codes for a status, or the network failure's own code. */
export type ProxyErrorCode = 'ERR_BAD_REQUEST' | 'ERR_BAD_RESPONSE' | 'ERR_NETWORK' | 'ERR_CANCELED' | 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'ENOTFOUND' | (string & {});

/**
 * What a call throws for a non-2xx status or a network failure: shaped like an AxiosError, so
 * `try/catch` code written for `@nangohq/node` or axios keeps working.
 *
 * @example
 * try {
 *   await nango.get({ endpoint: '/users/missing' });
 * } catch (error) {
 *   if (isProxyError(error) && error.response?.status === 404) return null;
 *   throw error;
 * }
 */
export interface ProxyError<T = any> extends Error {
  name: 'AxiosError';
  isAxiosError: true;
  /** `ERR_BAD_REQUEST` (4xx), `ERR_BAD_RESPONSE` (5xx), or for no response the network code (`ECONNREFUSED`…; `ERR_NETWORK` in functions). */
  code?: ProxyErrorCode;
  /** The response's status, when there is one. */
  status?: number;
  response?: { status: number; statusText: string; headers: Record<string, string>; data: T };
  /** The request, without credentials. */
  config: ProxyConfiguration;
}

// ───────────────────────────── client API shapes ─────────────────────────────

export type Metadata = Record<string, unknown>;

/** A sync named alone, or with its variant. */
export type SyncSelector = string | { name: string; variant: string };

export interface ActionAsyncResponse {
  id: string;
  statusUrl: string;
}

export interface ConnectionCredentials {
  type: string;
  access_token?: string;
  refresh_token?: string;
  expires_at?: string;
  oauth_token?: string;
  oauth_token_secret?: string;
  raw?: Record<string, unknown>;
  [key: string]: unknown;
}

/** `GET /connections/:id`: the connection with its credentials. */
export interface Connection {
  id: number | string;
  connection_id: string;
  provider_config_key: string;
  provider: string;
  credentials: ConnectionCredentials;
  connection_config: Record<string, unknown>;
  metadata: Metadata | null;
  created_at: string;
  updated_at: string;
  [key: string]: unknown;
}

/** One entry of `GET /connections`. */
export interface ConnectionSummary {
  id: number | string;
  connection_id: string;
  provider_config_key: string;
  provider: string;
  created: string;
  metadata: Metadata | null;
  [key: string]: unknown;
}

export interface ConnectionList {
  connections: ConnectionSummary[];
}

export interface ListConnectionsParams {
  connectionId?: string;
  /** End user id (`endUserId` on the wire). */
  userId?: string;
  integrationId?: string | string[];
  /** `displayName` and `email` are the end user's; other keys are tags. */
  tags?: Record<string, string>;
  limit?: number;
  page?: number;
}

export interface MetadataChangeResponse {
  metadata: Metadata;
  provider_config_key: string;
  connection_id: string | string[];
}

export interface Integration {
  unique_key: string;
  provider: string;
  display_name: string;
  logo?: string;
  forward_webhooks?: boolean;
  created_at: string;
  updated_at: string;
  credentials?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface CreateIntegrationBody {
  provider: string;
  unique_key: string;
  display_name?: string;
  forward_webhooks?: boolean;
  credentials?: Record<string, unknown>;
  integration_config?: Record<string, string>;
  custom?: Record<string, string>;
}

export type FilterAction = 'added' | 'updated' | 'deleted' | 'ADDED' | 'UPDATED' | 'DELETED';

export interface ListRecordsRequestConfig {
  providerConfigKey: string;
  connectionId: string;
  model: string;
  variant?: string;
  /** @deprecated Use modifiedAfter. */
  delta?: string;
  /** ISO date: only records changed after it. */
  modifiedAfter?: string;
  limit?: number;
  /** `added`, `updated`, `deleted`, or two joined with a comma. */
  filter?: FilterAction | `${FilterAction},${FilterAction}`;
  cursor?: string | null;
  ids?: string[];
}

export interface RecordMetadata {
  first_seen_at: string;
  last_modified_at: string;
  last_action: 'ADDED' | 'UPDATED' | 'DELETED';
  deleted_at: string | null;
  cursor: string;
  [key: string]: unknown;
}

export interface ListRecordsResponse<T = Record<string, unknown>> {
  records: (T & { id: string; _nango_metadata: RecordMetadata })[];
  next_cursor: string | null;
}

export interface SyncStatus {
  id: string;
  name: string;
  status: 'RUNNING' | 'SUCCESS' | 'ERROR' | 'PAUSED' | 'STOPPED' | (string & {});
  frequency: string;
  finishedAt: string | undefined;
  nextScheduledSyncAt: string;
  latestResult: Record<string, { added: number; updated: number; deleted?: number }>;
  recordCount: Record<string, number>;
  checkpoint: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface SyncStatusResponse {
  syncs: SyncStatus[];
}

/** `triggerSync`'s fourth argument: a full run (`reset`) and/or dropping the records first (`emptyCache`). */
export interface TriggerSyncOptions {
  reset?: boolean;
  emptyCache?: boolean;
}
