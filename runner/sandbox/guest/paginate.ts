// nango.paginate, as Nango's SDK does it: cursor, link and offset pagination over any `proxy` function.
// Pure apart from the calls it makes through `proxy`, so it is table-tested with a fake one.
// Runs INSIDE the isolate: no Node modules, no web globals (the unit tests run it in Node).
import type { ProxyConfiguration, ProxyResponse } from '../../../sdk/functions.js';

export type ProxyFunction = (config: ProxyConfiguration) => Promise<ProxyResponse>;

type Settings = Record<string, unknown>;
type NextParam = string | number | undefined;

const BODY_METHODS = ['POST', 'PUT', 'PATCH'];
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** `a.b[0].c` → ['a', 'b', '0', 'c'], as lodash's `get` reads paths. */
function pathOf(path: string): string[] {
  return path
    .replace(/\[(\w+)\]/g, '.$1')
    .split('.')
    .filter((part) => part !== '');
}

export function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of pathOf(path)) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** `{'a.b': 1, c: 2}` → `{a: {b: 1}, c: 2}`: dot keys nest in a body (Nango uses lodash `set`). */
export function expandDotKeys(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.includes('.') ? pathOf(key) : [key];
    // A key naming a prototype would write through it rather than nest.
    if (parts.length === 0 || parts.some((part) => UNSAFE_KEYS.has(part))) continue;
    let target = out;
    for (const part of parts.slice(0, -1)) {
      const next = target[part];
      target = (target[part] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {}) as Record<string, unknown>;
    }
    target[parts[parts.length - 1] as string] = value;
  }
  return out;
}

function parseQueryString(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of query.replace(/^\?/, '').split('&')) {
    if (part === '') continue;
    const at = part.indexOf('=');
    const decode = (text: string) => {
      try {
        return decodeURIComponent(text.replace(/\+/g, ' '));
      } catch {
        return text;
      }
    };
    out[decode(at < 0 ? part : part.slice(0, at))] = decode(at < 0 ? '' : part.slice(at + 1));
  }
  return out;
}

/** The URLs of a `Link` header by rel (RFC 8288): `<https://…?page=2>; rel="next"`. */
export function parseLinkHeader(header: string | undefined): Record<string, string> {
  const links: Record<string, string> = {};
  if (header === undefined) return links;
  for (const match of header.matchAll(/<([^>]*)>([^,<]*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(match[2] as string);
    const names = (rel?.[1] ?? rel?.[2] ?? '').split(/\s+/).filter((name) => name !== '');
    for (const name of names) links[name.toLowerCase()] ??= match[1] as string;
  }
  return links;
}

const ABSOLUTE_URL = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)([^#]*)/i;

function requireString(settings: Settings, name: string, type: string): string {
  const value = settings[name];
  if (typeof value !== 'string' || value === '') throw new Error(`paginate: ${name} is required for ${type} pagination`);
  return value;
}

function toCursor(value: unknown): NextParam {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  return undefined;
}

/**
 * Walks a paginated endpoint: the provider's defaults merged with `config.paginate`, the
 * pagination parameters in the query (GET, DELETE) or the body (POST, PUT, PATCH, or `in_body`).
 * Stops on an empty page, a missing cursor or link, a link or cursor seen before (a loop), or —
 * for offsets — a page shorter than `limit`.
 */
export async function* paginate<T = unknown>(config: ProxyConfiguration, defaults: Settings | undefined, proxy: ProxyFunction): AsyncGenerator<T[], undefined, void> {
  if (typeof config !== 'object' || config === null || typeof config.endpoint !== 'string') throw new TypeError('paginate: config.endpoint must be a string');
  const settings: Settings = { ...(defaults ?? {}), ...((config.paginate as Settings | undefined) ?? {}) };
  const type = settings.type;
  if (type !== 'cursor' && type !== 'link' && type !== 'offset') {
    throw new Error(
      type === undefined
        ? 'paginate: no pagination settings for this provider; pass config.paginate with a type (cursor, link or offset)'
        : `paginate: type ${String(type)} is not supported (cursor, link or offset)`,
    );
  }
  if (type === 'link' && typeof settings.link_rel_in_response_header !== 'string' && typeof settings.link_path_in_response_body !== 'string') {
    throw new Error('paginate: link pagination needs link_rel_in_response_header or link_path_in_response_body');
  }

  const method = (typeof config.method === 'string' ? config.method : 'GET').toUpperCase();
  const inBody = typeof settings.in_body === 'boolean' ? settings.in_body : BODY_METHODS.includes(method);
  const responsePath = typeof settings.response_path === 'string' && settings.response_path !== '' ? settings.response_path : undefined;
  const onPage = typeof settings.on_page === 'function' ? (settings.on_page as (page: { nextPageParam: NextParam; response: ProxyResponse }) => unknown) : undefined;
  const limit = settings.limit === undefined || settings.limit === null || settings.limit === '' ? undefined : settings.limit;
  const limitName = typeof settings.limit_name_in_request === 'string' && settings.limit_name_in_request !== '' ? settings.limit_name_in_request : undefined;

  let body: Record<string, unknown> | undefined;
  let query: Record<string, unknown> | undefined;
  if (inBody) {
    if (config.data !== undefined && (typeof config.data !== 'object' || config.data === null || Array.isArray(config.data))) {
      throw new TypeError('paginate: data must be an object when the pagination parameters go in the body');
    }
    body = { ...((config.data as Record<string, unknown> | undefined) ?? {}) };
  } else {
    query = typeof config.params === 'string' ? parseQueryString(config.params) : { ...(config.params ?? {}) };
  }
  const setParam = (name: string, value: string | number) => {
    if (body !== undefined) body[name] = value;
    else if (query !== undefined) query[name] = String(value);
  };
  if (limit !== undefined && limitName !== undefined) setParam(limitName, limit as string | number);

  let endpoint = config.endpoint;
  let baseUrlOverride = config.baseUrlOverride;
  const { paginate: _settings, ...rest } = config;
  const send = () => {
    const request: ProxyConfiguration = { ...rest, method: method as ProxyConfiguration['method'], endpoint };
    if (baseUrlOverride !== undefined) request.baseUrlOverride = baseUrlOverride;
    if (body !== undefined) request.data = expandDotKeys(body);
    if (query !== undefined) request.params = query as Record<string, string>;
    else if (!inBody) delete request.params;
    return proxy(request);
  };
  const pageOf = (response: ProxyResponse): T[] | undefined => {
    const items = responsePath === undefined ? response.data : readPath(response.data, responsePath);
    if (items === undefined || items === null) return undefined;
    if (!Array.isArray(items)) throw new TypeError(`paginate: expected an array at ${responsePath === undefined ? 'the top of the response body' : `response_path "${responsePath}"`}, got ${typeof items}`);
    return items.length === 0 ? undefined : (items as T[]);
  };

  if (type === 'cursor') {
    const cursorName = requireString(settings, 'cursor_name_in_request', type);
    const cursorPath = requireString(settings, 'cursor_path_in_response', type);
    const used = new Set<NextParam>();
    while (true) {
      const response = await send();
      const page = pageOf(response);
      if (page === undefined) return undefined;
      let next = toCursor(readPath(response.data, cursorPath));
      if (next !== undefined && used.has(next)) next = undefined;
      if (onPage !== undefined) await onPage({ nextPageParam: next, response });
      yield page;
      if (next === undefined) return undefined;
      used.add(next);
      setParam(cursorName, next);
    }
  }

  if (type === 'link') {
    const rel = typeof settings.link_rel_in_response_header === 'string' ? settings.link_rel_in_response_header.toLowerCase() : undefined;
    const bodyPath = typeof settings.link_path_in_response_body === 'string' ? settings.link_path_in_response_body : undefined;
    const followed = new Set<string>();
    while (true) {
      const response = await send();
      const page = pageOf(response);
      if (page === undefined) return undefined;
      const found = rel !== undefined ? parseLinkHeader(response.headers?.link)[rel] : readPath(response.data, bodyPath as string);
      let next = typeof found === 'string' && found.trim() !== '' ? found.trim() : undefined;
      if (next !== undefined && followed.has(next)) next = undefined;
      if (onPage !== undefined) await onPage({ nextPageParam: next, response });
      yield page;
      if (next === undefined) return undefined;
      followed.add(next);
      const absolute = ABSOLUTE_URL.exec(next);
      if (absolute !== null) {
        // A full URL replaces the base as well: the link may point under another path prefix.
        baseUrlOverride = absolute[1] as string;
        endpoint = absolute[2] === '' ? '/' : (absolute[2] as string);
      } else {
        endpoint = next;
      }
      // The link carries its own query.
      query = undefined;
    }
  }

  const offsetName = requireString(settings, 'offset_name_in_request', type);
  const perPage = settings.offset_calculation_method === 'per-page';
  let offset = Number(settings.offset_start_value ?? 0);
  if (!Number.isFinite(offset)) throw new TypeError('paginate: offset_start_value must be a number');
  while (true) {
    setParam(offsetName, offset);
    const response = await send();
    const page = pageOf(response);
    if (page === undefined) return undefined;
    const short = limit !== undefined && page.length < Number(limit);
    const next = short ? undefined : perPage ? offset + 1 : offset + page.length;
    if (onPage !== undefined) await onPage({ nextPageParam: next, response });
    yield page;
    if (next === undefined) return undefined;
    offset = next;
  }
}
