// GET /connect/ — the hosted Connect UI (server/connect-ui/: plain HTML, JS and CSS, no build),
// outside the secret-key scope. The one page meant to be framed by a customer's app; it holds
// no secret and reads nothing from the store: the page calls the API with a session token.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const UI_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'connect-ui');

/** The page's files, by the name it asks for them under /connect/ (relative URLs in index.html). */
const ASSETS = {
  'connect.js': 'text/javascript; charset=utf-8',
  'connect.css': 'text/css; charset=utf-8',
} as const;

// A Host header is client input: only a plain host[:port] goes into the policy, anything else
// leaves connect-src at 'self' (which CSP Level 3 browsers already extend to ws/wss on this host).
const PLAIN_HOST = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * Scripts and styles from this origin only, no inline script; fetch and the OAuth WebSocket to
 * this host only; `frame-ancestors *` because being framed by the customer's app is the point.
 * `form-action 'none'`: forms are sent by script, so a form that somehow submits natively cannot
 * put a secret in a URL.
 */
export function buildConnectUiCsp(host: string | undefined): string {
  const sockets = host !== undefined && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self'${sockets}`,
    "base-uri 'none'",
    "form-action 'none'",
    'frame-ancestors *',
  ].join('; ');
}

function securityHeaders(request: FastifyRequest): Record<string, string> {
  return {
    'content-security-policy': buildConnectUiCsp(request.headers.host),
    'x-content-type-options': 'nosniff',
    // A connect_link carries the session token in its query string: no Referer may repeat it.
    'referrer-policy': 'no-referrer',
  };
}

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

async function loadAsset(name: string, type: string): Promise<Asset> {
  const body = await readFile(path.join(UI_DIR, name));
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

export async function connectUiRoutes(app: FastifyInstance): Promise<void> {
  const page = await loadAsset('index.html', 'text/html; charset=utf-8');
  const assets = await Promise.all(Object.entries(ASSETS).map(async ([name, type]) => [name, await loadAsset(name, type)] as const));

  // The page's relative URLs resolve only under '/connect/' (as @nangohq/frontend's ConnectUI
  // knows: it adds the slash). Relative Location, so a path prefix added by a proxy survives.
  app.get('/connect', async (request, reply) => {
    const queryAt = request.url.indexOf('?');
    return reply
      .headers({ ...securityHeaders(request), 'cache-control': 'no-store' })
      .redirect(`connect/${queryAt === -1 ? '' : request.url.slice(queryAt)}`, 302);
  });

  // Never cached: the URL may hold a session token.
  app.get('/connect/', async (request, reply) => reply.headers({ ...securityHeaders(request), 'cache-control': 'no-store' }).type(page.type).send(page.body));

  for (const [name, asset] of assets) {
    app.get(`/connect/${name}`, async (request, reply) => sendAsset(request, reply, asset));
  }
}

/** Revalidated on every load (the files change with each release and have no hash in their names). */
function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply.headers({ ...securityHeaders(request), 'cache-control': 'no-cache', etag: asset.etag });
  if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
  return reply.type(asset.type).send(asset.body);
}
