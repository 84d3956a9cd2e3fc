// A fake OAuth2 authorization server on 127.0.0.1 for the Connect flow: `/authorize` records
// what the browser was sent with and (in `approve` mode) redirects back with a code bound to
// the PKCE challenge and redirect URI; `/token` checks them and answers as told (JSON or form,
// with or without a refresh token, or failing). Also an API (`/api/*`) that echoes the bearer
// token it was called with, so a new connection can be proxied through.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AuthorizationSeen {
  params: URLSearchParams;
}

export interface TokenSeen {
  params: Record<string, string>;
  authorization: string | undefined;
  /** performance.now() when the request arrived and when its answer was written (benchmarks subtract it). */
  receivedAtMs: number;
  answeredAtMs: number;
}

export interface OAuthProvider {
  url: string;
  authorizeUrl: string;
  tokenUrl: string;
  authorizations: AuthorizationSeen[];
  tokenRequests: TokenSeen[];
  /** How /token answers next. */
  behaviour: { format: 'json' | 'form'; refreshToken: boolean; failWith: number | undefined; extra: Record<string, unknown> };
  /** What /authorize does: redirect back with a code, or with `error=access_denied`. */
  mode: 'approve' | 'deny';
  /** Access tokens issued, in order. */
  issued: string[];
  /** A providers.yaml entry (Nango's field names) for this server: OAuth2, its API under `/api`, `extra` on top. */
  catalogEntry(extra?: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startOAuthProvider(): Promise<OAuthProvider> {
  const codes = new Map<string, { challenge: string | null; redirectUri: string; clientId: string }>();
  const provider: OAuthProvider = {
    url: '',
    authorizeUrl: '',
    tokenUrl: '',
    close: async () => undefined,
    catalogEntry: (extra = {}) => ({
      display_name: 'Fake OAuth',
      auth_mode: 'OAUTH2',
      authorization_url: provider.authorizeUrl,
      token_url: provider.tokenUrl,
      scope_separator: ',',
      proxy: { base_url: `${provider.url}/api` },
      ...extra,
    }),
    authorizations: [],
    tokenRequests: [],
    behaviour: { format: 'json', refreshToken: true, failWith: undefined, extra: {} },
    mode: 'approve',
    issued: [],
  };

  const server = http.createServer((req, res) => {
    const receivedAtMs = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://provider');
      if (url.pathname === '/authorize') {
        provider.authorizations.push({ params: url.searchParams });
        const back = new URL(url.searchParams.get('redirect_uri') ?? 'http://invalid/');
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        if (provider.mode === 'deny') {
          back.searchParams.set('error', 'access_denied');
          back.searchParams.set('error_description', 'The user <b>denied</b> access');
        } else {
          const code = randomBytes(16).toString('hex');
          codes.set(code, {
            challenge: url.searchParams.get('code_challenge'),
            redirectUri: url.searchParams.get('redirect_uri') ?? '',
            clientId: url.searchParams.get('client_id') ?? '',
          });
          back.searchParams.set('code', code);
        }
        res.writeHead(302, { location: back.href });
        res.end();
        return;
      }
      if (url.pathname === '/token') {
        const text = Buffer.concat(chunks).toString('utf8');
        const params: Record<string, string> = (req.headers['content-type'] ?? '').includes('json')
          ? (JSON.parse(text) as Record<string, string>)
          : Object.fromEntries(new URLSearchParams(text));
        const seen: TokenSeen = { params, authorization: req.headers.authorization, receivedAtMs, answeredAtMs: receivedAtMs };
        provider.tokenRequests.push(seen);
        res.once('finish', () => {
          seen.answeredAtMs = performance.now();
        });
        const granted = codes.get(params.code ?? '');
        codes.delete(params.code ?? '');
        const verifierOk =
          granted !== undefined &&
          (granted.challenge === null || createHash('sha256').update(params.code_verifier ?? '').digest('base64url') === granted.challenge) &&
          granted.redirectUri === params.redirect_uri;
        if (provider.behaviour.failWith !== undefined || !verifierOk) {
          res.writeHead(provider.behaviour.failWith ?? 400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'code, verifier or redirect URI do not match' }));
          return;
        }
        const accessToken = `at-${randomBytes(8).toString('hex')}`;
        provider.issued.push(accessToken);
        const body: Record<string, unknown> = {
          access_token: accessToken,
          token_type: 'bearer',
          expires_in: 3600,
          ...(provider.behaviour.refreshToken ? { refresh_token: `rt-${randomBytes(8).toString('hex')}` } : {}),
          ...provider.behaviour.extra,
        };
        if (provider.behaviour.format === 'form') {
          res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' });
          res.end(new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)])).toString());
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        }
        return;
      }
      if (url.pathname.startsWith('/api/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ path: url.pathname, authorization: req.headers.authorization ?? null, apiKey: req.headers['x-api-key'] ?? null }));
        return;
      }
      res.writeHead(404);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  provider.url = base;
  provider.authorizeUrl = `${base}/authorize`;
  provider.tokenUrl = `${base}/token`;
  provider.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return provider;
}
