// Secret-key authentication for every API route in the scope it is registered in.
// Keys are compared in constant time (over SHA-256 digests, so lengths leak nothing either).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PatchbayError } from '../errors.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

export function isSameSecret(expectedDigest: Buffer, candidate: string): boolean {
  return timingSafeEqual(expectedDigest, digest(candidate));
}

/** Adds the onRequest hook to `scope` (not its parent): only routes registered in it need a key. */
export function addSecretKeyAuth(scope: FastifyInstance, secretKey: string): void {
  const expected = digest(secretKey);
  scope.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') throw new PatchbayError('missing_auth_header');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) throw new PatchbayError('malformed_auth_header');
    if (!isSameSecret(expected, match[1])) throw new PatchbayError('unknown_account');
  });
}
