// The secrets of the Connect flow: session tokens (given to the app's frontend), OAuth states
// (in the provider's redirect) and PKCE verifiers. All are 256 random bits; tokens and states
// are stored only as SHA-256 hashes, and compared by looking the hash up.
import { createHash, randomBytes } from 'node:crypto';

/** Nango's prefix: apps and log scrubbers recognise these tokens by it. */
export const SESSION_TOKEN_PREFIX = 'nango_connect_session_';

export function newSessionToken(): string {
  return `${SESSION_TOKEN_PREFIX}${randomBytes(32).toString('hex')}`;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function newState(): string {
  return randomBytes(32).toString('base64url');
}

/** RFC 7636: a 43-character verifier and its S256 challenge. */
export function newPkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}
