// A fake OAuth2 token endpoint on 127.0.0.1: issues numbered access tokens, counts refreshes,
// and can be told to fail or to be slow.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenServer {
  url: string;
  tokenUrl: string;
  /** Bodies of the token requests received, parsed (form or JSON). */
  requests: { grantType: string; params: Record<string, string>; authorization: string | undefined }[];
  refreshCount(): number;
  /** Next responses: 'ok', or an HTTP status to fail with; `accessToken` answers that token instead of a numbered one. */
  behaviour: { latencyMs: number; failWith: number | undefined; expiresIn: number; rotateRefreshToken: boolean; accessToken?: string | undefined };
  lastIssued(): string | undefined;
  close(): Promise<void>;
}

export async function startTokenServer(): Promise<TokenServer> {
  const requests: TokenServer['requests'] = [];
  let issued = 0;
  let last: string | undefined;
  const behaviour: TokenServer['behaviour'] = { latencyMs: 0, failWith: undefined, expiresIn: 3600, rotateRefreshToken: true };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const params: Record<string, string> = (req.headers['content-type'] ?? '').includes('json')
        ? (JSON.parse(text) as Record<string, string>)
        : Object.fromEntries(new URLSearchParams(text));
      requests.push({ grantType: params.grant_type ?? '', params, authorization: req.headers.authorization });
      if (behaviour.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, behaviour.latencyMs));
      if (behaviour.failWith !== undefined) {
        res.writeHead(behaviour.failWith, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_grant', error_description: `refresh token ${params.refresh_token} revoked` }));
        return;
      }
      issued++;
      last = behaviour.accessToken ?? `access-${issued}-${Math.random().toString(36).slice(2, 8)}`;
      const body: Record<string, unknown> = { access_token: last, token_type: 'bearer', expires_in: behaviour.expiresIn };
      if (params.grant_type === 'refresh_token' && behaviour.rotateRefreshToken) body.refresh_token = `refresh-${issued}`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    tokenUrl: `${url}/oauth/token`,
    requests,
    refreshCount: () => requests.filter((r) => r.grantType === 'refresh_token').length,
    behaviour,
    lastIssued: () => last,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
