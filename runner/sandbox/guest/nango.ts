// The `nango` object a function receives (NangoAction / NangoSync of sdk/functions.ts). Every
// method is a host operation with plain-data arguments; failures come back as data and are
// rebuilt here as axios-shaped or SDK errors. Runs INSIDE the isolate; holds no host reference.
import type { ConnectionInfo, LogLevel, NangoAction, NangoSync, ProxyConfiguration, ProxyError, ProxyResponse } from '../../../sdk/functions.js';
import { callHost } from './channel.js';
import { markHostFailure } from './failure.js';
import { buildFetchResponse, formatMessage, type Response, URLSearchParams, writeLog } from './globals.js';
import { MAX_CALL_BODY_BYTES, MAX_LOG_META_CHARS, MAX_URL_CHARS } from './bounds.js';
import { arrayBufferIsView, arrayIsArray, ArrayBufferCtor, ErrorCtor, join, jsonParse, jsonStringify, MapCtor, objectDefineProperty, objectHasOwn, objectKeys, push, RangeErrorCtor, SealedWeakMap, slice, TypeErrorCtor, Uint8ArrayCtor } from './intrinsics.js';
import { appendQuery, serializeParams } from '../../../sdk/params.js';
import { paginate } from './paginate.js';
import type { GuestContextData, HostFailureData, HostReply } from './protocol.js';

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

/** Same brand as sdk/functions.ts's ActionError, so either class is recognised. */
export class ActionError<T = unknown> extends ErrorCtor {
  readonly __patchbay = 'ActionError' as const;
  readonly type = 'action_script_runtime_error' as const;
  readonly payload: T;

  constructor(payload?: T) {
    const message = (payload as { message?: unknown } | undefined)?.message;
    super(typeof payload === 'string' ? payload : typeof message === 'string' ? message : 'Action failed');
    this.name = 'ActionError';
    this.payload = payload as T;
  }
}

/** A host operation that failed for another reason than an HTTP status (rate_limited, unknown_connection…). */
export class SdkError extends ErrorCtor {
  readonly code: string;
  readonly status: number | undefined;

  constructor(failure: HostFailureData) {
    super(failure.message);
    this.name = 'SDKError';
    this.code = failure.code;
    this.status = failure.status;
  }
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

interface HostResponse {
  status: number;
  statusText?: string;
  headers: Record<string, string>;
  data: unknown;
}

function buildAxiosError(message: string, config: ProxyConfiguration, response: HostResponse | undefined): ProxyError {
  const error = new ErrorCtor(message) as ProxyError & { toJSON(): unknown };
  error.name = 'AxiosError';
  error.isAxiosError = true;
  error.config = config;
  if (response === undefined) {
    error.code = 'ERR_NETWORK';
  } else {
    // axios: ERR_BAD_REQUEST for 4xx, ERR_BAD_RESPONSE for 5xx.
    error.code = response.status >= 500 ? 'ERR_BAD_RESPONSE' : 'ERR_BAD_REQUEST';
    error.status = response.status;
    error.response = { status: response.status, statusText: response.statusText ?? STATUS_TEXT[response.status] ?? '', headers: response.headers, data: response.data };
  }
  error.toJSON = () => ({ name: error.name, message: error.message, code: error.code, status: error.status });
  return error;
}

/** The error a failed host operation becomes inside the function. */
function toError(failure: HostFailureData, failureRef: number, config: ProxyConfiguration | undefined): Error {
  let error: Error;
  if (failure.response !== undefined && config !== undefined) {
    error = buildAxiosError(`Request failed with status code ${failure.response.status}`, config, failure.response);
  } else if (failure.code === 'network_error' && config !== undefined) {
    error = buildAxiosError(failure.message, config, undefined);
  } else {
    error = new SdkError(failure);
  }
  markHostFailure(error, failureRef);
  return error;
}

// The run each `nango` was made for (see callHost), kept where user code cannot change it.
const runTokens = new SealedWeakMap<GuestNango, number>();

async function call(nango: GuestNango, op: string, args: Record<string, unknown>): Promise<unknown> {
  const reply: HostReply = await callHost(op, args, undefined, runTokens.get(nango) ?? 0);
  if (!reply.ok) throw toError(reply.failure, reply.failureRef, undefined);
  return reply.value;
}

const CREDENTIALS_NOT_ALLOWED =
  "The connection's credentials are not available to functions: set functions_can_read_credentials on the integration (PATCH /integrations/<key>) to allow it.";

function toBody(data: unknown): unknown {
  if (data instanceof ArrayBufferCtor) return new Uint8ArrayCtor(data.slice(0));
  if (arrayBufferIsView(data)) return new Uint8ArrayCtor(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  if (data instanceof URLSearchParams) return data.toString();
  return data;
}

/** The plain data the host's `proxy` operation takes: only what the function gave, nothing filled in. */
function toProxyArgs(config: ProxyConfiguration): Record<string, unknown> {
  if (typeof config !== 'object' || config === null) throw new TypeErrorCtor('proxy() needs a configuration object');
  if (typeof config.endpoint !== 'string') throw new TypeErrorCtor('proxy() needs an endpoint string');
  const args: Record<string, unknown> = { method: typeof config.method === 'string' ? config.method.toUpperCase() : 'GET', endpoint: config.endpoint };
  if (config.headers !== undefined && config.headers !== null) {
    const headers: Record<string, string> = {};
    for (const name of objectKeys(config.headers)) {
      const value = config.headers[name];
      if (value !== undefined && value !== null) headers[name] = String(value);
    }
    args.headers = headers;
  }
  if (config.data instanceof URLSearchParams) {
    const headers = (args.headers ??= {}) as Record<string, string>;
    if (!objectKeys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  // The Node client's own rules (sdk/params.ts), so a call moves between app and function with
  // the same URL: arrays as a[]=1&a[]=2 by default, nested objects, URLSearchParams, paramsSerializer.
  const query = serializeParams(config.params, config.paramsSerializer);
  if (query !== '') args.endpoint = appendQuery(config.endpoint, query);
  if ((args.endpoint as string).length > MAX_URL_CHARS) throw new RangeErrorCtor(`The endpoint with its query is longer than ${MAX_URL_CHARS} characters.`);
  if (config.data !== undefined) args.data = toBody(config.data);
  for (const key of ['retries', 'retryOn', 'baseUrlOverride', 'decompress', 'responseType', 'providerConfigKey', 'connectionId'] as const) {
    if (config[key] !== undefined) args[key] = config[key];
  }
  return args;
}

function toHostResponse(value: unknown): HostResponse {
  const response = (typeof value === 'object' && value !== null ? value : {}) as Partial<HostResponse>;
  return {
    status: typeof response.status === 'number' ? response.status : 0,
    ...(typeof response.statusText === 'string' ? { statusText: response.statusText } : {}),
    headers: typeof response.headers === 'object' && response.headers !== null ? response.headers : {},
    data: response.data,
  };
}

/** JSON-safe copy of log metadata, or its string form; cut as the host's run log would cut it (runner/context.ts). */
function toMeta(meta: unknown): unknown {
  if (meta === undefined) return undefined;
  try {
    const json = jsonStringify(meta);
    if (json !== undefined && json.length > MAX_LOG_META_CHARS) return { truncated: slice(json, 0, MAX_LOG_META_CHARS) };
    return json === undefined ? undefined : jsonParse(json);
  } catch {
    return formatMessage([meta]);
  }
}

function stripMetadata(records: unknown, method: string): unknown[] {
  if (!arrayIsArray(records)) throw new TypeErrorCtor(`${method}() needs an array of records`);
  return records.map((record) => {
    if (typeof record !== 'object' || record === null || !('_nango_metadata' in record)) return record;
    const { _nango_metadata: _dropped, ...rest } = record as Record<string, unknown>;
    return rest;
  });
}

function requireModel(model: unknown, method: string): string {
  if (typeof model !== 'string' || model === '') throw new TypeErrorCtor(`${method}() needs a model name`);
  return model;
}

export class GuestNango implements NangoAction {
  readonly connectionId: string;
  readonly providerConfigKey: string;
  readonly provider: string;
  readonly activityLogId: string | undefined;
  readonly ActionError = ActionError;
  readonly #paginateDefaults: Record<string, unknown> | undefined;

  constructor(context: GuestContextData, runToken: number) {
    runTokens.set(this, runToken);
    this.connectionId = context.connectionId;
    this.providerConfigKey = context.providerConfigKey;
    this.provider = context.provider;
    this.activityLogId = context.activityLogId;
    this.#paginateDefaults = context.paginate;
  }

  async proxy<T = any>(config: ProxyConfiguration): Promise<ProxyResponse<T>> {
    const args = toProxyArgs(config);
    // A binary body crosses as bytes beside the JSON of the rest.
    const body = args.data instanceof Uint8ArrayCtor ? args.data : undefined;
    if (body !== undefined) delete args.data;
    const reply = await callHost('proxy', args, body, runTokens.get(this) ?? 0);
    if (!reply.ok) throw toError(reply.failure, reply.failureRef, config);
    const response = toHostResponse(reply.value);
    if (response.status >= 400) {
      const error = buildAxiosError(`Request failed with status code ${response.status}`, config, response);
      if (reply.failureRef !== undefined) markHostFailure(error, reply.failureRef);
      throw error;
    }
    return { status: response.status, statusText: response.statusText ?? STATUS_TEXT[response.status] ?? '', headers: response.headers, data: response.data as T, config };
  }

  get<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>> {
    return this.proxy<T>({ ...config, method: 'GET' });
  }
  post<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>> {
    return this.proxy<T>({ ...config, method: 'POST' });
  }
  put<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>> {
    return this.proxy<T>({ ...config, method: 'PUT' });
  }
  patch<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>> {
    return this.proxy<T>({ ...config, method: 'PATCH' });
  }
  delete<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>> {
    return this.proxy<T>({ ...config, method: 'DELETE' });
  }

  paginate<T = any>(config: ProxyConfiguration): AsyncGenerator<T[], undefined, void> {
    return paginate<T>(config, this.#paginateDefaults, (request) => this.proxy(request));
  }

  async log(message: unknown, meta?: unknown, options?: { level?: LogLevel }): Promise<void> {
    let level: LogLevel = 'info';
    let extra = meta;
    // nango.log('x', { level: 'warn' }): a lone `level` key is the options, as in Nango.
    if (options === undefined && typeof meta === 'object' && meta !== null && objectKeys(meta).length === 1 && LOG_LEVELS.includes((meta as { level?: string }).level as string)) {
      level = (meta as { level: LogLevel }).level;
      extra = undefined;
    } else if (options !== undefined && LOG_LEVELS.includes(options.level as string)) {
      level = options.level as LogLevel;
    }
    writeLog(level, formatMessage([message]), toMeta(extra));
  }

  async getConnection(providerConfigKey?: string, connectionId?: string): Promise<ConnectionInfo> {
    const args: Record<string, unknown> = { withCredentials: true };
    if (providerConfigKey !== undefined && providerConfigKey !== '') args.providerConfigKey = providerConfigKey;
    if (connectionId !== undefined && connectionId !== '') args.connectionId = connectionId;
    let connection: ConnectionInfo;
    try {
      connection = (await call(this, 'getConnection', args)) as ConnectionInfo;
    } catch (error) {
      // Without the integration's opt-in a connection still reads, without its credentials: reading
      // `credentials` then says why, instead of a TypeError three lines later.
      if ((error as SdkError).code !== 'credentials_not_allowed') throw error;
      delete args.withCredentials;
      connection = (await call(this, 'getConnection', args)) as ConnectionInfo;
      objectDefineProperty(connection, 'credentials', {
        enumerable: false,
        configurable: true,
        get() {
          throw new SdkError({ code: 'credentials_not_allowed', message: CREDENTIALS_NOT_ALLOWED, status: 403 });
        },
      });
    }
    return connection;
  }

  /** The connection's access token (OAuth2) or credentials object; needs the integration's opt-in. */
  async getToken(): Promise<any> {
    return call(this, 'getToken', {});
  }

  async getIntegration(queries?: { include?: ('webhook' | 'credentials')[] }): Promise<any> {
    const include = arrayIsArray(queries?.include) ? queries.include.filter((item) => typeof item === 'string') : [];
    return call(this, 'getIntegration', { include });
  }

  /** The URL providers call with this integration's webhooks. */
  async getWebhookURL(): Promise<string | null | undefined> {
    return (await call(this, 'getWebhookURL', {})) as string;
  }

  /** The operator's PATCHBAY_FUNCTION_ENV_<NAME> variables, as `{name, value}`. */
  async getEnvironmentVariables(): Promise<{ name: string; value: string }[] | null> {
    const variables = await call(this, 'getEnvironmentVariables', {});
    return arrayIsArray(variables) ? (variables as { name: string; value: string }[]) : null;
  }

  getFlowAttributes<A = object>(): A | null {
    throw new ErrorCtor('There is no current sync to get attributes from');
  }

  /** Runs another deployed action on a connection and answers its output. */
  async triggerAction<In = unknown, Out = object>(providerConfigKey: string, connectionId: string, actionName: string, input?: In): Promise<Out> {
    return (await call(this, 'triggerAction', { providerConfigKey, connectionId, actionName, input: input ?? null })) as Out;
  }

  async triggerSync(providerConfigKey: string, connectionId: string, sync: string | { name: string; variant: string }, syncMode?: unknown): Promise<void | string> {
    await call(this, 'triggerSync', { providerConfigKey, connectionId, sync, ...(syncMode === undefined ? {} : { syncMode }) });
  }

  async startSync(providerConfigKey: string, syncs: (string | { name: string; variant: string })[], connectionId?: string): Promise<void> {
    await call(this, 'startSync', { providerConfigKey, syncs, ...(connectionId === undefined ? {} : { connectionId }) });
  }

  async tryAcquireLock(props: { key: string; ttlMs: number }): Promise<boolean> {
    return (await call(this, 'tryAcquireLock', { key: props?.key, ttlMs: props?.ttlMs })) === true;
  }

  async releaseLock(props: { key: string }): Promise<boolean> {
    return (await call(this, 'releaseLock', { key: props?.key })) === true;
  }

  async releaseAllLocks(): Promise<void> {
    await call(this, 'releaseAllLocks', {});
  }

  /**
   * Nango's input check: logs each issue and throws an ActionError when `input` does not match.
   * Answers the parsed input (Nango's answers nothing).
   */
  async zodValidateInput<T = any, Z = any>({ zodSchema, input }: { zodSchema: { safeParse(value: unknown): { success: boolean; data?: Z; error?: { issues?: { path?: unknown[]; message?: string }[] } } }; input: T }): Promise<Z> {
    if (typeof zodSchema?.safeParse !== 'function') throw new TypeErrorCtor('zodValidateInput() needs a zodSchema');
    const parsed = zodSchema.safeParse(input);
    if (parsed.success) return parsed.data as Z;
    const issues = (parsed.error?.issues ?? []).map((issue) => ({ path: join(((issue.path ?? []) as unknown[]).map(String), '.'), message: issue.message ?? 'invalid' }));
    for (const issue of issues) await this.log(`Invalid input: ${issue.message}${issue.path === '' ? '' : ` at path ${issue.path}`}`, { level: 'error' });
    throw new ActionError({ message: 'Invalid input provided', issues });
  }

  /**
   * A plain request to any URL: no credentials, no retries, through Patchbay's egress guard
   * (private and metadata addresses are refused) and bounded like proxy responses.
   */
  async uncontrolledFetch(options: { url: URL | string; method?: string; headers?: Record<string, string> | undefined; body?: string | Uint8Array | ArrayBuffer | null }): Promise<Response> {
    if (typeof options !== 'object' || options === null) throw new TypeErrorCtor('uncontrolledFetch() needs {url, method?, headers?, body?}');
    const url = String(options.url);
    if (url.length > MAX_URL_CHARS) throw new RangeErrorCtor(`The URL is longer than ${MAX_URL_CHARS} characters.`);
    const args: Record<string, unknown> = { url, method: typeof options.method === 'string' ? options.method : 'GET' };
    if (options.headers !== undefined && options.headers !== null) {
      const headers: Record<string, string> = {};
      for (const name of objectKeys(options.headers)) {
        const value = options.headers[name];
        if (value !== undefined && value !== null) headers[name] = String(value);
      }
      args.headers = headers;
    }
    let body: Uint8Array | undefined;
    if (typeof options.body === 'string') args.body = options.body;
    else if (options.body !== undefined && options.body !== null) body = toBody(options.body) as Uint8Array;
    if (body !== undefined && body.byteLength > MAX_CALL_BODY_BYTES) throw new RangeErrorCtor(`The request body is larger than ${MAX_CALL_BODY_BYTES} bytes.`);
    const reply = await callHost('uncontrolledFetch', args, body, runTokens.get(this) ?? 0);
    if (!reply.ok) throw toError(reply.failure, reply.failureRef, undefined);
    return buildFetchResponse(reply.value as Parameters<typeof buildFetchResponse>[0]);
  }

  async getMetadata<T = Record<string, unknown>>(): Promise<T> {
    return (await call(this, 'getMetadata', {})) as T;
  }

  async setMetadata(metadata: Record<string, unknown>): Promise<void> {
    await call(this, 'setMetadata', { metadata });
  }

  async updateMetadata(metadata: Record<string, unknown>): Promise<void> {
    await call(this, 'updateMetadata', { metadata });
  }
}

interface RecordSchema {
  safeParse(value: unknown): { success: boolean; error?: { issues?: { path?: unknown[]; message?: string }[] } };
  partial?: () => RecordSchema;
}

// Invalid records are reported by id in the run's log; a few issues each is enough to fix them.
const MAX_REPORTED_ISSUES = 3;

export class GuestNangoSync extends GuestNango implements NangoSync {
  readonly lastSyncDate: Date | undefined;
  readonly variant: string;
  readonly #models: Record<string, RecordSchema> | undefined;
  readonly #checkpoint: RecordSchema | undefined;

  constructor(context: GuestContextData, runToken: number, models?: unknown, checkpoint?: unknown) {
    super(context, runToken);
    this.#checkpoint = typeof checkpoint === 'object' && checkpoint !== null && typeof (checkpoint as RecordSchema).safeParse === 'function' ? (checkpoint as RecordSchema) : undefined;
    this.#models = typeof models === 'object' && models !== null ? (models as Record<string, RecordSchema>) : undefined;
    const date = typeof context.lastSyncDate === 'string' ? new Date(context.lastSyncDate) : undefined;
    this.lastSyncDate = date !== undefined && !Number.isNaN(date.getTime()) ? date : undefined;
    this.variant = typeof context.variant === 'string' && context.variant !== '' ? context.variant : 'base';
  }

  async batchSave(records: unknown[], model: string): Promise<boolean> {
    const name = requireModel(model, 'batchSave');
    const valid = this.#validRecords(stripMetadata(records, 'batchSave'), name, 'batchSave', false);
    return valid.length === 0 || (await call(this, 'batchSave', { records: valid, model: name })) !== false;
  }

  async batchUpdate(records: unknown[], model: string): Promise<boolean> {
    const name = requireModel(model, 'batchUpdate');
    const valid = this.#validRecords(stripMetadata(records, 'batchUpdate'), name, 'batchUpdate', true);
    return valid.length === 0 || (await call(this, 'batchUpdate', { records: valid, model: name })) !== false;
  }

  /**
   * The records that match the model's schema (its partial form for updates). The others are
   * reported in the run's log and skipped, so a bad record is never half-written.
   */
  #validRecords(records: unknown[], model: string, method: string, partial: boolean): unknown[] {
    if (this.#models === undefined) return records;
    const declared = objectHasOwn(this.#models, model) ? this.#models[model] : undefined;
    if (declared === undefined || typeof declared.safeParse !== 'function') {
      throw new TypeErrorCtor(`${method}(): '${model}' is not one of this sync's models (${join(objectKeys(this.#models), ', ')})`);
    }
    const schema = partial && typeof declared.partial === 'function' ? declared.partial() : declared;
    const valid: unknown[] = [];
    for (const record of records) {
      const result = schema.safeParse(record);
      if (result.success) {
        push(valid, record);
        continue;
      }
      const id = typeof record === 'object' && record !== null ? (record as { id?: unknown }).id : undefined;
      const issues = (result.error?.issues ?? []).slice(0, MAX_REPORTED_ISSUES).map((issue) => `${(issue.path ?? []).join('.') || '(record)'}: ${issue.message ?? 'invalid'}`);
      writeLog('warn', `${method}(): skipped an invalid ${model} record${id === undefined ? '' : ` (id ${formatMessage([id])})`}: ${join(issues, '; ')}`, undefined);
    }
    return valid;
  }

  /** @deprecated Nango's old name of batchSave. */
  async batchSend(records: unknown[], model: string): Promise<boolean> {
    return this.batchSave(records, model);
  }

  /**
   * A page of this sync's own stored records of `model` (live ones, in change order), for a sync
   * that reads what it saved. Pass `next_cursor` back as `cursor` until it is null.
   */
  async listRecords(model: string, options?: { cursor?: string | null; limit?: number }): Promise<{ records: any[]; next_cursor: string | null }> {
    const args: Record<string, unknown> = { model: requireModel(model, 'listRecords') };
    if (options?.cursor !== undefined && options.cursor !== null) args.cursor = options.cursor;
    if (options?.limit !== undefined) args.limit = options.limit;
    const page = (await call(this, 'listRecords', args)) as { records?: unknown; next_cursor?: unknown } | null;
    return { records: arrayIsArray(page?.records) ? page.records : [], next_cursor: typeof page?.next_cursor === 'string' ? page.next_cursor : null };
  }

  override getFlowAttributes<A = object>(): A | null {
    // Nango's attributes come from its orchestrator's schedule; Patchbay's syncs carry none.
    return {} as A;
  }

  async batchDelete(records: unknown[], model: string): Promise<boolean> {
    return (await call(this, 'batchDelete', { records: stripMetadata(records, 'batchDelete'), model: requireModel(model, 'batchDelete') })) !== false;
  }

  async getRecordsByIds(ids: (string | number)[], model: string): Promise<Map<string, any>> {
    if (!arrayIsArray(ids)) throw new TypeErrorCtor('getRecordsByIds() needs an array of ids');
    const pairs = await call(this, 'getRecordsByIds', { ids: ids.map(String), model: requireModel(model, 'getRecordsByIds') });
    return new MapCtor(arrayIsArray(pairs) ? (pairs as [string, unknown][]) : []);
  }

  async getCheckpoint(): Promise<any> {
    return (await call(this, 'getCheckpoint', {})) ?? null;
  }

  async saveCheckpoint(checkpoint: Record<string, string | number | boolean>): Promise<void> {
    if (typeof checkpoint !== 'object' || checkpoint === null || arrayIsArray(checkpoint)) throw new TypeErrorCtor('saveCheckpoint() needs an object');
    // A checkpoint the next run could not read is refused now, while the run can still react.
    const checked = this.#checkpoint?.safeParse(checkpoint);
    if (checked !== undefined && !checked.success) {
      const issues = (checked.error?.issues ?? []).slice(0, MAX_REPORTED_ISSUES).map((issue) => `${join((issue.path ?? []) as string[], '.') || '(checkpoint)'}: ${issue.message ?? 'invalid'}`);
      throw new TypeErrorCtor(`saveCheckpoint(): the checkpoint does not match the sync's checkpoint schema: ${join(issues, '; ')}`);
    }
    await call(this, 'saveCheckpoint', { checkpoint });
  }

  async clearCheckpoint(): Promise<void> {
    await call(this, 'clearCheckpoint', {});
  }

  async setMergingStrategy(merging: { strategy: 'override' | 'ignore_if_modified_after' }, model: string): Promise<void> {
    await call(this, 'setMergingStrategy', { strategy: merging?.strategy, model: requireModel(model, 'setMergingStrategy') });
  }

  async trackDeletesStart(model: string): Promise<void> {
    await call(this, 'trackDeletesStart', { model: requireModel(model, 'trackDeletesStart') });
  }

  async trackDeletesEnd(model: string): Promise<{ deletedKeys: string[] }> {
    return this.#deleteUnseen('trackDeletesEnd', model);
  }

  /** Nango's older form of trackDeletesStart/End: marks deleted the records of `model` this execution did not save. */
  async deleteRecordsFromPreviousExecutions(model: string): Promise<{ deletedKeys: string[] }> {
    return this.#deleteUnseen('deleteRecordsFromPreviousExecutions', model);
  }

  async #deleteUnseen(method: string, model: string): Promise<{ deletedKeys: string[] }> {
    const result = (await call(this, method, { model: requireModel(model, method) })) as { deletedKeys?: unknown } | null;
    return { deletedKeys: arrayIsArray(result?.deletedKeys) ? (result.deletedKeys as string[]) : [] };
  }
}
