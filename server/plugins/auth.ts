// Secret-key authentication for every API route in the scope it is registered in: the
// `Authorization: Bearer <key>` header, or else the dashboard's session cookie (checked against
// the database, with its CSRF header on state-changing methods; see dashboard/sessions.ts).
// Keys are compared in constant time; only a length mismatch answers early, and the key's
// length is no secret (a generated key is always a 36-character UUID).
// Each request is marked with how it got in (`request.authenticatedBy`): credential values are
// answered to the secret key only, never to a browser session (see refuseSessionCredentials).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PatchbayError } from '../errors.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** How a request in the secret-key scope was let in. */
export type AuthMethod = 'secret_key' | 'session';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the secret-key hook; null outside its scope. */
    authenticatedBy: AuthMethod | null;
  }
}

/** The dashboard's cookie check, as the auth hook needs it. */
export interface SessionAuth {
  hasCookie(request: FastifyRequest): boolean;
  authenticate(request: FastifyRequest): Promise<unknown>;
}

export function isSameSecret(expected: Buffer, candidate: string): boolean {
  const given = Buffer.from(candidate, 'utf8');
  return given.length === expected.length && timingSafeEqual(expected, given);
}

/** Whether an Authorization header is `Bearer <the secret key>`, as the hook below accepts it. */
export function hasSecretKey(expected: Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const match = BEARER.exec(header);
  return match?.[1] !== undefined && isSameSecret(expected, match[1]);
}

/** Adds the onRequest hook to `scope` (not its parent): only routes registered in it need a key. */
export function addSecretKeyAuth(scope: FastifyInstance, secretKey: string, sessions?: SessionAuth): void {
  const expected = Buffer.from(secretKey, 'utf8');
  scope.decorateRequest('authenticatedBy', null);
  // A callback hook, not an async one: no promise and no extra turn of the queue per request.
  scope.addHook('onRequest', (request, _reply, done) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      // Only without an Authorization header: a key sent always decides on its own.
      if (sessions !== undefined && sessions.hasCookie(request)) {
        sessions.authenticate(request).then(() => {
          request.authenticatedBy = 'session';
          done();
        }, done);
        return;
      }
      return done(new PatchbayError('missing_auth_header'));
    }
    const match = BEARER.exec(header);
    if (!match?.[1]) return done(new PatchbayError('malformed_auth_header'));
    if (!isSameSecret(expected, match[1])) return done(new PatchbayError('unknown_account'));
    request.authenticatedBy = 'secret_key';
    done();
  });
}

/** True for a request a dashboard session let in: it is answered no credential value. */
export function isSessionRequest(request: FastifyRequest): boolean {
  return request.authenticatedBy === 'session';
}

/**
 * Throws `session_not_allowed` for a session-authenticated request: routes whose whole answer is
 * credential values (or that refresh them) call it first. A page's script, an extension or an XSS
 * in the dashboard could read them; the secret key's holders are the app's backends.
 */
export function refuseSessionCredentials(request: FastifyRequest): void {
  if (isSessionRequest(request)) throw new PatchbayError('session_not_allowed');
}
