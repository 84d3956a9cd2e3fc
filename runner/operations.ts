// The host side of the `nango` object: what a guest's call to `proxy`, `getConnection` or
// `setMetadata` does, for one run. Values in and out are plain data; failures are thrown as
// HostFailure data that the guest turns into its own errors. Nothing secret is ever returned.
import { Buffer } from 'node:buffer';
import { toConnectionDetails } from '../server/connection-json.js';
import { isPatchbayError, PatchbayError } from '../server/errors.js';
import { isReservedRequestHeader } from '../server/proxy/headers.js';
import { findUnstorableText } from '../server/validate.js';
import type { ProxyEngine } from '../server/proxy/index.js';
import type { CancelSignal } from '../server/proxy/cancel.js';
import type { Store } from '../server/store/index.js';
import type { HostFailure } from './sandbox/index.js';

// A function buffers each response to copy it into the isolate, whose heap is 128 MB by default:
// 10 MB leaves room for the parsed copy and the function's own work.
export const MAX_FUNCTION_RESPONSE_BYTES = 10 * 1024 * 1024;

// RFC 9110 field names (tokens) and values (no CR, LF or NUL): anything else would be refused
// by undici deep in the send path, or worse, split into another header.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;

export interface RunScope {
  providerConfigKey: string;
  connectionId: string;
  logId: string;
  signal?: CancelSignal | undefined;
}

export interface OperationDeps {
  proxy: ProxyEngine;
  store: Store;
  /** Functions may use connections of other integrations (PATCHBAY_FUNCTIONS_CROSS_INTEGRATION). */
  crossIntegration: boolean;
  /** Tells other processes a connection changed (its cached copies must go). */
  connectionChanged(providerConfigKey: string, connectionId: string): void;
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
      // Everything but the credentials: secrets never enter the isolate.
      return toConnectionDetails(await connectionOf(args));
    },
    async getMetadata(args) {
      return (await connectionOf(args)).metadata;
    },
    setMetadata: (args) => writeMetadata(args, false),
    updateMetadata: (args) => writeMetadata(args, true),
  };
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
