// `url` / `node:url` inside functions: the WHATWG URL classes (the sandbox's globals) and the
// legacy parse/format/resolve most code still calls, built on them. Bundled only into functions
// that import it (runner/bundle.ts). Runs INSIDE the sandbox; imports nothing of the platform.
import { parse as parseQuery, stringify as stringifyQuery, type ParsedUrlQuery } from './querystring.js';

const GlobalURL = globalThis.URL;
const GlobalURLSearchParams = globalThis.URLSearchParams;
export { GlobalURL as URL, GlobalURLSearchParams as URLSearchParams };

export interface UrlObject {
  protocol?: string | null;
  slashes?: boolean | null;
  auth?: string | null;
  host?: string | null;
  hostname?: string | null;
  port?: string | number | null;
  pathname?: string | null;
  search?: string | null;
  query?: string | ParsedUrlQuery | null;
  hash?: string | null;
  href?: string;
  path?: string | null;
}

export interface Url {
  protocol: string | null;
  slashes: boolean | null;
  auth: string | null;
  host: string | null;
  port: string | null;
  hostname: string | null;
  hash: string | null;
  search: string | null;
  query: string | null | ParsedUrlQuery;
  pathname: string | null;
  path: string | null;
  href: string;
}

// A relative reference is parsed against this base and the base's parts dropped again.
const RELATIVE_BASE = 'http://relative.invalid';

export interface UrlWithParsedQuery extends Url {
  query: ParsedUrlQuery;
}

export interface UrlWithStringQuery extends Url {
  query: string | null;
}

/** Node's legacy `url.parse`, as far as WHATWG parsing gives it (no `javascript:` quirks). */
export function parse(input: string, parseQueryString: true): UrlWithParsedQuery;
export function parse(input: string, parseQueryString?: false): UrlWithStringQuery;
export function parse(input: string, parseQueryString?: boolean): Url;
export function parse(input: string, parseQueryString = false): Url {
  const text = String(input).trim();
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(text);
  const url = new GlobalURL(text, absolute ? undefined : RELATIVE_BASE);
  const search = url.search === '' ? null : url.search;
  const rawQuery = search === null ? null : search.slice(1);
  const auth = url.username === '' ? null : `${decodeURIComponent(url.username)}${url.password === '' ? '' : `:${decodeURIComponent(url.password)}`}`;
  const pathname = absolute || text.startsWith('/') ? url.pathname : text.split(/[?#]/)[0] || null;
  return {
    protocol: absolute ? url.protocol : null,
    slashes: absolute ? /^[a-z][a-z0-9+.-]*:\/\//i.test(text) : null,
    auth: absolute ? auth : null,
    host: absolute && url.host !== '' ? url.host : null,
    port: absolute && url.port !== '' ? url.port : null,
    hostname: absolute && url.hostname !== '' ? url.hostname : null,
    hash: url.hash === '' ? null : url.hash,
    search: parseQueryString && search === null ? '' : search,
    query: parseQueryString ? parseQuery(rawQuery ?? '') : rawQuery,
    pathname,
    path: pathname === null && search === null ? null : `${pathname ?? ''}${search ?? ''}`,
    href: absolute ? url.href : text,
  };
}

/** Node's legacy `url.format` for an object, or a URL's href. */
export function format(value: UrlObject | URL | string): string {
  if (typeof value === 'string') return parse(value).href;
  if (value instanceof GlobalURL) return value.href;
  let protocol = value.protocol ?? '';
  if (protocol !== '' && !protocol.endsWith(':')) protocol += ':';
  const host = value.host ?? (value.hostname === undefined || value.hostname === null ? '' : `${value.hostname}${value.port === undefined || value.port === null || value.port === '' ? '' : `:${value.port}`}`);
  const auth = value.auth === undefined || value.auth === null ? '' : `${encodeURIComponent(value.auth).replace(/%3A/i, ':')}@`;
  const slashes = value.slashes === true || /^(https?|ftp|wss?|file):$/.test(protocol) ? '//' : '';
  let search = value.search ?? '';
  if (search === '' && value.query !== undefined && value.query !== null) {
    const query = typeof value.query === 'string' ? value.query : stringifyQuery(value.query);
    if (query !== '') search = `?${query}`;
  }
  if (search !== '' && !search.startsWith('?')) search = `?${search}`;
  let hash = value.hash ?? '';
  if (hash !== '' && !hash.startsWith('#')) hash = `#${hash}`;
  let pathname = value.pathname ?? '';
  if (host !== '' && pathname !== '' && !pathname.startsWith('/')) pathname = `/${pathname}`;
  return `${protocol}${host === '' && slashes === '' ? '' : slashes}${auth}${host}${pathname}${search}${hash}`;
}

/** Node's legacy `url.resolve`. */
export function resolve(from: string, to: string): string {
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(from);
  const resolved = new GlobalURL(to, new GlobalURL(from, absolute ? undefined : RELATIVE_BASE));
  return absolute ? resolved.href : resolved.href.slice(RELATIVE_BASE.length);
}

export default { URL: GlobalURL, URLSearchParams: GlobalURLSearchParams, parse, format, resolve };
