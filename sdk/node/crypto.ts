// `crypto` / `node:crypto` inside functions: createHash, createHmac, randomBytes, randomUUID,
// timingSafeEqual, createSign/createVerify and sign/verify (RSA, ECDSA, EdDSA), pbkdf2Sync and
// createCipheriv/createDecipheriv (AES-GCM, CBC, CTR), as Node's, computed by the host through
// bounded synchronous services (runner/sandbox/services.ts, crypto-services.ts). Keys are the
// function's own PEM or DER bytes; KeyObject here only carries them. Bundled only into functions that import it (runner/bundle.ts).
// Runs INSIDE the sandbox; imports nothing of the platform.
import { Buffer } from './buffer.js';

type BinaryLike = string | Uint8Array | ArrayBuffer | DataView;
export type BinaryToTextEncoding = 'hex' | 'base64' | 'base64url' | 'latin1' | 'binary';
type InputEncoding = 'utf8' | 'utf-8' | 'hex' | 'base64' | 'base64url' | 'latin1' | 'binary' | 'ascii' | 'utf16le';

interface KeySpec {
  key: Uint8Array;
  format?: 'pem' | 'der';
  type?: 'pkcs1' | 'pkcs8' | 'spki' | 'sec1';
  passphrase?: Uint8Array;
  dsaEncoding?: 'der' | 'ieee-p1363';
  padding?: number;
  saltLength?: number;
}

interface CipherSpec {
  algorithm: string;
  key: Uint8Array;
  iv: Uint8Array;
  aad?: Uint8Array;
  authTag?: Uint8Array;
  authTagLength?: number;
  autoPadding?: boolean;
}

interface Primitives {
  hash(algorithm: string, data: Uint8Array): Uint8Array;
  hmac(algorithm: string, key: Uint8Array, data: Uint8Array): Uint8Array;
  randomBytes(size: number): Uint8Array;
  sign(algorithm: string | null, key: KeySpec, data: Uint8Array): Uint8Array;
  verify(algorithm: string | null, key: KeySpec, data: Uint8Array, signature: Uint8Array): boolean;
  pbkdf2(password: Uint8Array, salt: Uint8Array, iterations: number, keylen: number, digest: string): Uint8Array;
  cipher(direction: 'encrypt' | 'decrypt', options: CipherSpec, data: Uint8Array): { data: Uint8Array; authTag?: Uint8Array };
}

// Installed by the guest runtime (runner/sandbox/guest/globals.ts) under a registered symbol.
function primitives(): Primitives {
  const found = (globalThis as Record<symbol, unknown>)[Symbol.for('patchbay.node')];
  if (found === undefined) throw new Error('crypto is available inside Patchbay functions only');
  return found as Primitives;
}

function toBytes(data: BinaryLike, encoding?: InputEncoding): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, encoding ?? 'utf8');
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('The data must be a string, a Buffer, a TypedArray or a DataView');
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.byteLength;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}

function output(bytes: Uint8Array, encoding?: BinaryToTextEncoding): Buffer | string {
  const buffer = Buffer.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
  return encoding === undefined ? buffer : buffer.toString(encoding);
}

abstract class Digester {
  #chunks: Uint8Array[] = [];
  #done = false;

  update(data: BinaryLike, inputEncoding?: InputEncoding): this {
    if (this.#done) throw new Error('Digest already called');
    // Copied: the caller may reuse its buffer before digest().
    this.#chunks.push(toBytes(data, inputEncoding).slice());
    return this;
  }

  digest(): Buffer;
  digest(encoding: BinaryToTextEncoding): string;
  digest(encoding?: BinaryToTextEncoding): Buffer | string {
    if (this.#done) throw new Error('Digest already called');
    this.#done = true;
    const data = concat(this.#chunks);
    this.#chunks = [];
    return output(this.compute(data), encoding);
  }

  protected abstract compute(data: Uint8Array): Uint8Array;
}

export class Hash extends Digester {
  readonly #algorithm: string;
  constructor(algorithm: string) {
    super();
    this.#algorithm = algorithm;
  }
  protected compute(data: Uint8Array): Uint8Array {
    return primitives().hash(this.#algorithm, data);
  }
}

export class Hmac extends Digester {
  readonly #algorithm: string;
  readonly #key: Uint8Array;
  constructor(algorithm: string, key: BinaryLike) {
    super();
    this.#algorithm = algorithm;
    this.#key = toBytes(key).slice();
  }
  protected compute(data: Uint8Array): Uint8Array {
    return primitives().hmac(this.#algorithm, this.#key, data);
  }
}

/** @example createHash('sha256').update(body).digest('hex') */
export function createHash(algorithm: string): Hash {
  return new Hash(algorithm);
}

/** @example createHmac('sha256', secret).update(payload).digest('base64') */
export function createHmac(algorithm: string, key: BinaryLike): Hmac {
  return new Hmac(algorithm, key);
}

export function randomBytes(size: number): Buffer {
  return output(primitives().randomBytes(size)) as Buffer;
}

export function randomUUID(): string {
  return globalThis.crypto.randomUUID();
}

export function getRandomValues<T extends ArrayBufferView>(array: T): T {
  return (globalThis.crypto as unknown as { getRandomValues<V>(array: V): V }).getRandomValues(array);
}

/** Compares in time independent of where the inputs differ; they must have the same length, as in Node. */
export function timingSafeEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const left = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const right = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (left.byteLength !== right.byteLength) throw new RangeError('Input buffers must have the same byte length');
  let difference = 0;
  for (let index = 0; index < left.byteLength; index++) difference |= (left[index] as number) ^ (right[index] as number);
  return difference === 0;
}

// ───────────────────────── keys, signatures ─────────────────────────

/** A key as functions pass it: a PEM string, PEM or DER bytes, `{key, format, type, passphrase, dsaEncoding, padding, saltLength}` or a KeyObject. */
export type KeyLike = string | Uint8Array | KeyObject | { key: string | Uint8Array | KeyObject; format?: 'pem' | 'der'; type?: KeySpec['type']; passphrase?: string | Uint8Array; dsaEncoding?: KeySpec['dsaEncoding']; padding?: number; saltLength?: number };

/**
 * A key's material, kept in the function (Node's KeyObject parses it; here the host parses it at
 * each use). `type` is what it was created as.
 */
export class KeyObject {
  readonly type: 'private' | 'public' | 'secret';
  readonly #spec: KeySpec;

  constructor(type: 'private' | 'public' | 'secret', spec: KeySpec) {
    this.type = type;
    this.#spec = spec;
  }

  /** The material as given: the PEM text for a PEM key, else its bytes. */
  export(): string | Buffer {
    const bytes = output(this.#spec.key) as Buffer;
    return (this.#spec.format ?? 'pem') === 'pem' && this.type !== 'secret' ? bytes.toString('utf8') : bytes;
  }

  static specOf(key: KeyObject): KeySpec {
    return key.#spec;
  }
}

function toKeySpec(key: KeyLike): KeySpec {
  if (key instanceof KeyObject) return KeyObject.specOf(key);
  if (typeof key === 'string' || key instanceof Uint8Array) return { key: toBytes(key).slice() };
  if (typeof key !== 'object' || key === null) throw new TypeError('The key must be a string, a Buffer, a KeyObject or {key, …}');
  const base = toKeySpec(key.key);
  const spec: KeySpec = { ...base };
  if (key.format !== undefined) spec.format = key.format;
  if (key.type !== undefined) spec.type = key.type;
  if (key.passphrase !== undefined) spec.passphrase = toBytes(key.passphrase).slice();
  if (key.dsaEncoding !== undefined) spec.dsaEncoding = key.dsaEncoding;
  if (key.padding !== undefined) spec.padding = key.padding;
  if (key.saltLength !== undefined) spec.saltLength = key.saltLength;
  return spec;
}

export function createPrivateKey(key: KeyLike): KeyObject {
  return new KeyObject('private', toKeySpec(key));
}

export function createPublicKey(key: KeyLike): KeyObject {
  return new KeyObject('public', toKeySpec(key));
}

export function createSecretKey(key: BinaryLike, encoding?: InputEncoding): KeyObject {
  return new KeyObject('secret', { key: toBytes(key, encoding).slice(), format: 'der' });
}

abstract class Signer {
  #chunks: Uint8Array[] = [];
  #done = false;
  protected readonly algorithm: string;

  constructor(algorithm: string) {
    this.algorithm = algorithm;
  }

  update(data: BinaryLike, inputEncoding?: InputEncoding): this {
    if (this.#done) throw new Error('The signature was already computed');
    this.#chunks.push(toBytes(data, inputEncoding).slice());
    return this;
  }

  protected take(): Uint8Array {
    if (this.#done) throw new Error('The signature was already computed');
    this.#done = true;
    const data = concat(this.#chunks);
    this.#chunks = [];
    return data;
  }
}

export class Sign extends Signer {
  sign(privateKey: KeyLike): Buffer;
  sign(privateKey: KeyLike, outputEncoding: BinaryToTextEncoding): string;
  sign(privateKey: KeyLike, outputEncoding?: BinaryToTextEncoding): Buffer | string {
    return output(primitives().sign(this.algorithm, toKeySpec(privateKey), this.take()), outputEncoding);
  }
}

export class Verify extends Signer {
  verify(publicKey: KeyLike, signature: BinaryLike, signatureEncoding?: InputEncoding): boolean {
    return primitives().verify(this.algorithm, toKeySpec(publicKey), this.take(), toBytes(signature, signatureEncoding));
  }
}

/**
 * @example
 * const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(serviceAccount.private_key, 'base64url');
 */
export function createSign(algorithm: string): Sign {
  return new Sign(algorithm);
}

export function createVerify(algorithm: string): Verify {
  return new Verify(algorithm);
}

/** One-shot signature; `algorithm` null or undefined for Ed25519/Ed448 keys. */
function signOnce(algorithm: string | null | undefined, data: BinaryLike, key: KeyLike): Buffer {
  return output(primitives().sign(algorithm ?? null, toKeySpec(key), toBytes(data))) as Buffer;
}
export { signOnce as sign };

/** One-shot verification; `algorithm` null or undefined for Ed25519/Ed448 keys. */
function verifyOnce(algorithm: string | null | undefined, data: BinaryLike, key: KeyLike, signature: BinaryLike): boolean {
  return primitives().verify(algorithm ?? null, toKeySpec(key), toBytes(data), toBytes(signature));
}
export { verifyOnce as verify };

// ───────────────────────── key derivation, ciphers ─────────────────────────

export function pbkdf2Sync(password: BinaryLike, salt: BinaryLike, iterations: number, keylen: number, digest: string): Buffer {
  return output(primitives().pbkdf2(toBytes(password), toBytes(salt), iterations, keylen, digest)) as Buffer;
}

/** Node's callback form; computed at once, the callback called on a later turn as Node's is. */
export function pbkdf2(password: BinaryLike, salt: BinaryLike, iterations: number, keylen: number, digest: string, callback: (error: Error | null, key?: Buffer) => void): void {
  let result: Buffer | undefined;
  let failure: Error | null = null;
  try {
    result = pbkdf2Sync(password, salt, iterations, keylen, digest);
  } catch (error) {
    failure = error as Error;
  }
  void Promise.resolve().then(() => (failure === null ? callback(null, result) : callback(failure)));
}

type CipherKey = BinaryLike | KeyObject;

abstract class CipherBase {
  #chunks: Uint8Array[] = [];
  #done = false;
  protected readonly spec: CipherSpec;

  constructor(algorithm: string, key: CipherKey, iv: BinaryLike, options?: { authTagLength?: number }) {
    this.spec = { algorithm, key: key instanceof KeyObject ? KeyObject.specOf(key).key : toBytes(key).slice(), iv: toBytes(iv).slice() };
    if (options?.authTagLength !== undefined) this.spec.authTagLength = options.authTagLength;
  }

  setAAD(aad: BinaryLike): this {
    this.spec.aad = toBytes(aad).slice();
    return this;
  }

  setAutoPadding(autoPadding = true): this {
    this.spec.autoPadding = autoPadding;
    return this;
  }

  /**
   * Gathers the input; everything comes out of final(). Joined, the outputs are Node's (Node hands
   * out whole blocks as they fill; `update(a) + final()` is the same text either way).
   */
  update(data: BinaryLike, inputEncoding?: InputEncoding): Buffer;
  update(data: BinaryLike, inputEncoding: InputEncoding | undefined, outputEncoding: BinaryToTextEncoding | 'utf8'): string;
  update(data: BinaryLike, inputEncoding?: InputEncoding, outputEncoding?: BinaryToTextEncoding | 'utf8'): Buffer | string {
    if (this.#done) throw new Error('Unsupported state');
    this.#chunks.push(toBytes(data, inputEncoding).slice());
    return outputEncoding === undefined ? Buffer.alloc(0) : '';
  }

  final(): Buffer;
  final(outputEncoding: BinaryToTextEncoding | 'utf8'): string;
  final(outputEncoding?: BinaryToTextEncoding | 'utf8'): Buffer | string {
    if (this.#done) throw new Error('Unsupported state');
    this.#done = true;
    const result = this.run(concat(this.#chunks));
    this.#chunks = [];
    const buffer = Buffer.from(result.buffer as ArrayBuffer, result.byteOffset, result.byteLength);
    return outputEncoding === undefined ? buffer : buffer.toString(outputEncoding);
  }

  protected abstract run(data: Uint8Array): Uint8Array;
}

export class Cipheriv extends CipherBase {
  #authTag: Uint8Array | undefined;

  protected run(data: Uint8Array): Uint8Array {
    const result = primitives().cipher('encrypt', this.spec, data);
    this.#authTag = result.authTag;
    return result.data;
  }

  getAuthTag(): Buffer {
    if (this.#authTag === undefined) throw new Error('Invalid state for operation getAuthTag');
    return output(this.#authTag) as Buffer;
  }
}

export class Decipheriv extends CipherBase {
  setAuthTag(tag: BinaryLike): this {
    this.spec.authTag = toBytes(tag).slice();
    return this;
  }

  protected run(data: Uint8Array): Uint8Array {
    return primitives().cipher('decrypt', this.spec, data).data;
  }
}

/**
 * AES-128/192/256 in GCM, CBC or CTR mode.
 *
 * @example
 * const cipher = createCipheriv('aes-256-gcm', key, iv);
 * const sealed = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
 * const tag = cipher.getAuthTag();
 */
export function createCipheriv(algorithm: string, key: CipherKey, iv: BinaryLike, options?: { authTagLength?: number }): Cipheriv {
  return new Cipheriv(algorithm, key, iv, options);
}

export function createDecipheriv(algorithm: string, key: CipherKey, iv: BinaryLike, options?: { authTagLength?: number }): Decipheriv {
  return new Decipheriv(algorithm, key, iv, options);
}

export function getCiphers(): string[] {
  return ['aes-128-cbc', 'aes-128-ctr', 'aes-128-gcm', 'aes-192-cbc', 'aes-192-ctr', 'aes-192-gcm', 'aes-256-cbc', 'aes-256-ctr', 'aes-256-gcm'];
}

export function getHashes(): string[] {
  return ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha3-256', 'sha3-384', 'sha3-512', 'sha512', 'sha512-256'];
}

export const webcrypto = globalThis.crypto;

export default {
  createHash,
  createHmac,
  randomBytes,
  randomUUID,
  getRandomValues,
  timingSafeEqual,
  getHashes,
  getCiphers,
  webcrypto,
  Hash,
  Hmac,
  createSign,
  createVerify,
  sign: signOnce,
  verify: verifyOnce,
  Sign,
  Verify,
  KeyObject,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  pbkdf2,
  pbkdf2Sync,
  createCipheriv,
  createDecipheriv,
  Cipheriv,
  Decipheriv,
};
