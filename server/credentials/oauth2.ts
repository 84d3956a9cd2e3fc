// The OAuth2 token endpoint call: refresh_token and client_credentials grants, with the
// provider's client authentication (body or Basic header) and body format (form or JSON).
import type { Dispatcher } from 'undici';
import { PatchbayError } from '../errors.js';
import { isHeaderSafeToken } from './header-safe.js';

export interface TokenRequest {
  url: string;
  params: Record<string, string>;
  clientId: string;
  clientSecret: string;
  authorizationMethod: 'body' | 'header';
  bodyFormat: 'form' | 'json';
  timeoutMs: number;
}

export interface TokenGrant {
  accessToken: string;
  refreshToken: string | undefined;
  expiresAt: Date | undefined;
  raw: Record<string, unknown>;
}

// A token response is a few hundred bytes (a JWT access token a few KB); a token endpoint that
// sends megabytes is broken or hostile, and must not fill the server's memory.
const MAX_TOKEN_RESPONSE_BYTES = 256 * 1024;

async function readAtMost(body: AsyncIterable<Buffer> & { destroy(): unknown }, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      body.destroy();
      const tooLarge: NodeJS.ErrnoException = new Error('token response too large');
      tooLarge.code = 'response_too_large';
      throw tooLarge;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/** A token answer whose access token could never be sent (header-safe.ts): refused, not stored. */
export const INVALID_ACCESS_TOKEN_MESSAGE =
  'The token endpoint answered an access token with characters that cannot be sent in an HTTP header (only printable ASCII, without spaces).';

function externalError(message: string, payload: Record<string, unknown>): PatchbayError {
  return new PatchbayError('refresh_token_external_error', { message, payload });
}

export async function requestToken(dispatcher: Dispatcher, request: TokenRequest, nowMs: number): Promise<TokenGrant> {
  const params: Record<string, string> = { ...request.params };
  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.authorizationMethod === 'header') {
    const basic = Buffer.from(`${encodeURIComponent(request.clientId)}:${encodeURIComponent(request.clientSecret)}`).toString('base64');
    headers.authorization = `Basic ${basic}`;
  } else {
    params.client_id = request.clientId;
    params.client_secret = request.clientSecret;
  }
  let body: string;
  if (request.bodyFormat === 'json') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(params);
  } else {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(params).toString();
  }

  const url = new URL(request.url);
  let status: number;
  let text: string;
  let contentType: string;
  try {
    const response = await dispatcher.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers,
      body,
      headersTimeout: request.timeoutMs,
      bodyTimeout: request.timeoutMs,
    });
    status = response.statusCode;
    contentType = String(response.headers['content-type'] ?? '');
    text = await readAtMost(response.body, MAX_TOKEN_RESPONSE_BYTES);
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'network_error';
    throw externalError(`The token endpoint could not be reached (${code}).`, { code });
  }

  let parsed: Record<string, unknown> = {};
  try {
    // GitHub answers form-encoded unless asked for JSON; accept both.
    parsed = contentType.includes('x-www-form-urlencoded')
      ? Object.fromEntries(new URLSearchParams(text))
      : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    parsed = {};
  }
  if (status < 200 || status >= 300 || typeof parsed.access_token !== 'string' || parsed.access_token === '') {
    // Only the OAuth error fields go out: the body could echo secrets back.
    const payload: Record<string, unknown> = { status };
    if (typeof parsed.error === 'string') payload.error = parsed.error;
    if (typeof parsed.error_description === 'string') payload.error_description = parsed.error_description;
    throw externalError(
      `The external API returned an error when trying to refresh the access token: ${payload.error ?? `HTTP ${status}`}.`,
      payload,
    );
  }
  if (!isHeaderSafeToken(parsed.access_token)) {
    // Stored, it would fail every proxy call (a header cannot carry it); the token itself stays out of the error.
    throw externalError(INVALID_ACCESS_TOKEN_MESSAGE, { status, invalid: 'access_token' });
  }
  let expiresAt: Date | undefined;
  const expiresIn = Number(parsed.expires_in);
  if (Number.isFinite(expiresIn) && expiresIn > 0) expiresAt = new Date(nowMs + expiresIn * 1000);
  else if (typeof parsed.expires_at === 'string' || typeof parsed.expires_at === 'number') {
    const at = new Date(parsed.expires_at);
    if (!Number.isNaN(at.getTime())) expiresAt = at;
  }
  return {
    accessToken: parsed.access_token,
    refreshToken: typeof parsed.refresh_token === 'string' && parsed.refresh_token !== '' ? parsed.refresh_token : undefined,
    expiresAt,
    raw: parsed,
  };
}
