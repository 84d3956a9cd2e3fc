import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCipher } from '../../../../server/credentials/cipher.js';

describe('cipher', () => {
  const cipher = createCipher(randomBytes(32));

  it('opens what it sealed', () => {
    const value = { type: 'OAUTH2', access_token: 'tok-123', nested: { a: [1, 2] } };
    expect(cipher.open(cipher.seal(value))).toEqual(value);
  });

  it('never shows the plaintext and uses a fresh IV each time', () => {
    const a = cipher.seal({ token: 'very-secret-token' });
    const b = cipher.seal({ token: 'very-secret-token' });
    expect(a.toString('latin1')).not.toContain('very-secret-token');
    expect(a.equals(b)).toBe(false);
  });

  it('refuses a tampered value', () => {
    const sealed = cipher.seal({ token: 'x' });
    sealed.writeUInt8((sealed.at(-1) as number) ^ 1, sealed.length - 1);
    expect(() => cipher.open(sealed)).toThrow();
  });

  it('refuses a value sealed with another key', () => {
    const other = createCipher(randomBytes(32));
    expect(() => other.open(cipher.seal('x'))).toThrow();
  });
});
