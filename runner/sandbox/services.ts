// The synchronous services' computations that need no run state: WHATWG URL and query parsing,
// text codecs, base64, randomness, hashes and HMACs (node:crypto's createHash/createHmac; signatures,
// key derivation and ciphers are crypto-services.ts'). Pure, and bounded: every input is checked against
// guest/bounds.ts (the guest checked first; a service call cannot be interrupted, so its input
// is what bounds its time) and an input over its bound is a RangeError the guest rethrows.
import { createHash, createHmac, getRandomValues, randomUUID } from 'node:crypto';
import { MAX_CODEC_INPUT, MAX_ENCODING_LABEL_CHARS, MAX_HASH_INPUT_BYTES, MAX_HMAC_KEY_BYTES, MAX_QUERY_CHARS, MAX_QUERY_PAIRS, MAX_URL_CHARS } from './guest/bounds.js';
import type { UrlParts } from './guest/protocol.js';
import { boundedBytes, serveCrypto, toHashAlgorithm } from './crypto-services.js';

const URL_SETTERS: ReadonlySet<string> = new Set(['protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);
// WebCrypto's bound for one getRandomValues call.
const MAX_RANDOM_BYTES = 65536;

const encoder = new TextEncoder();

/** `value` as a string of at most `maxChars`, else the RangeError the guest rethrows. */
function boundedText(value: unknown, maxChars: number, what: string): string {
  const text = String(value);
  if (text.length > maxChars) throw new RangeError(`${what} is longer than ${maxChars} characters.`);
  return text;
}

/** Non-empty `&`-separated segments of `query`, counted until one past `max` (WHATWG URL §5.1 skips empty ones). */
function countQueryPairs(query: string, max: number): number {
  let pairs = 0;
  let start = 0;
  while (start <= query.length && pairs <= max) {
    const end = query.indexOf('&', start);
    const stop = end < 0 ? query.length : end;
    if (stop > start) pairs++;
    start = stop + 1;
  }
  return pairs;
}

function checkedUrl(url: URL): UrlParts {
  if (url.href.length > MAX_URL_CHARS) throw new RangeError(`The URL is longer than ${MAX_URL_CHARS} characters.`);
  return toUrlParts(url);
}

function toUrlParts(url: URL): UrlParts {
  return {
    href: url.href,
    origin: url.origin,
    protocol: url.protocol,
    username: url.username,
    password: url.password,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    pathname: url.pathname,
    search: url.search,
    hash: url.hash,
  };
}

/** One pure service: `name` with its arguments as the guest sent them. Throws what the guest rethrows. */
export function servePure(name: unknown, a: unknown, b: unknown, c: unknown, d: unknown): unknown {
  switch (name) {
    case 'url.parse': {
      const input = boundedText(a, MAX_URL_CHARS, 'The URL');
      const base = b === undefined ? undefined : boundedText(b, MAX_URL_CHARS, 'The base URL');
      let url: URL;
      try {
        url = new URL(input, base);
      } catch {
        return null;
      }
      return checkedUrl(url);
    }
    case 'url.set': {
      const url = new URL(boundedText(a, MAX_URL_CHARS, 'The URL'));
      if (typeof b !== 'string' || !URL_SETTERS.has(b)) throw new TypeError('Unknown URL component');
      (url as unknown as Record<string, string>)[b] = boundedText(c, MAX_URL_CHARS, `The URL's ${b}`);
      return checkedUrl(url);
    }
    case 'search.parse': {
      const query = boundedText(a, MAX_QUERY_CHARS, 'The query string');
      if (countQueryPairs(query, MAX_QUERY_PAIRS) > MAX_QUERY_PAIRS) throw new RangeError(`The query string has more than ${MAX_QUERY_PAIRS} pairs.`);
      return [...new URLSearchParams(query)];
    }
    case 'search.serialize': {
      if (!Array.isArray(a)) throw new TypeError('Expected a list of pairs');
      if (a.length > MAX_QUERY_PAIRS) throw new RangeError(`The query string has more than ${MAX_QUERY_PAIRS} pairs.`);
      let chars = 0;
      const pairs = a.map((pair): [string, string] => {
        const name = String((pair as unknown[])[0]);
        const value = String((pair as unknown[])[1]);
        chars += name.length + value.length + 2;
        return [name, value];
      });
      if (chars > MAX_QUERY_CHARS) throw new RangeError(`The query string is longer than ${MAX_QUERY_CHARS} characters.`);
      return new URLSearchParams(pairs).toString();
    }
    case 'text.encode':
      return encoder.encode(boundedText(a, MAX_CODEC_INPUT, 'The text'));
    case 'text.decode': {
      const decoder = new TextDecoder(boundedText(b, MAX_ENCODING_LABEL_CHARS, 'The encoding label'), { fatal: c === true, ignoreBOM: d === true });
      if (a === null) return decoder.encoding;
      if (!(a instanceof Uint8Array)) throw new TypeError('Expected bytes');
      if (a.byteLength > MAX_CODEC_INPUT) throw new RangeError(`The input is larger than ${MAX_CODEC_INPUT} bytes.`);
      return decoder.decode(a);
    }
    case 'base64.encode':
      return btoa(boundedText(a, MAX_CODEC_INPUT, 'The string'));
    case 'base64.decode':
      return atob(boundedText(a, MAX_CODEC_INPUT, 'The string'));
    case 'crypto.uuid':
      return randomUUID();
    case 'crypto.random': {
      const size = Number(a);
      if (!Number.isInteger(size) || size < 0 || size > MAX_RANDOM_BYTES) throw new RangeError('Bad size');
      return getRandomValues(new Uint8Array(size));
    }
    case 'crypto.hash': {
      const digest = createHash(toHashAlgorithm(a)).update(boundedBytes(b, MAX_HASH_INPUT_BYTES, 'The data')).digest();
      // A copy: a Buffer may view a pool shared with unrelated bytes, and the whole pool would cross.
      return new Uint8Array(digest);
    }
    case 'crypto.hmac': {
      const digest = createHmac(toHashAlgorithm(a), boundedBytes(b, MAX_HMAC_KEY_BYTES, 'The key')).update(boundedBytes(c, MAX_HASH_INPUT_BYTES, 'The data')).digest();
      return new Uint8Array(digest);
    }
    default: {
      const served = serveCrypto(name, a, b, c, d);
      if (served === undefined) throw new TypeError('Unknown service');
      return served.value;
    }
  }
}
