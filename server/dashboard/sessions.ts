// Dashboard sessions: the secret key traded for a random token in a signed, HttpOnly,
// SameSite=Strict cookie. The database keeps only the token's SHA-256, so logout (revocation)
// and expiry hold in every process. Cookie-authenticated requests that change state must carry
// the session's CSRF token (an HMAC of the session token) in X-Patchbay-CSRF.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { fastifyCookie } from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';
import { PatchbayError } from '../errors.js';
import { isSameSecret } from '../plugins/auth.js';
import type { SessionStore } from '../store/index.js';
import { createLoginThrottle, type LoginThrottle } from './login-throttle.js';

export const SESSION_COOKIE = 'patchbay_session';
export const CSRF_HEADER = 'x-patchbay-csrf';
/** 12 hours: a working day at the dashboard, then the key is asked for again. */
export const SESSION_TTL_MS = 12 * 3600_000;
// 32 random bytes: as hard to guess as the encryption key.
const TOKEN_BYTES = 32;
// A cookie header longer than this is no cookie of ours (browsers cap a cookie at 4 KiB).
const MAX_COOKIE_HEADER_CHARS = 8192;
const SAFE_METHODS = new Set(['GET', 'HEAD']);

export interface DashboardSession {
  csrfToken: string;
}

export interface DashboardSessions {
  /** A new session for the right key; `wrong_key` or a wait (too many wrong keys) otherwise. */
  login(candidate: string, address: string): Promise<{ token: string; csrfToken: string; expiresAt: Date } | { refused: 'wrong_key' } | { refused: 'locked'; retryAfterMs: number }>;
  /** The session the request's cookie names, checked (CSRF included); throws the wire error otherwise. */
  authenticate(request: FastifyRequest): Promise<DashboardSession>;
  /** Revokes the request's session, if any. */
  logout(request: FastifyRequest): Promise<void>;
  /** The `Set-Cookie` value for a token (or, with no token, one that deletes the cookie). */
  cookie(token: string | undefined, secure: boolean): string;
  /** True when the request carries a cookie of ours (then it is the credential to check). */
  hasCookie(request: FastifyRequest): boolean;
}

export interface DashboardSessionDeps {
  store: SessionStore;
  secretKey: string;
  now?: () => number;
  throttle?: LoginThrottle;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest();

export function createDashboardSessions(deps: DashboardSessionDeps): DashboardSessions {
  const now = deps.now ?? Date.now;
  const throttle = deps.throttle ?? createLoginThrottle();
  const expected = Buffer.from(deps.secretKey, 'utf8');
  // Both keys come from the secret key: rotating it ends every session and its CSRF tokens.
  const signer = fastifyCookie.signerFactory(createHmac('sha256', deps.secretKey).update('patchbay dashboard cookie').digest());
  const csrfKey = createHmac('sha256', deps.secretKey).update('patchbay dashboard csrf').digest();
  const csrfOf = (token: string) => createHmac('sha256', csrfKey).update(token).digest('base64url');

  const tokenOf = (request: FastifyRequest): string | undefined => {
    const header = request.headers.cookie;
    if (header === undefined || header.length > MAX_COOKIE_HEADER_CHARS) return undefined;
    const value = fastifyCookie.parse(header)[SESSION_COOKIE];
    if (value === undefined) return undefined;
    const unsigned = signer.unsign(value);
    return unsigned.valid && unsigned.value !== null ? unsigned.value : undefined;
  };

  return {
    async login(candidate, address) {
      const waitMs = throttle.waitMs(address, now());
      // A locked-out address is not told whether its key was right: no guessing while locked.
      if (waitMs > 0) return { refused: 'locked', retryAfterMs: waitMs };
      if (!isSameSecret(expected, candidate)) {
        throttle.failed(address, now());
        return { refused: 'wrong_key' };
      }
      throttle.succeeded(address);
      const token = randomBytes(TOKEN_BYTES).toString('base64url');
      const expiresAt = new Date(now() + SESSION_TTL_MS);
      await deps.store.create(hashOf(token), expiresAt);
      return { token, csrfToken: csrfOf(token), expiresAt };
    },
    async authenticate(request) {
      const token = tokenOf(request);
      if (token === undefined || !(await deps.store.isActive(hashOf(token)))) throw new PatchbayError('invalid_session');
      const csrfToken = csrfOf(token);
      // Browsers say where a request comes from; a cross-site one never acts with our cookie.
      if (request.headers['sec-fetch-site'] === 'cross-site') throw new PatchbayError('csrf_check_failed');
      if (!SAFE_METHODS.has(request.method)) {
        const sent = request.headers[CSRF_HEADER];
        const given = Buffer.from(typeof sent === 'string' ? sent : '', 'utf8');
        const wanted = Buffer.from(csrfToken, 'utf8');
        if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw new PatchbayError('csrf_check_failed');
      }
      return { csrfToken };
    },
    async logout(request) {
      const token = tokenOf(request);
      if (token !== undefined) await deps.store.revoke(hashOf(token));
    },
    cookie(token, secure) {
      return fastifyCookie.serialize(SESSION_COOKIE, token === undefined ? '' : signer.sign(token), {
        httpOnly: true,
        sameSite: 'strict',
        secure,
        path: '/',
        maxAge: token === undefined ? 0 : SESSION_TTL_MS / 1000,
      });
    },
    hasCookie(request) {
      const header = request.headers.cookie;
      return header !== undefined && header.includes(`${SESSION_COOKIE}=`);
    },
  };
}
