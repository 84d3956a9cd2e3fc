// Secret-key authentication for every API route in the scope it is registered in: the
// `Authorization: Bearer <key>` header, or else the dashboard's session cookie (checked against
// the database, with its CSRF header on state-changing methods; see dashboard/sessions.ts).
// Keys are compared in constant time; only a length mismatch answers early, and the key's
// length is no secret (a generated key is always a 36-character UUID).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PatchbayError } from '../errors.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The dashboard's cookie check, as the auth hook needs it. */
export interface SessionAuth {
  hasCookie(request: FastifyRequest): boolean;
  authenticate(request: FastifyRequest): Promise<unknown>;
}

export function isSameSecret(expected: Buffer, candidate: string): boolean {
  const given = Buffer.from(candidate, 'utf8');
  return given.length === expected.length && timingSafeEqual(expected, given);
}

/** Adds the onRequest hook to `scope` (not its parent): only routes registered in it need a key. */
export function addSecretKeyAuth(scope: FastifyInstance, secretKey: string, sessions?: SessionAuth): void {
  const expected = Buffer.from(secretKey, 'utf8');
  // A callback hook, not an async one: no promise and no extra turn of the queue per request.
  scope.addHook('onRequest', (request, _reply, done) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      // Only without an Authorization header: a key sent always decides on its own.
      if (sessions !== undefined && sessions.hasCookie(request)) {
        sessions.authenticate(request).then(() => done(), done);
        return;
      }
      return done(new PatchbayError('missing_auth_header'));
    }
    const match = BEARER.exec(header);
    if (!match?.[1]) return done(new PatchbayError('malformed_auth_header'));
    if (!isSameSecret(expected, match[1])) return done(new PatchbayError('unknown_account'));
    done();
  });
}
