// axios's query-string rules, shared by the Node client and the `nango` object inside functions
// (the sandbox bundles this file), so a `params` object gives the same URL in both. Pure: no
// Node APIs, only what a bare JavaScript context has (encodeURIComponent, URLSearchParams).
import type { ParamsSerializerOptions, ProxyParams } from './types.js';

/** axios's default encoder: encodeURIComponent, then `:`, `$`, `,` kept and spaces as `+` (axios/lib/helpers/buildURL.js). */
export function encodeParam(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':').replace(/%24/g, '$').replace(/%2C/gi, ',').replace(/%20/g, '+');
}

/** The encoder a custom `encode` receives as its second argument (axios's AxiosURLSearchParams one). */
function encodeStrict(value: string): string {
  return encodeURIComponent(value).replace(/[!'()~]|%20/g, (match) => (match === '%20' ? '+' : `%${match.charCodeAt(0).toString(16).toUpperCase()}`));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

function isVisitable(value: unknown): boolean {
  return isPlainObject(value) || Array.isArray(value);
}

function toParamText(value: unknown): string {
  if (value === null) return '';
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/**
 * Flattens params into key/value pairs with axios's rules (axios/lib/helpers/toFormData.js):
 * null/undefined skipped; a flat array as `a[]` (or `a`, `a[0]` per `indexes`); nested objects
 * and arrays of objects as `a[b]`, `a[0][b]`; a key ending in `{}` holds JSON; Dates as ISO.
 */
export function toParamPairs(params: Record<string, unknown>, indexes: boolean | null = false): [string, string][] {
  const pairs: [string, string][] = [];
  const render = (path: string[]) => path.map((token, index) => (index === 0 ? token : `[${token.replace(/\[\]$/, '')}]`)).join('');
  const visit = (value: unknown, path: string[]): void => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        if (item !== undefined && item !== null) place(item, [...path, String(index)]);
      });
    } else {
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (item !== undefined && item !== null) place(item, [...path, key.trim()]);
      }
    }
  };
  const place = (value: unknown, path: string[]): void => {
    if (path.length === 1 && typeof value === 'object' && value !== null) {
      const key = path[0] as string;
      if (key.endsWith('{}')) {
        pairs.push([key, JSON.stringify(value)]);
        return;
      }
      const flatArray = Array.isArray(value) && !value.some(isVisitable);
      if (flatArray || (key.endsWith('[]') && Array.isArray(value))) {
        const name = key.replace(/\[\]$/, '');
        (value as unknown[]).forEach((item, index) => {
          if (item === undefined || item === null) return;
          pairs.push([indexes === true ? `${name}[${index}]` : indexes === null ? name : `${name}[]`, toParamText(item)]);
        });
        return;
      }
    }
    if (isVisitable(value)) return visit(value, path);
    pairs.push([render(path), toParamText(value)]);
  };
  visit(params, []);
  return pairs;
}

/**
 * A query string (without `?`) from `params`, as axios builds it: a string is used as it is, a
 * URLSearchParams by its own `toString()`, an object by `paramsSerializer` (or the default rules).
 *
 * @example
 * serializeParams({ ids: [1, 2], q: 'a b' })                     // 'ids%5B%5D=1&ids%5B%5D=2&q=a+b'
 * serializeParams({ ids: [1, 2] }, { indexes: null })            // 'ids=1&ids=2'
 */
export function serializeParams(params: ProxyParams | Record<string, unknown> | undefined, serializer?: ParamsSerializerOptions | ((params: Record<string, unknown>) => string)): string {
  if (params === undefined || params === null || params === '') return '';
  if (typeof params === 'string') return params.replace(/^\?/, '');
  const options: ParamsSerializerOptions = typeof serializer === 'function' ? { serialize: serializer } : (serializer ?? {});
  if (options.serialize !== undefined) return options.serialize(params as Record<string, unknown>, options);
  if (params instanceof URLSearchParams) return params.toString();
  const pairs = toParamPairs(params as Record<string, unknown>, options.indexes === undefined ? false : options.indexes);
  const encode = options.encode === undefined ? encodeParam : (value: string) => (options.encode as NonNullable<ParamsSerializerOptions['encode']>)(value, encodeStrict);
  return pairs.map(([key, value]) => `${encode(key)}=${encode(value)}`).join('&');
}

/** `url` with `query` appended (`?` or `&`), dropping any fragment, as axios's buildURL does. */
export function appendQuery(url: string, query: string): string {
  if (query === '') return url;
  const hash = url.indexOf('#');
  const base = hash === -1 ? url : url.slice(0, hash);
  return `${base}${base.includes('?') ? '&' : '?'}${query}`;
}
