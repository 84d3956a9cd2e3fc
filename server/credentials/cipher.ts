// Encryption at rest for credentials: AES-256-GCM, a fresh 96-bit IV per value.
// Layout of a sealed value: version byte (1) | iv (12) | auth tag (16) | ciphertext.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 1;
const IV_BYTES = 12; // NIST SP 800-38D: 96-bit IVs are the efficient, recommended size for GCM.
const TAG_BYTES = 16;

export interface Cipher {
  seal(value: unknown): Buffer;
  open<T = unknown>(sealed: Buffer): T;
}

export function createCipher(key: Buffer): Cipher {
  if (key.length !== 32) throw new Error('the encryption key must be 32 bytes');
  return {
    seal(value) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
    },
    open<T>(sealed: Buffer): T {
      if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
        throw new Error('sealed value has an unknown format');
      }
      const iv = sealed.subarray(1, 1 + IV_BYTES);
      const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as T;
    },
  };
}
