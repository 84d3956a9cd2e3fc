// What function authors import (`patchbay`): createAction / createSync / createOnEvent, the
// ActionError class and the types of the `nango` object their functions receive. Imports nothing
// of the platform; its runtime code is bundled into every function, so it stays a few lines.
import type { z } from 'zod';

// ───────────────────────────── proxy ─────────────────────────────

// The proxy types are the Node client's own (sdk/types.ts): a `nango.get(...)` moves between an
// app and a function unchanged.
import type { FunctionProxyConfiguration as ProxyConfiguration, HttpMethod, ProxyError, ProxyResponse, RecordMetadata } from './types.js';

export type {
  AxiosLikeResponse,
  CursorPagination,
  HttpMethod,
  LinkPagination,
  OffsetPagination,
  Pagination,
  PaginationBase,
  ParamsSerializerOptions,
  ParamValue,
  FunctionProxyConfiguration as ProxyConfiguration,
  ProxyError,
  ProxyErrorCode,
  ProxyParams,
  ProxyParamsObject,
  ProxyResponse,
  ResponseType,
} from './types.js';

/** True for the errors `nango.get/post/…` throw. */
export function isProxyError(error: unknown): error is ProxyError {
  return typeof error === 'object' && error !== null && (error as { isAxiosError?: unknown }).isAxiosError === true;
}

// ───────────────────────────── errors ─────────────────────────────

/**
 * Throw it to fail an action with a payload the caller receives as
 * `{error: {code: 'action_script_runtime_error', payload}}` (HTTP 500).
 * `nango.ActionError` is the same class; either one is recognised.
 *
 * @example
 * if (!input.title) throw new ActionError({ message: 'title is required' });
 */
export class ActionError<T = unknown> extends Error {
  /** Recognised across bundles (the sandbox's copy and this one) without `instanceof`. */
  readonly __patchbay = 'ActionError' as const;
  readonly type = 'action_script_runtime_error' as const;
  readonly payload: T;

  constructor(payload?: T) {
    super(typeof payload === 'string' ? payload : typeof (payload as { message?: unknown })?.message === 'string' ? (payload as { message: string }).message : 'Action failed');
    this.name = 'ActionError';
    this.payload = payload as T;
  }
}

// ───────────────────────────── the nango object ─────────────────────────────

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * A connection as the run may see it. `credentials` is there only when the integration lets its
 * functions read credentials (`functions_can_read_credentials`); reading it otherwise throws an
 * SDKError `credentials_not_allowed`.
 */
export interface ConnectionInfo {
  connection_id: string;
  provider_config_key: string;
  provider: string;
  metadata: Record<string, any> | null;
  connection_config: Record<string, any>;
  credentials?: any;
  created_at?: string;
  updated_at?: string;
  [key: string]: any;
}

/** The integration as `nango.getIntegration()` answers it (GET /integrations/:key's shape). */
export interface IntegrationInfo {
  unique_key: string;
  provider: string;
  display_name: string;
  logo: string;
  forward_webhooks: boolean;
  created_at: string;
  updated_at: string;
  /** With `{include: ['credentials']}` and the integration's opt-in: its client id and secret. */
  credentials?: any;
  webhook_url?: string | null;
}

/** What `nango.uncontrolledFetch` takes, as Nango's. */
export interface UncontrolledFetchOptions {
  url: URL | string;
  method?: HttpMethod | Lowercase<HttpMethod> | 'HEAD' | 'OPTIONS';
  headers?: Record<string, string> | undefined;
  body?: string | Uint8Array | ArrayBuffer | null;
}

/** fetch's Headers, as the sandbox implements it. */
export interface FetchHeaders extends Iterable<[string, string]> {
  append(name: string, value: string): void;
  delete(name: string): void;
  get(name: string): string | null;
  getSetCookie(): string[];
  has(name: string): boolean;
  set(name: string, value: string): void;
  forEach(callback: (value: string, name: string, headers: FetchHeaders) => void, thisArg?: unknown): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
}

/** fetch's Response, as `nango.uncontrolledFetch` resolves with it: the body is held whole (no stream). */
export interface FetchResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly url: string;
  readonly redirected: boolean;
  readonly headers: FetchHeaders;
  readonly bodyUsed: boolean;
  text(): Promise<string>;
  json(): Promise<any>;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  clone(): FetchResponse;
}

/** What Nango's `getEnvironmentVariables` answers. */
export interface EnvironmentVariable {
  name: string;
  value: string;
}

/** A record read back with `listRecords`: its data and how Patchbay tracks it (as GET /records shows it). */
export type { RecordMetadata };

/**
 * The `nango` object an action receives (and the base of a sync's). Every call goes through
 * Patchbay: `get/post/…` use the connection's credentials without the function seeing them.
 *
 * @example
 * const response = await nango.get<{ login: string }>({ endpoint: '/user' });
 * await nango.log('fetched', { login: response.data.login });
 */
export interface NangoAction<TMetadata = Record<string, any>> {
  readonly connectionId: string;
  readonly providerConfigKey: string;
  /** The provider's catalog name (`github`). */
  readonly provider: string;
  readonly activityLogId: string | undefined;

  /** Calls the provider's API through Patchbay's proxy. Rejects with a ProxyError for a status ≥ 400. */
  proxy<T = any>(config: ProxyConfiguration): Promise<ProxyResponse<T>>;
  get<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>>;
  post<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>>;
  put<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>>;
  patch<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>>;
  delete<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>>;

  /**
   * Walks a paginated list endpoint, one array of items per iteration.
   *
   * @example
   * for await (const issues of nango.paginate<Issue>({ endpoint: '/issues', paginate: { type: 'link', link_rel_in_response_header: 'next', limit: 100, limit_name_in_request: 'per_page' } })) {
   *   await nango.batchSave(issues.map(toRecord), 'Issue');
   * }
   */
  paginate<T = any>(config: ProxyConfiguration): AsyncGenerator<T[], undefined, void>;

  /** Adds a line to the run's log. `nango.log('x', { level: 'warn' })` also works. */
  log(message: unknown, meta?: unknown, options?: { level?: LogLevel }): Promise<void>;

  getConnection(providerConfigKey?: string, connectionId?: string): Promise<ConnectionInfo>;
  /**
   * The connection's OAuth2 access token (a string), or its credentials object for other auth
   * modes. Needs the integration's `functions_can_read_credentials`; each read is logged.
   *
   * @example
   * const token = await nango.getToken();
   * const signature = createHmac('sha256', String(token)).update(body).digest('hex');
   */
  getToken(): Promise<any>;
  /** The run's integration; `{include: ['credentials']}` adds its client id and secret (needs the opt-in). */
  getIntegration(queries?: { include?: ('webhook' | 'credentials')[] }): Promise<IntegrationInfo>;
  getMetadata<T = TMetadata>(): Promise<T>;
  /** Replaces the connection's metadata. */
  setMetadata(metadata: TMetadata): Promise<void>;
  /** Merges keys into the connection's metadata. */
  updateMetadata(metadata: Partial<TMetadata>): Promise<void>;

  /** The ActionError class, for code written as `throw new nango.ActionError(payload)`. */
  readonly ActionError: typeof ActionError;

  /**
   * Checks `input` against a zod schema: logs each issue and throws an ActionError when it does
   * not match; answers the parsed value.
   */
  zodValidateInput<T = any, Z = any>(options: { zodSchema: { safeParse(value: unknown): { success: boolean; data?: Z; error?: any } }; input: T }): Promise<Z>;

  /**
   * A plain HTTP request to any URL, without the connection's credentials and without retries;
   * refused for private, loopback and metadata addresses. Resolves with a fetch-style Response.
   *
   * @example
   * const response = await nango.uncontrolledFetch({ url: new URL('https://example.com/feed.json') });
   * const feed = await response.json();
   */
  uncontrolledFetch(options: UncontrolledFetchOptions): Promise<FetchResponse>;

  /** The URL providers send this integration's webhooks to: `PATCHBAY_PUBLIC_URL/webhook/<integration>`. */
  getWebhookURL(): Promise<string | null | undefined>;
  /**
   * The operator's function settings: each `PATCHBAY_FUNCTION_ENV_<NAME>` variable of the runner
   * as `{name: '<NAME>', value}`. Nothing else of the environment.
   *
   * @example
   * const env = await nango.getEnvironmentVariables();
   * const apiBase = env?.find((variable) => variable.name === 'API_BASE')?.value;
   */
  getEnvironmentVariables(): Promise<EnvironmentVariable[] | null>;
  /** `{}` in a sync; throws in an action, as Nango's does. */
  getFlowAttributes<A = object>(): A | null;
  /**
   * Runs another deployed action (of this integration) on a connection and answers its output; its
   * failure rejects with an SDKError of its code. Chains stop two levels down (`trigger_depth_exceeded`).
   *
   * @example
   * const contact = await nango.triggerAction(nango.providerConfigKey, nango.connectionId, 'get-contact', { id });
   */
  triggerAction<In = unknown, Out = object>(providerConfigKey: string, connectionId: string, actionName: string, input?: In): Promise<Out>;
  /** Queues a run of a sync now, as POST /sync/trigger; `full_refresh` (or `true`) clears its checkpoint first. */
  triggerSync(providerConfigKey: string, connectionId: string, sync: string | { name: string; variant: string }, syncMode?: 'incremental' | 'full_refresh' | 'full_refresh_and_clear_cache' | boolean): Promise<void | string>;
  /** Starts (unpauses) the schedules of syncs, as POST /sync/start; every connection when none is named. */
  startSync(providerConfigKey: string, syncs: (string | { name: string; variant: string })[], connectionId?: string): Promise<void>;
  /**
   * Takes a lock on `key` for this connection, shared by every runner, for `ttlMs` (or until the run
   * ends); false when another run holds it. Taking a lock the run holds extends it.
   *
   * @example
   * if (!(await nango.tryAcquireLock({ key: 'refresh-export', ttlMs: 60_000 }))) return { skipped: true };
   */
  tryAcquireLock(props: { key: string; ttlMs: number }): Promise<boolean>;
  /** Releases a lock this run holds; false when it held none on `key`. */
  releaseLock(props: { key: string }): Promise<boolean>;
  /** Releases every lock this run holds (done anyway when the run ends). */
  releaseAllLocks(): Promise<void>;
}

/** A record of model `M`: the zod schema's output type. */
export type ModelRecord<TModels extends ModelSchemas, M extends keyof TModels> = z.infer<TModels[M]>;

export type ModelSchemas = Record<string, z.ZodObject>;

/**
 * The `nango` object a sync receives: NangoAction plus record storage and checkpoints. Record
 * types come from the sync's `models`, so `batchSave(records, 'Issue')` is checked against the
 * `Issue` schema.
 *
 * @example
 * const checkpoint = await nango.getCheckpoint();
 * for await (const page of nango.paginate<ApiIssue>({ endpoint: '/issues', params: { since: checkpoint?.since ?? '' } })) {
 *   await nango.batchSave(page.map((issue) => ({ id: String(issue.id), title: issue.title })), 'Issue');
 * }
 * await nango.saveCheckpoint({ since: new Date().toISOString() });
 */
export interface NangoSync<TModels extends ModelSchemas = ModelSchemas, TMetadata = Record<string, any>, TCheckpoint = Record<string, string | number | boolean>>
  extends NangoAction<TMetadata> {
  /** When the last successful run started; undefined on the first run and after a reset. */
  readonly lastSyncDate: Date | undefined;
  /** The sync's variant; `base` by default. */
  readonly variant: string;

  /**
   * Adds or replaces records (matched by `id`). Records are checked against the model's schema;
   * `batchSave<MyType>(records, 'Model')` (Nango's form) checks them against `MyType` instead.
   */
  batchSave<M extends keyof TModels & string>(records: ModelRecord<TModels, M>[], model: M): Promise<boolean>;
  batchSave<T extends object = never>(records: NoInfer<T>[], model: keyof TModels & string): Promise<boolean>;
  /** @deprecated Nango's old name of batchSave. */
  batchSend<T extends object = any>(records: T[], model: keyof TModels & string): Promise<boolean>;
  /** Changes some fields of existing records. */
  batchUpdate<M extends keyof TModels & string>(records: (Partial<ModelRecord<TModels, M>> & { id: string | number })[], model: M): Promise<boolean>;
  batchUpdate<T extends object = never>(records: NoInfer<T>[], model: keyof TModels & string): Promise<boolean>;
  /** Marks records deleted. */
  batchDelete<M extends keyof TModels & string>(records: (Partial<ModelRecord<TModels, M>> & { id: string | number })[], model: M): Promise<boolean>;
  batchDelete<T extends object = never>(records: NoInfer<T>[], model: keyof TModels & string): Promise<boolean>;
  getRecordsByIds<M extends keyof TModels & string>(ids: (string | number)[], model: M): Promise<Map<string, ModelRecord<TModels, M>>>;
  getRecordsByIds<K = string | number, T = any>(ids: K[], model: keyof TModels & string): Promise<Map<K, T>>;
  /**
   * A page of this sync's own stored records of `model` (live ones, oldest change first), at most
   * `limit` (default 100, at most 1,000). Pass `next_cursor` back as `cursor` until it is null.
   *
   * @example
   * let cursor: string | null = null;
   * do {
   *   const page = await nango.listRecords('Contact', { cursor });
   *   for (const contact of page.records) await enrich(contact);
   *   cursor = page.next_cursor;
   * } while (cursor !== null);
   */
  listRecords<T = any>(model: keyof TModels & string, options?: { cursor?: string | null; limit?: number }): Promise<{ records: (T & { _nango_metadata: RecordMetadata })[]; next_cursor: string | null }>;

  getCheckpoint(): Promise<TCheckpoint | null>;
  saveCheckpoint(checkpoint: TCheckpoint): Promise<void>;
  clearCheckpoint(): Promise<void>;

  setMergingStrategy(merging: { strategy: 'override' | 'ignore_if_modified_after' }, model: keyof TModels & string): Promise<void>;
  /** Starts tracking which records this run saves; trackDeletesEnd deletes the others. */
  trackDeletesStart(model: keyof TModels & string): Promise<void>;
  trackDeletesEnd(model: keyof TModels & string): Promise<{ deletedKeys: string[] }>;
  /** Marks deleted every stored record of `model` this execution did not save or update (Nango's older form of trackDeletesStart/End). */
  deleteRecordsFromPreviousExecutions(model: keyof TModels & string): Promise<{ deletedKeys: string[] }>;
}

// ───────────────────────────── definitions ─────────────────────────────

// Without a schema, as loose as Nango's `Metadata` (Record<string, any>).
type Infer<T> = T extends z.ZodType ? z.infer<T> : Record<string, any>;

/** Limits a function asks for; the runner may cap them. */
export interface FunctionLimits {
  timeoutMs?: number;
  cpuMs?: number;
  memoryMb?: number;
}

export interface CreateActionProps<TInput extends z.ZodType, TOutput extends z.ZodType, TMetadata extends z.ZodType | undefined = undefined> {
  description: string;
  /** Validates the input before `exec` runs; `exec` receives the parsed value. Without it the input arrives as sent. */
  input?: TInput;
  /** Validates what `exec` returns. Without it any JSON value goes back. */
  output?: TOutput;
  /** Default `0.0.1`. */
  version?: string;
  /** @deprecated Documentation only. */
  endpoint?: { method: HttpMethod; path: string; group?: string };
  metadata?: TMetadata;
  checkpoint?: z.ZodObject;
  /** Documentation only: the OAuth scopes the action needs. */
  scopes?: string[];
  limits?: FunctionLimits;
  /**
   * Default true: the runner keeps this function's evaluated module warm and runs it again in the
   * same context (module-level variables persist between runs, as on Lambda). `false` gives every
   * run a fresh context, at the cost of evaluating the bundle each time.
   */
  reuseContext?: boolean;
  exec(nango: NangoAction<Infer<TMetadata>>, input: z.infer<TInput>): Promise<z.infer<TOutput>>;
}

export interface ActionDefinition<TInput extends z.ZodType = z.ZodType, TOutput extends z.ZodType = z.ZodType, TMetadata extends z.ZodType | undefined = undefined>
  extends CreateActionProps<TInput, TOutput, TMetadata> {
  type: 'action';
}

/**
 * Defines an action: called on demand (`POST /action/trigger`) with an input, returns an output.
 *
 * @example
 * import { createAction } from 'patchbay';
 * import { z } from 'zod';
 *
 * export default createAction({
 *   description: 'Create an issue',
 *   input: z.object({ title: z.string() }),
 *   output: z.object({ id: z.number() }),
 *   async exec(nango, input) {
 *     const response = await nango.post<{ id: number }>({ endpoint: '/repos/octo/hello/issues', data: { title: input.title } });
 *     return { id: response.data.id };
 *   },
 * });
 */
export function createAction<TInput extends z.ZodType, TOutput extends z.ZodType, TMetadata extends z.ZodType | undefined = undefined>(
  definition: CreateActionProps<TInput, TOutput, TMetadata>,
): ActionDefinition<TInput, TOutput, TMetadata> {
  return { type: 'action', ...definition };
}

export interface CreateSyncProps<TModels extends ModelSchemas, TMetadata extends z.ZodType | undefined = undefined, TCheckpoint extends z.ZodObject | undefined = undefined> {
  description: string;
  /** `every hour`, `every 30 minutes`, `every day`…: at least 30 seconds, at most 31 days. */
  frequency: string;
  /** The records the sync stores, by model name; each schema must have an `id`. */
  models: TModels;
  /** Default `0.0.1`. */
  version?: string;
  /** Start the schedule when a connection is created; default true. */
  autoStart?: boolean;
  /** @deprecated Use checkpoints. */
  syncType?: 'full' | 'incremental';
  /** @deprecated Use trackDeletesStart/End. */
  trackDeletes?: boolean;
  metadata?: TMetadata;
  /** The checkpoint's shape: an object of string, number and boolean values. */
  checkpoint?: TCheckpoint;
  /** Documentation only: the OAuth scopes the sync needs. */
  scopes?: string[];
  /** @deprecated Documentation only. */
  endpoints?: { method: HttpMethod; path: string; group?: string }[];
  /** Provider webhook types `onWebhook` handles. */
  webhookSubscriptions?: string[];
  limits?: FunctionLimits;
  /**
   * Default true: the runner keeps this function's evaluated module warm and runs it again in the
   * same context (module-level variables persist between runs, as on Lambda). `false` gives every
   * run a fresh context, at the cost of evaluating the bundle each time.
   */
  reuseContext?: boolean;
  exec(nango: NangoSync<TModels, Infer<TMetadata>, Infer<TCheckpoint>>): Promise<void>;
  /** Handles a provider webhook for this connection. */
  onWebhook?(nango: NangoSync<TModels, Infer<TMetadata>, Infer<TCheckpoint>>, payload: any): Promise<void>;
}

export interface SyncDefinition<TModels extends ModelSchemas = ModelSchemas, TMetadata extends z.ZodType | undefined = undefined, TCheckpoint extends z.ZodObject | undefined = undefined>
  extends CreateSyncProps<TModels, TMetadata, TCheckpoint> {
  type: 'sync';
}

/**
 * Defines a sync: runs on a schedule and stores records.
 *
 * @example
 * import { createSync } from 'patchbay';
 * import { z } from 'zod';
 *
 * export default createSync({
 *   description: 'Issues of every repository',
 *   frequency: 'every hour',
 *   models: { Issue: z.object({ id: z.string(), title: z.string() }) },
 *   async exec(nango) {
 *     for await (const page of nango.paginate<{ id: number; title: string }>({ endpoint: '/issues' })) {
 *       await nango.batchSave(page.map((issue) => ({ id: String(issue.id), title: issue.title })), 'Issue');
 *     }
 *   },
 * });
 */
export function createSync<TModels extends ModelSchemas, TMetadata extends z.ZodType | undefined = undefined, TCheckpoint extends z.ZodObject | undefined = undefined>(
  definition: CreateSyncProps<TModels, TMetadata, TCheckpoint>,
): SyncDefinition<TModels, TMetadata, TCheckpoint> {
  return { type: 'sync', ...definition };
}

export type ConnectionEvent = 'post-connection-creation' | 'pre-connection-deletion' | 'validate-connection';

export interface CreateOnEventProps<TMetadata extends z.ZodType | undefined = undefined> {
  description: string;
  event: ConnectionEvent;
  version?: string;
  metadata?: TMetadata;
  checkpoint?: z.ZodObject;
  limits?: FunctionLimits;
  /**
   * Default true: the runner keeps this function's evaluated module warm and runs it again in the
   * same context (module-level variables persist between runs, as on Lambda). `false` gives every
   * run a fresh context, at the cost of evaluating the bundle each time.
   */
  reuseContext?: boolean;
  exec(nango: NangoAction<Infer<TMetadata>>): Promise<void>;
}

export interface OnEventDefinition<TMetadata extends z.ZodType | undefined = undefined> extends CreateOnEventProps<TMetadata> {
  type: 'on-event';
}

/**
 * Defines a function that runs when something happens to a connection.
 *
 * @example
 * export default createOnEvent({
 *   description: 'Remember the account id',
 *   event: 'post-connection-creation',
 *   async exec(nango) {
 *     const me = await nango.get<{ id: string }>({ endpoint: '/me' });
 *     await nango.updateMetadata({ accountId: me.data.id });
 *   },
 * });
 */
export function createOnEvent<TMetadata extends z.ZodType | undefined = undefined>(definition: CreateOnEventProps<TMetadata>): OnEventDefinition<TMetadata> {
  return { type: 'on-event', ...definition };
}
