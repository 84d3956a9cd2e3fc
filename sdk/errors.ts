// The errors the Node client throws: NangoHttpError, shaped like an AxiosError (what
// `@nangohq/node` throws), built from a non-2xx response or a network failure. Never carries the
// secret key: the request config it holds has no Authorization header.
import type { ProxyConfiguration, ProxyError, ProxyErrorCode } from './types.js';

/** What a thrown error's `response` holds: the status, headers and the decoded body. */
export interface ErrorResponse<T = any> {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  data: T;
  config: RequestConfig;
}

/**
 * The request a response or an error belongs to, as `response.config` / `error.config`. For a
 * proxy call it is the ProxyConfiguration given (plus `url`); for other calls `endpoint` is the
 * Patchbay path. Never holds the secret key.
 */
export interface RequestConfig extends ProxyConfiguration {
  /** The full URL called on Patchbay. */
  url: string;
}

/**
 * A failed call: a non-2xx status (`error.response` set) or no response at all (`error.code` is
 * the network code: `ECONNREFUSED`, `ECONNRESET`, `ENOTFOUND`…). Shaped like an AxiosError, so
 * `error.isAxiosError`, `error.response.status` and `error.response.data` work as with
 * `@nangohq/node`.
 *
 * @example
 * try {
 *   await nango.triggerAction('github', 'u-1', 'create-issue', { title: '' });
 * } catch (error) {
 *   if (isNangoHttpError(error) && error.response?.status === 500) {
 *     console.log(error.response.data.error.payload);
 *   }
 * }
 */
export class NangoHttpError<T = any> extends Error implements ProxyError<T> {
  override name = 'AxiosError' as const;
  readonly isAxiosError = true as const;
  code?: ProxyErrorCode;
  status?: number;
  response?: ErrorResponse<T>;
  config: RequestConfig;

  constructor(message: string, code: ProxyErrorCode | undefined, config: RequestConfig, response?: ErrorResponse<T>, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    if (code !== undefined) this.code = code;
    this.config = config;
    if (response !== undefined) {
      this.response = response;
      this.status = response.status;
    }
  }

  /** What `JSON.stringify(error)` gives, as axios's: no response body, no credentials. */
  toJSON(): Record<string, unknown> {
    return { message: this.message, name: this.name, stack: this.stack, config: this.config, code: this.code, status: this.status };
  }
}

/** True for the errors the client (and `nango` inside functions) throw for a failed call. */
export function isNangoHttpError(error: unknown): error is NangoHttpError {
  return typeof error === 'object' && error !== null && (error as { isAxiosError?: unknown }).isAxiosError === true;
}

/** axios's code for a status it refused: ERR_BAD_REQUEST for 4xx, ERR_BAD_RESPONSE for 5xx, none otherwise. */
export function toStatusCode(status: number): ProxyErrorCode | undefined {
  if (status >= 400 && status < 500) return 'ERR_BAD_REQUEST';
  if (status >= 500 && status < 600) return 'ERR_BAD_RESPONSE';
  return undefined;
}

// undici names some socket failures differently from Node's http module (which axios uses);
// code that checks `error.code === 'ECONNRESET'` after a dropped connection must keep working.
const UNDICI_TO_NODE: Record<string, { code: string; message?: string }> = {
  UND_ERR_SOCKET: { code: 'ECONNRESET', message: 'socket hang up' },
  UND_ERR_CONNECT_TIMEOUT: { code: 'ETIMEDOUT' },
  UND_ERR_HEADERS_TIMEOUT: { code: 'ETIMEDOUT' },
  UND_ERR_BODY_TIMEOUT: { code: 'ETIMEDOUT' },
  UND_ERR_ABORTED: { code: 'ERR_CANCELED', message: 'canceled' },
  ABORT_ERR: { code: 'ERR_CANCELED', message: 'canceled' },
};

/** The error a call throws when no response came back (refused, reset, DNS…). */
export function toNetworkError(thrown: unknown, config: RequestConfig): NangoHttpError {
  const original = thrown as { code?: unknown; message?: unknown; name?: unknown } | null;
  const rawCode = typeof original?.code === 'string' ? original.code : original?.name === 'AbortError' ? 'ABORT_ERR' : undefined;
  const mapped = rawCode === undefined ? undefined : UNDICI_TO_NODE[rawCode];
  const message = mapped?.message ?? (typeof original?.message === 'string' && original.message !== '' ? original.message : 'Network Error');
  return new NangoHttpError(message, mapped?.code ?? rawCode ?? 'ERR_NETWORK', config, undefined, thrown);
}
