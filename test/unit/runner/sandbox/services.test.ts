import { createDecipheriv, generateKeyPairSync, randomBytes, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_CODEC_INPUT, MAX_CRYPTO_KEY_BYTES, MAX_ENCODING_LABEL_CHARS, MAX_PBKDF2_ITERATIONS, MAX_QUERY_CHARS, MAX_QUERY_PAIRS, MAX_URL_CHARS } from '../../../../runner/sandbox/guest/bounds.js';
import { servePure } from '../../../../runner/sandbox/services.js';

const serve = (name: string, a?: unknown, b?: unknown, c?: unknown, d?: unknown) => servePure(name, a, b, c, d);
const pairs = (count: number) => Array.from({ length: count }, (_, index): [string, string] => [`k${index}`, 'v']);

// What the host does when the guest's own checks are bypassed: the host is the last line, and a
// service call cannot be interrupted once it runs (security review: a 20 MB query held it 9 s).
describe('host services: every input is bounded', () => {
  it.each([
    ['url.parse (input)', () => serve('url.parse', `https://a.example/${'x'.repeat(MAX_URL_CHARS)}`), /URL is longer than 262144/],
    ['url.parse (base)', () => serve('url.parse', '/x', `https://a.example/${'x'.repeat(MAX_URL_CHARS)}`), /base URL is longer/],
    ['url.parse (result grown by percent-encoding)', () => serve('url.parse', `https://a.example/${'é'.repeat(MAX_URL_CHARS / 4)}`), /URL is longer/],
    ['url.set (value)', () => serve('url.set', 'https://a.example/', 'pathname', 'x'.repeat(MAX_URL_CHARS + 1)), /pathname is longer/],
    ['search.parse (characters)', () => serve('search.parse', `a=${'b'.repeat(MAX_QUERY_CHARS)}`), /query string is longer/],
    ['search.parse (pairs: the security finding)', () => serve('search.parse', 'a=b&'.repeat(5_000_000)), /query string is longer/],
    ['search.parse (pairs)', () => serve('search.parse', 'a&'.repeat(MAX_QUERY_PAIRS + 1)), /more than 10000 pairs/],
    ['search.serialize (pairs)', () => serve('search.serialize', pairs(MAX_QUERY_PAIRS + 1)), /more than 10000 pairs/],
    ['search.serialize (characters)', () => serve('search.serialize', [['a', 'b'.repeat(MAX_QUERY_CHARS)]]), /query string is longer/],
    ['text.encode', () => serve('text.encode', 'x'.repeat(MAX_CODEC_INPUT + 1)), /text is longer/],
    ['text.decode (bytes)', () => serve('text.decode', new Uint8Array(MAX_CODEC_INPUT + 1), 'utf-8', false, false), /larger than 16777216 bytes/],
    ['text.decode (label)', () => serve('text.decode', null, 'u'.repeat(MAX_ENCODING_LABEL_CHARS + 1), false, false), /encoding label is longer/],
    ['base64.encode', () => serve('base64.encode', 'x'.repeat(MAX_CODEC_INPUT + 1)), /string is longer/],
    ['base64.decode', () => serve('base64.decode', 'A'.repeat(MAX_CODEC_INPUT + 4)), /string is longer/],
  ])('refuses %s over its bound with a RangeError', (_name, call, message) => {
    expect(call).toThrow(RangeError);
    expect(call).toThrow(message);
  });

  it('serves inputs at their bounds', () => {
    expect((serve('search.parse', 'a=b&'.repeat(MAX_QUERY_PAIRS)) as unknown[]).length).toBe(MAX_QUERY_PAIRS);
    // Empty segments are no pairs (WHATWG URL §5.1), so they do not count.
    expect((serve('search.parse', `${'&'.repeat(1000)}a=b`) as unknown[]).length).toBe(1);
    expect(serve('search.serialize', pairs(MAX_QUERY_PAIRS))).toMatch(/^k0=v&k1=v/);
    expect((serve('url.parse', `https://a.example/${'x'.repeat(MAX_URL_CHARS - 100)}`) as { pathname: string }).pathname).toHaveLength(MAX_URL_CHARS - 99);
    // base64 of a whole 10 MiB response (runner/operations.ts lets a function read that much), and back.
    const file = 'x'.repeat(10 * 1024 * 1024);
    const encoded = serve('base64.encode', file) as string;
    expect(encoded).toHaveLength(Math.ceil(file.length / 3) * 4);
    expect(serve('base64.decode', encoded)).toBe(file);
    expect((serve('text.encode', file) as Uint8Array).byteLength).toBe(file.length);
  });

  it('keeps the answers Node gives below the bounds', () => {
    expect(serve('url.parse', '::')).toBeNull();
    expect(serve('search.parse', '?a=1&b=%20')).toEqual([
      ['a', '1'],
      ['b', ' '],
    ]);
    expect(serve('text.decode', null, ' Latin1 ', false, false)).toBe('windows-1252');
    expect(() => serve('crypto.random', 65537)).toThrow(RangeError);
    expect(() => serve('clone', {})).toThrow('Unknown service');
  });
});

// Signatures, key derivation and ciphers (runner/sandbox/crypto-services.ts): keys are the
// function's bytes, parsed per call; what would hold the runner's loop too long is refused.
describe('host crypto services', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = (key: KeyObject, type: 'pkcs8' | 'spki') => new TextEncoder().encode(key.export({ type, format: 'pem' }) as string);
  const data = new TextEncoder().encode('header.claims');

  it('signs RSA-SHA256 as Node does, and verifies with the public key or the private one', () => {
    const signature = serve('crypto.sign', 'RSA-SHA256', { key: pem(rsa.privateKey, 'pkcs8') }, data) as Uint8Array;
    expect(nodeVerify('sha256', data, rsa.publicKey, signature)).toBe(true);
    expect(serve('crypto.verify', 'sha256', { key: pem(rsa.publicKey, 'spki') }, data, signature)).toBe(true);
    expect(serve('crypto.verify', 'sha256', { key: pem(rsa.privateKey, 'pkcs8') }, data, signature)).toBe(true);
    expect(serve('crypto.verify', 'sha256', { key: pem(rsa.publicKey, 'spki') }, new TextEncoder().encode('other'), signature)).toBe(false);
  });

  it.each([
    ['a DSA key', () => serve('crypto.sign', 'sha256', { key: pem(generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }).privateKey, 'pkcs8') }, data), /not supported/],
    ['pbkdf2 over its iterations', () => serve('crypto.pbkdf2', new Uint8Array(4), new Uint8Array(4), MAX_PBKDF2_ITERATIONS + 1, { keylen: 32, digest: 'sha256' }), /iterations must be/],
    ['pbkdf2 over its blocks', () => serve('crypto.pbkdf2', new Uint8Array(4), new Uint8Array(4), MAX_PBKDF2_ITERATIONS, { keylen: 64, digest: 'sha256' }), /output blocks/],
    ['a key over its bound', () => serve('crypto.sign', 'sha256', { key: new Uint8Array(MAX_CRYPTO_KEY_BYTES + 1) }, data), /larger than/],
    ['an unknown cipher', () => serve('crypto.cipher', 'encrypt', { algorithm: 'des-ede3-cbc', key: new Uint8Array(24), iv: new Uint8Array(8) }, data), /Unknown cipher/],
  ])('refuses %s', (_name, call, message) => {
    expect(call).toThrow(message);
  });

  it('encrypts AES-256-GCM that Node decrypts, and refuses a forged tag', () => {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const sealed = serve('crypto.cipher', 'encrypt', { algorithm: 'aes-256-gcm', key, iv }, data) as { data: Uint8Array; authTag: Uint8Array };
    const decipher = createDecipheriv('aes-256-gcm', key, iv).setAuthTag(sealed.authTag);
    expect(Buffer.concat([decipher.update(sealed.data), decipher.final()]).toString()).toBe('header.claims');
    expect(() => serve('crypto.cipher', 'decrypt', { algorithm: 'aes-256-gcm', key, iv, authTag: new Uint8Array(16) }, sealed.data)).toThrow(/unable to authenticate/);
  });
});
