// Connect sessions: created by the app's backend with the secret key, handed to its frontend,
// and the only thing an end user's browser holds. A session lasts 30 minutes, names the end
// user (and organization) the connections it makes belong to, and may limit the integrations.
import { PatchbayError } from '../errors.js';
import type { ConnectSession, ConnectSessionInput, Store } from '../store/index.js';
import { hashSecret, newSessionToken, SESSION_TOKEN_PREFIX } from './tokens.js';

/** Nango's session length: long enough to read a consent screen, short enough to leak little. */
export const SESSION_TTL_MS = 30 * 60_000;

const TOKEN_SHAPE = new RegExp(`^${SESSION_TOKEN_PREFIX}[0-9a-f]{64}$`);

export interface CreatedSession {
  token: string;
  connect_link: string;
  expires_at: string;
}

export async function createSession(
  store: Store,
  input: Omit<ConnectSessionInput, 'tokenHash' | 'expiresAt'>,
  publicUrl: string,
  nowMs: number,
): Promise<CreatedSession> {
  const token = newSessionToken();
  const expiresAt = new Date(nowMs + SESSION_TTL_MS);
  await store.connect.createSession({ ...input, tokenHash: hashSecret(token), expiresAt });
  return { token, connect_link: `${publicUrl}/connect/?session_token=${token}`, expires_at: expiresAt.toISOString() };
}

/** The session a token stands for; 401 when it is malformed, unknown, deleted or expired. */
export async function authenticateSession(store: Store, token: string | undefined, nowMs: number): Promise<ConnectSession> {
  if (token === undefined || token === '') throw new PatchbayError('invalid_connect_session_token', { message: 'A connect session token is required.' });
  if (!TOKEN_SHAPE.test(token)) throw new PatchbayError('invalid_connect_session_token');
  const session = await store.connect.sessionByTokenHash(hashSecret(token));
  if (session === undefined) throw new PatchbayError('invalid_connect_session_token');
  if (session.expiresAt.getTime() <= nowMs) throw new PatchbayError('expired_connect_session_token');
  return session;
}

/** The token from `Authorization: Bearer …`, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** 403 unless the session may connect this integration (a reconnect session: only its own). */
export function assertIntegrationAllowed(session: ConnectSession, integrationKey: string): void {
  const allowed = session.reconnect !== null ? [session.reconnect.integrationKey] : session.allowedIntegrations;
  if (allowed !== null && !allowed.includes(integrationKey)) {
    throw new PatchbayError('integration_not_allowed', { message: `This connect session does not allow the integration ${integrationKey.slice(0, 200)}.` });
  }
}

/** The end user as stored on the connections a session makes (organization inside, as Nango shows it). */
export function endUserOf(session: ConnectSession) {
  if (session.endUser === null) return undefined;
  return { ...session.endUser, organization: session.organization };
}
