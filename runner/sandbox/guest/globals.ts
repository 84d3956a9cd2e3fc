// The web globals a function may use (URL, URLSearchParams, TextEncoder/Decoder, atob/btoa,
// structuredClone, crypto, Headers, Response, timers, console), and the host primitives the
// bundled node:crypto shim (sdk/node/crypto.ts) uses: small classes whose hard parts (WHATWG parsing,
// encodings, randomness) the host does through synchronous services. An input over its bound
// (bounds.ts) is refused here with a RangeError, before it is copied out. Runs INSIDE the isolate.
import {
  MAX_CIPHER_IV_BYTES,
  MAX_CODEC_INPUT,
  MAX_CRYPTO_KEY_BYTES,
  MAX_ENCODING_LABEL_CHARS,
  MAX_HASH_INPUT_BYTES,
  MAX_HMAC_KEY_BYTES,
  MAX_LOG_MESSAGE_CHARS,
  MAX_QUERY_CHARS,
  MAX_QUERY_PAIRS,
  MAX_RANDOM_BYTES_TOTAL,
  MAX_URL_CHARS,
} from './bounds.js';
import { callService, waitTimer } from './channel.js';
import { structuredClone } from './clone.js';
import {
  arrayBufferIsView,
  ArrayBufferCtor,
  indexOf,
  jsonParse,
  jsonStringify,
  MapCtor,
  objectDefineProperty,
  objectKeys,
  push,
  RangeErrorCtor,
  reflectApply,
  slice,
  StringCtor,
  TypeErrorCtor,
  Uint8ArrayCtor,
} from './intrinsics.js';
import type { UrlParts } from './protocol.js';

/** `text`, unless it is longer than `maxChars`: then the RangeError the host would throw, without the copy. */
function bounded(text: string, maxChars: number, what: string): string {
  if (text.length > maxChars) throw new RangeErrorCtor(`${what} is longer than ${maxChars} characters.`);
  return text;
}

/** Non-empty `&`-separated segments, counted until one past `max` (as services.ts counts them). */
function countPairs(query: string, max: number): number {
  let pairs = 0;
  let start = 0;
  while (start <= query.length && pairs <= max) {
    const end = indexOf(query, '&', start);
    const stop = end < 0 ? query.length : end;
    if (stop > start) pairs++;
    start = stop + 1;
  }
  return pairs;
}

// ───────────────────────── URLSearchParams ─────────────────────────

type Pair = [string, string];

let replaceList: (params: URLSearchParams, query: string) => void;
let linkOwner: (params: URLSearchParams, onChange: (query: string) => void) => void;

function parseQuery(query: string): Pair[] {
  bounded(query, MAX_QUERY_CHARS, 'The query string');
  if (countPairs(query, MAX_QUERY_PAIRS) > MAX_QUERY_PAIRS) throw new RangeErrorCtor(`The query string has more than ${MAX_QUERY_PAIRS} pairs.`);
  return callService('search.parse', query) as Pair[];
}

export class URLSearchParams {
  #list: Pair[] = [];
  #onChange: ((query: string) => void) | undefined;

  static {
    replaceList = (params, query) => {
      params.#list = parseQuery(query);
    };
    linkOwner = (params, onChange) => {
      params.#onChange = onChange;
    };
  }

  constructor(init?: unknown) {
    if (init === undefined || init === null) return;
    if (init instanceof URLSearchParams) {
      this.#list = init.#list.map(([name, value]) => [name, value]);
    } else if (typeof init === 'object' || typeof init === 'function') {
      const iterator = (init as { [Symbol.iterator]?: unknown })[Symbol.iterator];
      if (typeof iterator === 'function') {
        for (const pair of init as Iterable<unknown>) {
          const items = typeof pair === 'object' && pair !== null ? [...(pair as Iterable<unknown>)] : [];
          if (items.length !== 2) throw new TypeErrorCtor('Each query pair must be an iterable [name, value] tuple');
          push(this.#list, [StringCtor(items[0]), StringCtor(items[1])]);
        }
      } else {
        for (const key of objectKeys(init)) push(this.#list, [key, StringCtor((init as Record<string, unknown>)[key])]);
      }
    } else {
      const text = StringCtor(init);
      this.#list = parseQuery(text.startsWith('?') ? slice(text, 1) : text);
    }
  }

  get size(): number {
    return this.#list.length;
  }

  append(name: string, value: string): void {
    push(this.#list, [StringCtor(name), StringCtor(value)]);
    this.#update();
  }

  delete(name: string, value?: string): void {
    const key = StringCtor(name);
    const match = value === undefined ? undefined : StringCtor(value);
    this.#list = this.#list.filter(([n, v]) => n !== key || (match !== undefined && v !== match));
    this.#update();
  }

  get(name: string): string | null {
    const key = StringCtor(name);
    const found = this.#list.find(([n]) => n === key);
    return found === undefined ? null : found[1];
  }

  getAll(name: string): string[] {
    const key = StringCtor(name);
    return this.#list.filter(([n]) => n === key).map(([, v]) => v);
  }

  has(name: string, value?: string): boolean {
    const key = StringCtor(name);
    const match = value === undefined ? undefined : StringCtor(value);
    return this.#list.some(([n, v]) => n === key && (match === undefined || v === match));
  }

  set(name: string, value: string): void {
    const key = StringCtor(name);
    const text = StringCtor(value);
    const at = this.#list.findIndex(([n]) => n === key);
    if (at < 0) push(this.#list, [key, text]);
    else {
      this.#list[at] = [key, text];
      this.#list = this.#list.filter(([n], index) => n !== key || index === at);
    }
    this.#update();
  }

  sort(): void {
    // Stable, by UTF-16 code units of the names (WHATWG URL §6.2).
    this.#list = this.#list.map((pair, index) => ({ pair, index })).sort((a, b) => (a.pair[0] < b.pair[0] ? -1 : a.pair[0] > b.pair[0] ? 1 : a.index - b.index)).map(({ pair }) => pair);
    this.#update();
  }

  forEach(callback: (value: string, name: string, params: URLSearchParams) => void, thisArg?: unknown): void {
    for (let index = 0; index < this.#list.length; index++) {
      const [name, value] = this.#list[index] as Pair;
      reflectApply(callback, thisArg, [value, name, this]);
    }
  }

  *entries(): IterableIterator<[string, string]> {
    for (let index = 0; index < this.#list.length; index++) {
      const [name, value] = this.#list[index] as Pair;
      yield [name, value];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  toString(): string {
    const list = this.#list;
    if (list.length === 0) return '';
    if (list.length > MAX_QUERY_PAIRS) throw new RangeErrorCtor(`The query string has more than ${MAX_QUERY_PAIRS} pairs.`);
    let chars = 0;
    for (let index = 0; index < list.length; index++) {
      const [name, value] = list[index] as Pair;
      chars += name.length + value.length + 2;
    }
    if (chars > MAX_QUERY_CHARS) throw new RangeErrorCtor(`The query string is longer than ${MAX_QUERY_CHARS} characters.`);
    return callService('search.serialize', list) as string;
  }

  get [Symbol.toStringTag](): string {
    return 'URLSearchParams';
  }

  #update(): void {
    this.#onChange?.(this.toString());
  }
}

// ───────────────────────── URL ─────────────────────────

const SETTABLE = ['protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'] as const;
type Settable = (typeof SETTABLE)[number];

function parseUrl(input: unknown, base: unknown): UrlParts | null {
  const text = bounded(StringCtor(input), MAX_URL_CHARS, 'The URL');
  return callService('url.parse', text, base === undefined ? undefined : bounded(StringCtor(base), MAX_URL_CHARS, 'The base URL')) as UrlParts | null;
}

export class URL {
  #parts: UrlParts;
  #searchParams: URLSearchParams | undefined;

  constructor(url: unknown, base?: unknown) {
    const parts = parseUrl(url, base);
    if (parts === null) throw new TypeErrorCtor(`Invalid URL: ${StringCtor(url)}`);
    this.#parts = parts;
  }

  static canParse(url: unknown, base?: unknown): boolean {
    // Too long to be a URL here: `new URL` would throw, so it cannot be parsed.
    if (StringCtor(url).length > MAX_URL_CHARS || (base !== undefined && StringCtor(base).length > MAX_URL_CHARS)) return false;
    return parseUrl(url, base) !== null;
  }

  get href(): string {
    return this.#parts.href;
  }
  set href(value: string) {
    const parts = parseUrl(value, undefined);
    if (parts === null) throw new TypeErrorCtor(`Invalid URL: ${StringCtor(value)}`);
    this.#replace(parts);
  }
  get origin(): string {
    return this.#parts.origin;
  }
  get protocol(): string {
    return this.#parts.protocol;
  }
  set protocol(value: string) {
    this.#set('protocol', value);
  }
  get username(): string {
    return this.#parts.username;
  }
  set username(value: string) {
    this.#set('username', value);
  }
  get password(): string {
    return this.#parts.password;
  }
  set password(value: string) {
    this.#set('password', value);
  }
  get host(): string {
    return this.#parts.host;
  }
  set host(value: string) {
    this.#set('host', value);
  }
  get hostname(): string {
    return this.#parts.hostname;
  }
  set hostname(value: string) {
    this.#set('hostname', value);
  }
  get port(): string {
    return this.#parts.port;
  }
  set port(value: string) {
    this.#set('port', value);
  }
  get pathname(): string {
    return this.#parts.pathname;
  }
  set pathname(value: string) {
    this.#set('pathname', value);
  }
  get search(): string {
    return this.#parts.search;
  }
  set search(value: string) {
    this.#set('search', value);
  }
  get hash(): string {
    return this.#parts.hash;
  }
  set hash(value: string) {
    this.#set('hash', value);
  }

  /** Live: changing it changes `search` and `href`, and the other way round. */
  get searchParams(): URLSearchParams {
    if (this.#searchParams === undefined) {
      const params = new URLSearchParams(this.#parts.search);
      linkOwner(params, (query) => {
        this.#parts = callService('url.set', this.#parts.href, 'search', bounded(query, MAX_URL_CHARS, "The URL's search")) as UrlParts;
      });
      this.#searchParams = params;
    }
    return this.#searchParams;
  }

  toString(): string {
    return this.#parts.href;
  }
  toJSON(): string {
    return this.#parts.href;
  }
  get [Symbol.toStringTag](): string {
    return 'URL';
  }

  #set(name: Settable, value: unknown): void {
    this.#replace(callService('url.set', this.#parts.href, name, bounded(StringCtor(value), MAX_URL_CHARS, `The URL's ${name}`)) as UrlParts);
  }

  #replace(parts: UrlParts): void {
    const searchChanged = parts.search !== this.#parts.search;
    this.#parts = parts;
    if (searchChanged && this.#searchParams !== undefined) replaceList(this.#searchParams, parts.search.startsWith('?') ? slice(parts.search, 1) : parts.search);
  }
}

// ───────────────────────── encodings ─────────────────────────

function toBytes(input: unknown): Uint8Array {
  if (input === undefined) return new Uint8ArrayCtor(0);
  if (input instanceof ArrayBufferCtor) return new Uint8ArrayCtor(input);
  if (arrayBufferIsView(input)) return new Uint8ArrayCtor(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeErrorCtor('The input must be an ArrayBuffer or an ArrayBufferView');
}

export class TextEncoder {
  get encoding(): string {
    return 'utf-8';
  }

  encode(input: unknown = ''): Uint8Array {
    return callService('text.encode', bounded(StringCtor(input), MAX_CODEC_INPUT, 'The text')) as Uint8Array;
  }

  /** Writes as many whole UTF-8 sequences of `source` as fit in `destination`. */
  encodeInto(source: unknown, destination: Uint8Array): { read: number; written: number } {
    const text = StringCtor(source);
    let read = 0;
    let written = 0;
    while (read < text.length) {
      let code = text.charCodeAt(read);
      let units = 1;
      if (code >= 0xd800 && code <= 0xdbff && read + 1 < text.length) {
        const low = text.charCodeAt(read + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          units = 2;
        } else code = 0xfffd;
      } else if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
      const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
      if (written + size > destination.length) break;
      if (size === 1) destination[written] = code;
      else if (size === 2) {
        destination[written] = 0xc0 | (code >> 6);
        destination[written + 1] = 0x80 | (code & 0x3f);
      } else if (size === 3) {
        destination[written] = 0xe0 | (code >> 12);
        destination[written + 1] = 0x80 | ((code >> 6) & 0x3f);
        destination[written + 2] = 0x80 | (code & 0x3f);
      } else {
        destination[written] = 0xf0 | (code >> 18);
        destination[written + 1] = 0x80 | ((code >> 12) & 0x3f);
        destination[written + 2] = 0x80 | ((code >> 6) & 0x3f);
        destination[written + 3] = 0x80 | (code & 0x3f);
      }
      written += size;
      read += units;
    }
    return { read, written };
  }

  get [Symbol.toStringTag](): string {
    return 'TextEncoder';
  }
}

/** Bytes at the end of `bytes` that start a sequence the next chunk completes (stream mode). */
function incompleteTail(bytes: Uint8Array, encoding: string): number {
  if (encoding === 'utf-16le' || encoding === 'utf-16be') return bytes.length % 2;
  if (encoding !== 'utf-8') return 0;
  for (let back = 1; back <= 3 && back <= bytes.length; back++) {
    const byte = bytes[bytes.length - back] as number;
    if ((byte & 0xc0) === 0x80) continue;
    const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return size > back ? back : 0;
  }
  return 0;
}

export class TextDecoder {
  readonly #encoding: string;
  readonly #fatal: boolean;
  readonly #ignoreBOM: boolean;
  #pending: Uint8Array | undefined;
  #started = false;

  constructor(label: unknown = 'utf-8', options: { fatal?: boolean; ignoreBOM?: boolean } = {}) {
    this.#fatal = options?.fatal === true;
    this.#ignoreBOM = options?.ignoreBOM === true;
    this.#encoding = callService('text.decode', null, bounded(StringCtor(label), MAX_ENCODING_LABEL_CHARS, 'The encoding label'), this.#fatal, this.#ignoreBOM) as string;
  }

  get encoding(): string {
    return this.#encoding;
  }
  get fatal(): boolean {
    return this.#fatal;
  }
  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  decode(input?: unknown, options: { stream?: boolean } = {}): string {
    let bytes = toBytes(input);
    if (this.#pending !== undefined) {
      const joined = new Uint8ArrayCtor(this.#pending.length + bytes.length);
      joined.set(this.#pending);
      joined.set(bytes, this.#pending.length);
      bytes = joined;
      this.#pending = undefined;
    }
    const stream = options?.stream === true;
    if (stream) {
      const tail = incompleteTail(bytes, this.#encoding);
      if (tail > 0) {
        this.#pending = bytes.slice(bytes.length - tail);
        bytes = bytes.subarray(0, bytes.length - tail);
      }
    }
    if (bytes.length > MAX_CODEC_INPUT) throw new RangeErrorCtor(`The input is larger than ${MAX_CODEC_INPUT} bytes.`);
    // A BOM is only a BOM at the start of the stream; later U+FEFF are text.
    const text = callService('text.decode', bytes.slice(), this.#encoding, this.#fatal, this.#ignoreBOM || this.#started) as string;
    this.#started = stream;
    return text;
  }

  get [Symbol.toStringTag](): string {
    return 'TextDecoder';
  }
}

export function btoa(data: unknown): string {
  if (arguments.length === 0) throw new TypeErrorCtor('btoa requires 1 argument');
  return callService('base64.encode', bounded(StringCtor(data), MAX_CODEC_INPUT, 'The string')) as string;
}

export function atob(data: unknown): string {
  if (arguments.length === 0) throw new TypeErrorCtor('atob requires 1 argument');
  return callService('base64.decode', bounded(StringCtor(data), MAX_CODEC_INPUT, 'The string')) as string;
}


// ───────────────────────── crypto ─────────────────────────

// WebCrypto's bound for one getRandomValues call (QuotaExceededError beyond it).
const MAX_RANDOM_BYTES = 65536;

const INTEGER_ARRAYS = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'];

export const crypto = {
  randomUUID(): string {
    return callService('crypto.uuid') as string;
  },
  getRandomValues<T extends ArrayBufferView>(array: T): T {
    const kind = arrayBufferIsView(array) ? (array as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] : undefined;
    if (kind === undefined || !INTEGER_ARRAYS.includes(kind)) {
      const error = new TypeErrorCtor('getRandomValues needs an integer typed array');
      error.name = 'TypeMismatchError';
      throw error;
    }
    if (array.byteLength > MAX_RANDOM_BYTES) {
      const error = new TypeErrorCtor(`getRandomValues accepts at most ${MAX_RANDOM_BYTES} bytes`);
      error.name = 'QuotaExceededError';
      throw error;
    }
    const random = callService('crypto.random', array.byteLength) as Uint8Array;
    new Uint8ArrayCtor(array.buffer, array.byteOffset, array.byteLength).set(random);
    return array;
  },
};

// ───────────────────────── node:crypto primitives ─────────────────────────

/**
 * What sdk/node/crypto.ts (bundled into functions that import `crypto`) builds createHash,
 * createHmac, randomBytes, signatures, pbkdf2 and ciphers on. Found under NODE_PRIMITIVES_KEY, a registered symbol: not a
 * global name user code lists or collides with.
 */
export const NODE_PRIMITIVES_KEY = Symbol.for('patchbay.node');

function hashName(algorithm: unknown): string {
  return bounded(StringCtor(algorithm), 32, 'The algorithm name');
}

function hashInput(data: Uint8Array, max: number, what: string): Uint8Array {
  if (!(data instanceof Uint8ArrayCtor)) throw new TypeErrorCtor(`${what} must be a Uint8Array`);
  if (data.byteLength > max) throw new RangeErrorCtor(`${what} is larger than ${max} bytes.`);
  // Exactly its bytes: a view of a larger buffer would copy all of it.
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
}

export const nodePrimitives = Object.freeze({
  hash(algorithm: unknown, data: Uint8Array): Uint8Array {
    return callService('crypto.hash', hashName(algorithm), hashInput(data, MAX_HASH_INPUT_BYTES, 'The data')) as Uint8Array;
  },
  hmac(algorithm: unknown, key: Uint8Array, data: Uint8Array): Uint8Array {
    return callService('crypto.hmac', hashName(algorithm), hashInput(key, MAX_HMAC_KEY_BYTES, 'The key'), hashInput(data, MAX_HASH_INPUT_BYTES, 'The data')) as Uint8Array;
  },
  randomBytes(size: number): Uint8Array {
    if (!Number.isInteger(size) || size < 0 || size > MAX_RANDOM_BYTES_TOTAL) throw new RangeErrorCtor(`The size must be an integer from 0 to ${MAX_RANDOM_BYTES_TOTAL}.`);
    const bytes = new Uint8ArrayCtor(size);
    for (let offset = 0; offset < size; offset += MAX_RANDOM_BYTES) {
      bytes.set(callService('crypto.random', Math.min(MAX_RANDOM_BYTES, size - offset)) as Uint8Array, offset);
    }
    return bytes;
  },
  /** `key`: `{key: bytes, format?, type?, passphrase?, dsaEncoding?, padding?, saltLength?}` (crypto-services.ts checks each). */
  sign(algorithm: unknown, key: { key: Uint8Array; passphrase?: Uint8Array }, data: Uint8Array): Uint8Array {
    return callService('crypto.sign', signatureAlgorithm(algorithm), keySpec(key), hashInput(data, MAX_HASH_INPUT_BYTES, 'The data')) as Uint8Array;
  },
  verify(algorithm: unknown, key: { key: Uint8Array; passphrase?: Uint8Array }, data: Uint8Array, signature: Uint8Array): boolean {
    return callService('crypto.verify', signatureAlgorithm(algorithm), keySpec(key), hashInput(data, MAX_HASH_INPUT_BYTES, 'The data'), hashInput(signature, MAX_CRYPTO_KEY_BYTES, 'The signature')) === true;
  },
  pbkdf2(password: Uint8Array, salt: Uint8Array, iterations: number, keylen: number, digest: unknown): Uint8Array {
    return callService('crypto.pbkdf2', hashInput(password, MAX_CRYPTO_KEY_BYTES, 'The password'), hashInput(salt, MAX_CRYPTO_KEY_BYTES, 'The salt'), iterations, { keylen, digest: hashName(digest) }) as Uint8Array;
  },
  cipher(direction: 'encrypt' | 'decrypt', options: { algorithm: string; key: Uint8Array; iv: Uint8Array; aad?: Uint8Array; authTag?: Uint8Array; authTagLength?: number; autoPadding?: boolean }, data: Uint8Array): { data: Uint8Array; authTag?: Uint8Array } {
    const spec: Record<string, unknown> = { algorithm: hashName(options.algorithm), key: hashInput(options.key, MAX_CRYPTO_KEY_BYTES, 'The key'), iv: hashInput(options.iv, MAX_CIPHER_IV_BYTES, 'The iv') };
    if (options.aad !== undefined) spec.aad = hashInput(options.aad, MAX_HASH_INPUT_BYTES, 'The AAD');
    if (options.authTag !== undefined) spec.authTag = hashInput(options.authTag, MAX_CRYPTO_KEY_BYTES, 'The auth tag');
    if (options.authTagLength !== undefined) spec.authTagLength = options.authTagLength;
    if (options.autoPadding === false) spec.autoPadding = false;
    return callService('crypto.cipher', direction, spec, hashInput(data, MAX_HASH_INPUT_BYTES, 'The data')) as { data: Uint8Array; authTag?: Uint8Array };
  },
});

function signatureAlgorithm(algorithm: unknown): string | null {
  return algorithm === null || algorithm === undefined ? null : hashName(algorithm);
}

/** A key's description with only plain fields and exact bytes: what crosses to the host. */
function keySpec(key: Record<string, unknown> & { key: Uint8Array; passphrase?: Uint8Array }): Record<string, unknown> {
  const spec: Record<string, unknown> = { key: hashInput(key.key, MAX_CRYPTO_KEY_BYTES, 'The key') };
  for (const name of ['format', 'type', 'dsaEncoding'] as const) if (typeof key[name] === 'string') spec[name] = key[name];
  for (const name of ['padding', 'saltLength'] as const) if (typeof key[name] === 'number') spec[name] = key[name];
  if (key.passphrase !== undefined) spec.passphrase = hashInput(key.passphrase, 1024, 'The passphrase');
  return spec;
}

// ───────────────────────── Headers and Response ─────────────────────────

type HeadersInit = Headers | Record<string, string> | Iterable<readonly [string, string]>;

// RFC 9110 §5.1 field names and §5.5 values (no CR, LF or NUL), as fetch's Headers checks them.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;

function headerName(name: unknown): string {
  const text = StringCtor(name);
  if (!HEADER_NAME.test(text)) throw new TypeErrorCtor(`Invalid header name: ${slice(text, 0, 100)}`);
  return text.toLowerCase();
}

function headerValue(value: unknown): string {
  const text = StringCtor(value).trim();
  if (HEADER_VALUE_FORBIDDEN.test(text)) throw new TypeErrorCtor('Invalid header value');
  return text;
}

/** fetch's Headers: case-insensitive, combined with `, ` on get, iterated sorted by name. */
export class Headers {
  #list: Pair[] = [];

  constructor(init?: HeadersInit) {
    if (init === undefined || init === null) return;
    if (init instanceof Headers) {
      this.#list = init.#list.map(([name, value]) => [name, value]);
      return;
    }
    const iterator = (init as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (typeof iterator === 'function') {
      for (const pair of init as Iterable<unknown>) {
        const items = typeof pair === 'object' && pair !== null ? [...(pair as Iterable<unknown>)] : [];
        if (items.length !== 2) throw new TypeErrorCtor('Each header must be a [name, value] pair');
        this.append(items[0] as string, items[1] as string);
      }
      return;
    }
    for (const name of objectKeys(init)) this.append(name, (init as Record<string, string>)[name] as string);
  }

  append(name: string, value: string): void {
    push(this.#list, [headerName(name), headerValue(value)]);
  }

  delete(name: string): void {
    const key = headerName(name);
    this.#list = this.#list.filter(([n]) => n !== key);
  }

  get(name: string): string | null {
    const key = headerName(name);
    const values = this.#list.filter(([n]) => n === key).map(([, v]) => v);
    return values.length === 0 ? null : values.join(', ');
  }

  getSetCookie(): string[] {
    return this.#list.filter(([n]) => n === 'set-cookie').map(([, v]) => v);
  }

  has(name: string): boolean {
    const key = headerName(name);
    return this.#list.some(([n]) => n === key);
  }

  set(name: string, value: string): void {
    const key = headerName(name);
    this.#list = this.#list.filter(([n]) => n !== key);
    push(this.#list, [key, headerValue(value)]);
  }

  forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void {
    for (const [name, value] of this.entries()) reflectApply(callback, thisArg, [value, name, this]);
  }

  *entries(): IterableIterator<[string, string]> {
    const names = [...new Set(this.#list.map(([name]) => name))].sort();
    for (const name of names) {
      if (name === 'set-cookie') for (const cookie of this.getSetCookie()) yield [name, cookie];
      else yield [name, this.get(name) as string];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Headers';
  }
}

type ResponseBody = string | ArrayBuffer | ArrayBufferView | URLSearchParams | null | undefined;

interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: HeadersInit;
}

let setResponseSource: (response: Response, url: string, redirected: boolean) => void;

/** fetch's Response, with its body held whole (what nango.uncontrolledFetch answers). */
export class Response {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly type = 'basic' as const;
  #url = '';
  #redirected = false;
  #body: Uint8Array | null;
  #used = false;

  static {
    setResponseSource = (response, url, redirected) => {
      response.#url = url;
      response.#redirected = redirected;
    };
  }

  constructor(body?: ResponseBody, init: ResponseInit = {}) {
    const status = init?.status ?? 200;
    if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeErrorCtor(`The status ${StringCtor(status)} is not between 200 and 599`);
    this.status = status;
    this.statusText = init?.statusText === undefined ? '' : StringCtor(init.statusText);
    this.headers = new Headers(init?.headers);
    if (body === undefined || body === null) this.#body = null;
    else if (body instanceof ArrayBufferCtor) this.#body = new Uint8ArrayCtor(body.slice(0));
    else if (arrayBufferIsView(body)) this.#body = new Uint8ArrayCtor(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
    else {
      this.#body = new TextEncoder().encode(StringCtor(body));
      if (!this.headers.has('content-type')) this.headers.set('content-type', body instanceof URLSearchParams ? 'application/x-www-form-urlencoded;charset=UTF-8' : 'text/plain;charset=UTF-8');
    }
  }

  static json(data: unknown, init: ResponseInit = {}): Response {
    const response = new Response(jsonStringify(data), init);
    response.headers.set('content-type', 'application/json');
    return response;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status <= 299;
  }
  get url(): string {
    return this.#url;
  }
  get redirected(): boolean {
    return this.#redirected;
  }
  get bodyUsed(): boolean {
    return this.#used;
  }
  /** The body is held whole; there is no stream to read. */
  get body(): null {
    return null;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.#consume();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return this.#consume().slice();
  }

  async text(): Promise<string> {
    const bytes = this.#consume();
    return bytes.byteLength === 0 ? '' : new TextDecoder().decode(bytes);
  }

  async json(): Promise<any> {
    return jsonParse(await this.text());
  }

  clone(): Response {
    if (this.#used) throw new TypeErrorCtor('Response.clone: the body has already been read');
    const copy = new Response(this.#body, { status: this.status, statusText: this.statusText, headers: this.headers });
    setResponseSource(copy, this.#url, this.#redirected);
    return copy;
  }

  get [Symbol.toStringTag](): string {
    return 'Response';
  }

  #consume(): Uint8Array {
    if (this.#used) throw new TypeErrorCtor('The body has already been read');
    this.#used = true;
    return this.#body ?? new Uint8ArrayCtor(0);
  }
}

/** The Response nango.uncontrolledFetch resolves with, built from the host's plain answer. */
export function buildFetchResponse(answer: { status: number; url: string; redirected: boolean; headers: [string, string][]; body: Uint8Array }): Response {
  // fetch answers statuses Response's constructor refuses (1xx never reach here; 0 never does).
  const response = new Response(answer.body.byteLength === 0 ? null : answer.body, { status: answer.status >= 200 ? answer.status : 200, headers: answer.headers });
  if (answer.status < 200) objectDefineProperty(response, 'status', { value: answer.status });
  setResponseSource(response, answer.url, answer.redirected);
  return response;
}

// ───────────────────────── timers ─────────────────────────

// Each pending timer holds a host timer and a guest closure: 10,000 is far above honest use
// (a paginating sync waits on one or two) and bounds what a runaway loop can pin.
const MAX_PENDING_TIMERS = 10_000;
// Node's bound: larger delays are treated as 1 ms.
const MAX_DELAY_MS = 2_147_483_647;

interface Timer {
  callback: (...args: unknown[]) => void;
  args: unknown[];
  intervalMs: number | undefined;
}

const timers = new MapCtor<number, Timer>();
let nextTimerId = 1;
let reportUncaught: (error: unknown) => void = () => undefined;

/** Where an exception thrown by a timer callback goes: it fails the run, as it would crash Node. */
export function onUncaughtTimerError(report: (error: unknown) => void): void {
  reportUncaught = report;
}

function toDelay(value: unknown, minimum: number): number {
  const delay = Number(value);
  if (!(delay >= minimum) || delay > MAX_DELAY_MS) return minimum;
  return Math.floor(delay);
}

function arm(id: number, delayMs: number): void {
  waitTimer(id, delayMs).then(
    (fired) => {
      const timer = timers.get(id);
      if (!fired || timer === undefined) return;
      if (timer.intervalMs === undefined) timers.delete(id);
      else arm(id, timer.intervalMs);
      try {
        reflectApply(timer.callback, undefined, timer.args);
      } catch (error) {
        reportUncaught(error);
      }
    },
    () => undefined,
  );
}

function schedule(callback: unknown, delay: unknown, args: unknown[], repeat: boolean): number {
  if (typeof callback !== 'function') throw new TypeErrorCtor('The callback must be a function');
  if (timers.size >= MAX_PENDING_TIMERS) throw new TypeErrorCtor(`Too many pending timers (${MAX_PENDING_TIMERS})`);
  const id = nextTimerId++;
  const delayMs = toDelay(delay, repeat ? 1 : 0);
  timers.set(id, { callback: callback as Timer['callback'], args, intervalMs: repeat ? delayMs : undefined });
  arm(id, delayMs);
  return id;
}

function cancel(id: unknown): void {
  const key = typeof id === 'number' ? id : Number(id);
  if (!timers.delete(key)) return;
  callService('timer.clear', key);
}

export function setTimeout(callback: unknown, delay?: unknown, ...args: unknown[]): number {
  return schedule(callback, delay, args, false);
}
export function setInterval(callback: unknown, delay?: unknown, ...args: unknown[]): number {
  return schedule(callback, delay, args, true);
}
export const clearTimeout = cancel;
export const clearInterval = cancel;

// ───────────────────────── console ─────────────────────────

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.stack !== undefined && value.stack !== '' ? StringCtor(value.stack) : `${value.name}: ${value.message}`;
  if (typeof value === 'function') return `[Function ${(value as { name?: string }).name || '(anonymous)'}]`;
  if (typeof value === 'bigint') return `${StringCtor(value)}n`;
  if (typeof value === 'symbol' || value === undefined) return StringCtor(value);
  try {
    const text = jsonStringify(value);
    return text === undefined ? StringCtor(value) : text;
  } catch {
    try {
      return StringCtor(value);
    } catch {
      return '[unprintable]';
    }
  }
}

export function formatMessage(args: unknown[]): string {
  let text = '';
  for (let index = 0; index < args.length; index++) {
    text += (index === 0 ? '' : ' ') + formatValue(args[index]);
    if (text.length > MAX_LOG_MESSAGE_CHARS) break;
  }
  return text.length > MAX_LOG_MESSAGE_CHARS ? `${slice(text, 0, MAX_LOG_MESSAGE_CHARS)}…` : text;
}

export function writeLog(level: 'debug' | 'info' | 'warn' | 'error', message: string, meta?: unknown): void {
  // Cut before it crosses: the host keeps shorter lines anyway, and a 100 MB string should not be
  // copied to learn that.
  callService('log', level, message.length > MAX_LOG_MESSAGE_CHARS ? `${slice(message, 0, MAX_LOG_MESSAGE_CHARS)}…` : message, meta);
}

const consoleMethod =
  (level: 'debug' | 'info' | 'warn' | 'error') =>
  (...args: unknown[]): void =>
    writeLog(level, formatMessage(args));

export const console = {
  log: consoleMethod('info'),
  info: consoleMethod('info'),
  debug: consoleMethod('debug'),
  trace: consoleMethod('debug'),
  warn: consoleMethod('warn'),
  error: consoleMethod('error'),
  dir: consoleMethod('info'),
};

/** Makes the web globals visible to user code, non-enumerable as builtins are. */
export function installGlobals(global: Record<string, unknown>): void {
  const values: Record<string, unknown> = {
    URL,
    URLSearchParams,
    TextEncoder,
    TextDecoder,
    atob,
    btoa,
    structuredClone,
    crypto,
    Headers,
    Response,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    console,
  };
  for (const name of objectKeys(values)) objectDefineProperty(global, name, { value: values[name], writable: true, configurable: true, enumerable: false });
  objectDefineProperty(global, NODE_PRIMITIVES_KEY, { value: nodePrimitives, writable: false, configurable: false, enumerable: false });
  // Not a language builtin, and the one way to run code the limits were not designed for.
  Reflect.deleteProperty(global, 'WebAssembly');
  // V8 flags are per process: a runner started with --expose-gc gives every isolate a `gc`
  // global, non-configurable but writable.
  if (global.gc !== undefined && !Reflect.deleteProperty(global, 'gc')) global.gc = undefined;
}

