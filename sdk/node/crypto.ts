// `crypto` / `node:crypto` inside functions: createHash, createHmac, randomBytes, randomUUID and
// timingSafeEqual, as Node's, computed by the host through bounded synchronous services
// (runner/sandbox/services.ts). Bundled only into functions that import it (runner/bundle.ts).
// Runs INSIDE the sandbox; imports nothing of the platform.
import { Buffer } from './buffer.js';

type BinaryLike = string | Uint8Array | ArrayBuffer | DataView;
export type BinaryToTextEncoding = 'hex' | 'base64' | 'base64url' | 'latin1' | 'binary';
type InputEncoding = 'utf8' | 'utf-8' | 'hex' | 'base64' | 'base64url' | 'latin1' | 'binary' | 'ascii' | 'utf16le';

interface Primitives {
  hash(algorithm: string, data: Uint8Array): Uint8Array;
  hmac(algorithm: string, key: Uint8Array, data: Uint8Array): Uint8Array;
  randomBytes(size: number): Uint8Array;
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

export function getHashes(): string[] {
  return ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha3-256', 'sha3-384', 'sha3-512', 'sha512', 'sha512-256'];
}

export const webcrypto = globalThis.crypto;

export default { createHash, createHmac, randomBytes, randomUUID, getRandomValues, timingSafeEqual, getHashes, webcrypto, Hash, Hmac };
