// Secret-key authentication for every API route in the scope it is registered in.
// Keys are compared in constant time; only a length mismatch answers early, and the key's
// length is no secret (a generated key is always a 36-character UUID).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PatchbayError } from '../errors.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export function isSameSecret(expected: Buffer, candidate: string): boolean {
  const given = Buffer.from(candidate, 'utf8');
  return given.length === expected.length && timingSafeEqual(expected, given);
}

/** Adds the onRequest hook to `scope` (not its parent): only routes registered in it need a key. */
export function addSecretKeyAuth(scope: FastifyInstance, secretKey: string): void {
  const expected = Buffer.from(secretKey, 'utf8');
  // A callback hook, not an async one: no promise and no extra turn of the queue per request.
  scope.addHook('onRequest', (request, _reply, done) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') return done(new PatchbayError('missing_auth_header'));
    const match = BEARER.exec(header);
    if (!match?.[1]) return done(new PatchbayError('malformed_auth_header'));
    if (!isSameSecret(expected, match[1])) return done(new PatchbayError('unknown_account'));
    done();
  });
}
