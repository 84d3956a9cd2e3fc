// Which /proxy calls the fast path takes before fastify routes them, on a real HTTP server: a call
// it takes is answered by serveProxy (here: the header check's 400, so no provider is needed); one
// it leaves goes on to the next handler (here: a 599 that says so), which in Patchbay is fastify.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { ProxyEngine } from '../../../../server/proxy/index.js';
import { createProxyFastPath } from '../../../../server/routes/proxy.js';

const SECRET = 'b1946ac9-2f2a-4c8d-9a3e-5c7d8e9f0a1b';
const quiet = { debug: () => undefined, error: () => undefined };

describe('the /proxy fast path', () => {
  const fast = createProxyFastPath({
    // Never reached: every call below that the fast path takes fails the header check first.
    proxy: {} as ProxyEngine,
    maxBodyBytes: 1024,
    secretKey: SECRET,
    maxPathLength: 64,
    logger: quiet,
  });
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (!fast.take(req, res)) res.writeHead(599).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const call = async (path: string, options: { method?: string; authorization?: string | null } = {}) => {
    const headers: Record<string, string> = {};
    if (options.authorization !== null) headers.authorization = options.authorization ?? `Bearer ${SECRET}`;
    const res = await request(`${base}${path}`, { method: (options.method ?? 'GET') as 'GET', headers });
    const text = await res.body.text();
    return { status: res.statusCode, json: text === '' ? undefined : (JSON.parse(text) as { error: { code: string } }) };
  };

  it('takes secret-key calls to /proxy, /proxy/… and /proxy?…, and answers them in the API error shape', async () => {
    for (const path of ['/proxy', '/proxy/repos', '/proxy?x=1', '/proxy/a/b?c=d']) {
      for (const method of ['GET', 'POST', 'DELETE', 'HEAD']) {
        const res = await call(path, { method });
        expect(res.status, `${method} ${path}`).toBe(400);
        if (method !== 'HEAD') expect(res.json?.error.code).toBe('invalid_headers');
      }
    }
    // The key is matched as the auth hook matches it: any case of "Bearer", spaces around it.
    expect((await call('/proxy/x', { authorization: `bearer   ${SECRET}  ` })).status).toBe(400);
  });

  it('leaves to fastify every call it does not handle exactly as fastify would', async () => {
    // No key, another key, a malformed header: fastify's auth hook answers (or a session cookie lets it in).
    expect((await call('/proxy/x', { authorization: null })).status).toBe(599);
    expect((await call('/proxy/x', { authorization: 'Bearer not-the-key' })).status).toBe(599);
    expect((await call('/proxy/x', { authorization: SECRET })).status).toBe(599);
    // Not the proxy route.
    expect((await call('/proxyx')).status).toBe(599);
    expect((await call('/connections')).status).toBe(599);
    // A percent-encoded path (fastify refuses an undecodable one) and one over maxParamLength.
    expect((await call('/proxy/a%2Fb')).status).toBe(599);
    expect((await call(`/proxy/${'a'.repeat(64)}`)).status).toBe(599);
    // A method fastify may not route (WebDAV's are added to fastify one by one).
    expect((await call('/proxy/x', { method: 'PROPFIND' })).status).toBe(599);
  });

  it('steps aside once the server is closing, so that fastify answers 503', async () => {
    const closing = createProxyFastPath({ proxy: {} as ProxyEngine, maxBodyBytes: 1024, secretKey: SECRET, maxPathLength: 64, logger: quiet });
    const req = { url: '/proxy/x', method: 'GET', headers: { authorization: `Bearer ${SECRET}` } } as http.IncomingMessage;
    closing.close();
    expect(closing.take(req, {} as http.ServerResponse)).toBe(false);
  });
});
