// `querystring` / `node:querystring` inside functions: Node's parse/stringify/escape/unescape,
// in plain JavaScript. Bundled only into functions that import it (runner/bundle.ts).
// Runs INSIDE the sandbox; imports nothing of the platform.

export interface ParsedUrlQuery {
  [key: string]: string | string[] | undefined;
}

export type ParsedUrlQueryInput = Record<string, string | number | boolean | bigint | readonly (string | number | boolean | bigint)[] | null | undefined>;

// Node parses at most 1,000 keys unless told otherwise; so does this.
const DEFAULT_MAX_KEYS = 1000;

export function escape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function unescape(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text.replace(/\+/g, ' ');
  }
}

export function parse(text: string, separator = '&', equals = '=', options: { maxKeys?: number } = {}): ParsedUrlQuery {
  const result: ParsedUrlQuery = Object.create(null) as ParsedUrlQuery;
  if (typeof text !== 'string' || text === '') return result;
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  const pairs = text.split(separator);
  const count = maxKeys > 0 ? Math.min(pairs.length, maxKeys) : pairs.length;
  for (let index = 0; index < count; index++) {
    const pair = pairs[index] as string;
    if (pair === '') continue;
    const at = pair.indexOf(equals);
    const key = unescape(at < 0 ? pair : pair.slice(0, at));
    const value = at < 0 ? '' : unescape(pair.slice(at + equals.length));
    const existing = result[key];
    if (existing === undefined) result[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else result[key] = [existing, value];
  }
  return result;
}

function toText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean' ? String(value) : '';
}

export function stringify(object: ParsedUrlQueryInput | ParsedUrlQuery, separator = '&', equals = '='): string {
  if (typeof object !== 'object' || object === null) return '';
  const parts: string[] = [];
  for (const key of Object.keys(object)) {
    const value = object[key];
    const name = escape(key);
    if (Array.isArray(value)) for (const item of value) parts.push(`${name}${equals}${escape(toText(item))}`);
    else parts.push(`${name}${equals}${escape(toText(value))}`);
  }
  return parts.join(separator);
}

export const decode = parse;
export const encode = stringify;

export default { parse, stringify, escape, unescape, decode, encode };
