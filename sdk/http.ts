// The wire under the Node client: a request description → one undici call on a keep-alive Agent
// → an axios-shaped response, or a thrown NangoHttpError. Also the axios rules this layer owns
// (body encoding, body decoding), as pure exported functions; query strings are in params.ts.
// Knows nothing of Nango's routes or headers: sdk/client.ts does.
import { STATUS_CODES } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import { Agent, type Dispatcher } from 'undici';
import { NangoHttpError, toNetworkError, toStatusCode, type RequestConfig } from './errors.js';
import { toParamPairs } from './params.js';
import type { ResponseType } from './types.js';

// ───────────────────────────── bodies ─────────────────────────────

export interface EncodedBody {
  body: string | Buffer | Readable | undefined;
  /** The content type to send when the caller set none. */
  contentType: string | undefined;
}

function findHeader(headers: Record<string, string>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

function isReadable(data: unknown): data is Readable {
  return typeof data === 'object' && data !== null && typeof (data as Readable).pipe === 'function' && typeof (data as Readable).on === 'function';
}

/**
 * The bytes to send for `data`, with axios's transformRequest rules: bytes and streams as they
 * are, URLSearchParams as a form, objects as JSON (or as a form when the content type says so),
 * strings as they are (JSON-quoted only when the content type is JSON and they are not JSON).
 */
export function encodeBody(data: unknown, headers: Record<string, string>): EncodedBody {
  if (data === undefined || data === null) return { body: undefined, contentType: undefined };
  const contentType = findHeader(headers, 'content-type') ?? '';
  if (Buffer.isBuffer(data)) return { body: data, contentType: undefined };
  if (ArrayBuffer.isView(data)) return { body: Buffer.from(data.buffer, data.byteOffset, data.byteLength), contentType: undefined };
  if (data instanceof ArrayBuffer) return { body: Buffer.from(data), contentType: undefined };
  if (isReadable(data)) return { body: data, contentType: undefined };
  if (data instanceof URLSearchParams) return { body: data.toString(), contentType: 'application/x-www-form-urlencoded;charset=utf-8' };
  if (typeof data === 'string') {
    if (!contentType.includes('application/json')) return { body: data, contentType: undefined };
    try {
      JSON.parse(data);
      return { body: data.trim(), contentType: undefined };
    } catch {
      return { body: JSON.stringify(data), contentType: undefined };
    }
  }
  if (typeof data === 'object' && contentType.includes('application/x-www-form-urlencoded')) {
    const form = new URLSearchParams();
    for (const [key, value] of toParamPairs(data as Record<string, unknown>)) form.append(key, value);
    return { body: form.toString(), contentType: undefined };
  }
  return { body: JSON.stringify(data), contentType: 'application/json' };
}

// ───────────────────────────── responses ─────────────────────────────

/** An axios-shaped response. */
export interface HttpResponse<T = any> {
  status: number;
  statusText: string;
  /** Lower-case names; a repeated header's values joined with `, `. */
  headers: Record<string, string>;
  data: T;
  config: RequestConfig;
}

export function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** JSON when it parses (axios's default "silent" JSON parsing), the text otherwise; a leading BOM dropped. */
export function decodeText(bytes: Buffer, responseType: ResponseType | undefined): unknown {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (responseType === 'text' || text === '') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A decompressing stage for the body's content-encoding, as axios adds one (it decompresses by default). */
function decompressor(encoding: string | undefined): Transform | undefined {
  switch (encoding?.toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
    case 'compress':
    case 'x-compress':
    case 'deflate':
      // createUnzip reads gzip and zlib-wrapped deflate alike.
      return zlib.createUnzip({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    case 'br':
      return zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH });
    default:
      return undefined;
  }
}

async function readAll(body: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

// ───────────────────────────── the client ─────────────────────────────

export interface HttpRequest {
  method: string;
  /** Absolute URL, query included. */
  url: string;
  headers: Record<string, string>;
  data?: unknown;
  responseType?: ResponseType;
  /** What `response.config` / `error.config` will hold (no credentials). */
  config: RequestConfig;
}

export interface HttpClientOptions {
  /** Sent on every request. */
  userAgent: string;
  /** A custom undici dispatcher (proxy agent, mock agent…); default: a keep-alive Agent owned by this client. */
  dispatcher?: Dispatcher;
}

/** One keep-alive connection pool per Nango client; `send` is the only way out. */
export class HttpClient {
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #userAgent: string;

  constructor(options: HttpClientOptions) {
    this.#userAgent = options.userAgent;
    this.#ownsDispatcher = options.dispatcher === undefined;
    // No headers or body timeout, as axios has none by default: a synchronous triggerAction waits
    // for the action, which may run for minutes (Nango's actions run up to 15 min).
    this.#dispatcher = options.dispatcher ?? new Agent({ headersTimeout: 0, bodyTimeout: 0 });
  }

  /** Sends one request; resolves for a 2xx status, throws a NangoHttpError otherwise. */
  async send<T = any>(request: HttpRequest): Promise<HttpResponse<T>> {
    const headers: Record<string, string> = {
      Accept: 'application/json, text/plain, */*',
      'Accept-Encoding': 'gzip, compress, deflate, br',
      'User-Agent': this.#userAgent,
      ...request.headers,
    };
    const method = request.method.toUpperCase();
    const { body, contentType } = encodeBody(request.data, headers);
    if (findHeader(headers, 'content-type') === undefined) {
      // axios's dispatchRequest labels every POST/PUT/PATCH without a content type as a form, bytes
      // and empty bodies included. Patchbay forwards the body's Content-Type upstream (Nango's
      // proxy drops it), so the provider sees what it saw through @nangohq/node; set Content-Type to change it.
      const fallback = ['POST', 'PUT', 'PATCH'].includes(method) ? 'application/x-www-form-urlencoded' : undefined;
      if ((contentType ?? fallback) !== undefined) headers['Content-Type'] = (contentType ?? fallback) as string;
    }
    // new URL() percent-encodes what may not travel raw (spaces…) and resolves dot segments, as axios does.
    const url = new URL(request.url);

    let raw: Dispatcher.ResponseData;
    try {
      raw = await this.#dispatcher.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: method as Dispatcher.HttpMethod, headers, body });
    } catch (error) {
      throw toNetworkError(error, request.config);
    }

    const responseHeaders = flattenHeaders(raw.headers);
    let stream: Readable = raw.body;
    const bodiless = method === 'HEAD' || raw.statusCode === 204 || raw.statusCode === 304;
    const unzip = bodiless ? undefined : decompressor(responseHeaders['content-encoding']);
    if (unzip !== undefined) {
      // The body handed on is decoded, so its encoding header no longer describes it (as axios).
      delete responseHeaders['content-encoding'];
      raw.body.on('error', (error) => unzip.destroy(error));
      stream = raw.body.pipe(unzip);
    } else if (bodiless && responseHeaders['content-encoding'] !== undefined) {
      delete responseHeaders['content-encoding'];
    }

    let data: unknown;
    if (request.responseType === 'stream') {
      data = stream;
    } else {
      let bytes: Buffer;
      try {
        bytes = await readAll(stream);
      } catch (error) {
        throw toNetworkError(error, request.config);
      }
      data = request.responseType === 'arraybuffer' ? bytes : decodeText(bytes, request.responseType);
    }

    const response: HttpResponse<T> = {
      status: raw.statusCode,
      statusText: STATUS_CODES[raw.statusCode] ?? '',
      headers: responseHeaders,
      data: data as T,
      config: request.config,
    };
    if (raw.statusCode >= 200 && raw.statusCode < 300) return response;
    throw new NangoHttpError(`Request failed with status code ${raw.statusCode}`, toStatusCode(raw.statusCode), request.config, response);
  }

  /** Closes the pool's idle connections; later calls fail. A dispatcher passed in is left open. */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }
}
