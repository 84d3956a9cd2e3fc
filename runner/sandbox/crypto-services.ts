// The synchronous services behind node:crypto's signatures, key derivation and ciphers in functions
// (sdk/node/crypto.ts): sign/verify (RSA, RSA-PSS, ECDSA, EdDSA), pbkdf2 and AES-GCM/CBC/CTR. Keys
// arrive as the function's own bytes (PEM or DER) and are parsed for each call; no host KeyObject
// ever crosses. Bounded like services.ts: an input's size and a key's strength bound the time.
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, pbkdf2Sync, sign, verify, type KeyObject, type PrivateKeyInput, type PublicKeyInput } from 'node:crypto';
import { MAX_CIPHER_IV_BYTES, MAX_CRYPTO_KEY_BYTES, MAX_DERIVED_KEY_BYTES, MAX_HASH_INPUT_BYTES, MAX_PBKDF2_ITERATIONS } from './guest/bounds.js';

// The key types service-account JWTs, webhook signatures and request signing use. DSA and DH are
// left out: no template needs them.
const KEY_TYPES: ReadonlySet<string> = new Set(['rsa', 'rsa-pss', 'ec', 'ed25519', 'ed448']);
// RSA-8192 signs in ~45 ms on the machine bounds.ts was measured on; 16384 would take ~0.4 s.
const MAX_RSA_MODULUS_BITS = 8192;
// pbkdf2's cost is iterations × output blocks: 1,000,000 SHA-512 blocks take ~430 ms (the bound).
const MAX_PBKDF2_BLOCKS = MAX_PBKDF2_ITERATIONS;
const DIGEST_BYTES: Record<string, number> = { md5: 16, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64, 'sha512-256': 32, 'sha3-256': 32, 'sha3-384': 48, 'sha3-512': 64 };
const CIPHERS: ReadonlySet<string> = new Set(['aes-128-gcm', 'aes-192-gcm', 'aes-256-gcm', 'aes-128-cbc', 'aes-192-cbc', 'aes-256-cbc', 'aes-128-ctr', 'aes-192-ctr', 'aes-256-ctr']);

/** Node's spellings (`SHA256`, `RSA-SHA256`, `sha-256`) → a digest of DIGEST_BYTES, else the error Node throws. */
export function toHashAlgorithm(value: unknown): string {
  const name = String(value).slice(0, 32).toLowerCase().replace(/^rsa-/, '').replace(/^sha-(\d)/, 'sha$1');
  if (!Object.hasOwn(DIGEST_BYTES, name)) throw new Error('Digest method not supported');
  return name;
}

export function boundedBytes(value: unknown, maxBytes: number, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be bytes`);
  if (value.byteLength > maxBytes) throw new RangeError(`${what} is larger than ${maxBytes} bytes.`);
  return value;
}

/** What the guest sends for a key: its bytes and how to read them, as Node's createPrivateKey takes them. */
type KeySpec = ReturnType<typeof toKeySpec>;

function toKeySpec(value: unknown) {
  if (typeof value !== 'object' || value === null) throw new TypeError('The key must be a PEM string, a Buffer or a key object');
  const spec = value as Record<string, unknown>;
  const text = (name: string, allowed: readonly string[]) => {
    const field = spec[name];
    if (field === undefined) return undefined;
    if (typeof field !== 'string' || !allowed.includes(field)) throw new TypeError(`The key's ${name} must be one of ${allowed.join(', ')}`);
    return field;
  };
  const integer = (name: string) => {
    const field = spec[name];
    if (field === undefined) return undefined;
    if (typeof field !== 'number' || !Number.isInteger(field) || field < -2 || field > 1024) throw new TypeError(`The key's ${name} must be an integer`);
    return field;
  };
  return {
    key: boundedBytes(spec.key, MAX_CRYPTO_KEY_BYTES, 'The key'),
    format: text('format', ['pem', 'der']) as 'pem' | 'der' | undefined,
    type: text('type', ['pkcs1', 'pkcs8', 'spki', 'sec1']) as 'pkcs1' | 'pkcs8' | 'spki' | 'sec1' | undefined,
    passphrase: spec.passphrase === undefined ? undefined : boundedBytes(spec.passphrase, 1024, 'The passphrase'),
    dsaEncoding: text('dsaEncoding', ['der', 'ieee-p1363']) as 'der' | 'ieee-p1363' | undefined,
    padding: integer('padding'),
    saltLength: integer('saltLength'),
  };
}

function checkedKey(key: KeyObject): KeyObject {
  const type = key.asymmetricKeyType ?? '';
  if (!KEY_TYPES.has(type)) throw new TypeError(`Keys of type ${type || 'unknown'} are not supported; rsa, rsa-pss, ec, ed25519 and ed448 are.`);
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits > MAX_RSA_MODULUS_BITS) throw new RangeError(`RSA keys of more than ${MAX_RSA_MODULUS_BITS} bits are not supported.`);
  return key;
}

function toKey(spec: KeySpec, kind: 'private' | 'public'): KeyObject {
  const input = {
    key: Buffer.from(spec.key.buffer, spec.key.byteOffset, spec.key.byteLength),
    format: spec.format ?? 'pem',
    ...(spec.type === undefined ? {} : { type: spec.type }),
    ...(spec.passphrase === undefined ? {} : { passphrase: Buffer.from(spec.passphrase) }),
  };
  // Node's own rule: verifying with a private key verifies with its public half.
  // Node checks `type` against the key kind itself (spki is public only, pkcs8 and sec1 private).
  return checkedKey(kind === 'private' ? createPrivateKey(input as PrivateKeyInput) : createPublicKey(input as PublicKeyInput));
}

function signOptions(spec: KeySpec, key: KeyObject) {
  return {
    key,
    ...(spec.dsaEncoding === undefined ? {} : { dsaEncoding: spec.dsaEncoding }),
    ...(spec.padding === undefined ? {} : { padding: spec.padding }),
    ...(spec.saltLength === undefined ? {} : { saltLength: spec.saltLength }),
  };
}

/** `null` for EdDSA keys (the algorithm is the key's), else a digest name. */
function signatureDigest(value: unknown): string | null {
  return value === null || value === undefined ? null : toHashAlgorithm(value);
}

/** One crypto service; undefined when `name` is not one of them. Throws what the guest rethrows. */
export function serveCrypto(name: unknown, a: unknown, b: unknown, c: unknown, d: unknown): { value: unknown } | undefined {
  switch (name) {
    case 'crypto.sign': {
      const spec = toKeySpec(b);
      const signature = sign(signatureDigest(a), boundedBytes(c, MAX_HASH_INPUT_BYTES, 'The data'), signOptions(spec, toKey(spec, 'private')));
      return { value: new Uint8Array(signature) };
    }
    case 'crypto.verify': {
      const spec = toKeySpec(b);
      const data = boundedBytes(c, MAX_HASH_INPUT_BYTES, 'The data');
      const signature = boundedBytes(d, MAX_CRYPTO_KEY_BYTES, 'The signature');
      return { value: verify(signatureDigest(a), data, signOptions(spec, toKey(spec, 'public')), signature) };
    }
    case 'crypto.pbkdf2': {
      const options = (typeof d === 'object' && d !== null ? d : {}) as { keylen?: unknown; digest?: unknown };
      const digest = toHashAlgorithm(options.digest);
      const iterations = Number(c);
      const keylen = Number(options.keylen);
      if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) throw new RangeError(`iterations must be an integer from 1 to ${MAX_PBKDF2_ITERATIONS}.`);
      if (!Number.isInteger(keylen) || keylen < 0 || keylen > MAX_DERIVED_KEY_BYTES) throw new RangeError(`keylen must be an integer from 0 to ${MAX_DERIVED_KEY_BYTES}.`);
      if (iterations * Math.ceil(keylen / (DIGEST_BYTES[digest] as number)) > MAX_PBKDF2_BLOCKS) {
        throw new RangeError(`iterations × output blocks may be at most ${MAX_PBKDF2_BLOCKS}.`);
      }
      const password = boundedBytes(a, MAX_CRYPTO_KEY_BYTES, 'The password');
      const salt = boundedBytes(b, MAX_CRYPTO_KEY_BYTES, 'The salt');
      return { value: new Uint8Array(pbkdf2Sync(password, salt, iterations, keylen, digest)) };
    }
    case 'crypto.cipher':
      return { value: cipher(a, b, c) };
    default:
      return undefined;
  }
}

/** AES in one call: the whole input at final(), as the guest's Cipheriv gathers it. */
function cipher(direction: unknown, specValue: unknown, data: unknown): { data: Uint8Array; authTag?: Uint8Array } {
  if (typeof specValue !== 'object' || specValue === null) throw new TypeError('Bad cipher options');
  const spec = specValue as Record<string, unknown>;
  const algorithm = String(spec.algorithm).slice(0, 32).toLowerCase();
  if (!CIPHERS.has(algorithm)) throw new Error('Unknown cipher');
  const key = boundedBytes(spec.key, 32, 'The key');
  const iv = boundedBytes(spec.iv, MAX_CIPHER_IV_BYTES, 'The iv');
  const input = boundedBytes(data, MAX_HASH_INPUT_BYTES, 'The data');
  const gcm = algorithm.endsWith('-gcm');
  const authTagLength = spec.authTagLength === undefined ? 16 : Number(spec.authTagLength);
  const options = gcm ? { authTagLength } : {};
  if (direction === 'encrypt') {
    const encrypting = createCipheriv(algorithm, key, iv, options as never);
    if (spec.autoPadding === false) encrypting.setAutoPadding(false);
    if (gcm && spec.aad !== undefined) (encrypting as unknown as { setAAD(aad: Uint8Array): void }).setAAD(boundedBytes(spec.aad, MAX_HASH_INPUT_BYTES, 'The AAD'));
    const out = Buffer.concat([encrypting.update(input), encrypting.final()]);
    return { data: new Uint8Array(out), ...(gcm ? { authTag: new Uint8Array((encrypting as unknown as { getAuthTag(): Buffer }).getAuthTag()) } : {}) };
  }
  if (direction !== 'decrypt') throw new TypeError('Bad cipher direction');
  const decrypting = createDecipheriv(algorithm, key, iv, options as never);
  if (spec.autoPadding === false) decrypting.setAutoPadding(false);
  if (gcm) {
    if (spec.aad !== undefined) (decrypting as unknown as { setAAD(aad: Uint8Array): void }).setAAD(boundedBytes(spec.aad, MAX_HASH_INPUT_BYTES, 'The AAD'));
    if (spec.authTag !== undefined) (decrypting as unknown as { setAuthTag(tag: Uint8Array): void }).setAuthTag(boundedBytes(spec.authTag, 16, 'The auth tag'));
  }
  return { data: new Uint8Array(Buffer.concat([decrypting.update(input), decrypting.final()])) };
}
