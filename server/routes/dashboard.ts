// The dashboard: GET / (one HTML page; the UI routes on the URL's hash), its script (one bundle,
// dashboard/bundle.ts: nothing from the internet, no build command), its stylesheet and icon under
// /dashboard/ui/, and the session routes (login, logout, session). The pages read the same HTTP
// API as everyone, with the cookie.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PatchbayError } from '../errors.js';
import { DASHBOARD_BUNDLE_FILE, loadDashboardBundle } from '../dashboard/bundle.js';
import type { DashboardSessions } from '../dashboard/sessions.js';
import { parseInput } from '../validate.js';

const UI_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dashboard', 'ui');


const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// A 36-character generated key, or the 16–256 characters PATCHBAY_SECRET_KEY allows.
const loginBody = z.strictObject({ secret_key: z.string().min(1).max(256) });
/** The login body is one short field. */
const LOGIN_BODY_BYTES = 4096;

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const etagOf = (body: Buffer) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;

/** No inline script at all; everything from this origin; never framed (`frame-ancestors 'none'`, and X-Frame-Options for older browsers). */
export function buildDashboardCsp(): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export interface DashboardRouteDeps {
  sessions: DashboardSessions;
  /** PATCHBAY_PUBLIC_URL, when set: an https one makes the cookie Secure behind a TLS proxy. */
  publicUrl: string | undefined;
}

export async function dashboardRoutes(app: FastifyInstance, deps: DashboardRouteDeps): Promise<void> {
  const { sessions } = deps;
  const headers = {
    'content-security-policy': buildDashboardCsp(),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
  };

  // The stylesheet and icon; the modules only reach the browser bundled.
  const ui = new Map<string, Asset>();
  for (const name of await readdir(UI_DIR)) {
    const type = TYPES[path.extname(name)];
    if (type === undefined || name.endsWith('.js')) continue;
    const body = await readFile(path.join(UI_DIR, name));
    ui.set(name, { body, type, etag: etagOf(body) });
  }
  let bundle: Asset | undefined;
  const bundled = async () => {
    if (bundle === undefined) {
      const body = await loadDashboardBundle();
      bundle = { body, type: TYPES['.js'] as string, etag: etagOf(body) };
    }
    return bundle;
  };
  const page = Buffer.from(
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Patchbay</title>
<link rel="icon" href="/dashboard/ui/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/ui/dashboard.css">
<script type="module" src="/dashboard/ui/${DASHBOARD_BUNDLE_FILE}"></script>
</head>
<body>
<div id="app"><noscript>The Patchbay dashboard needs JavaScript.</noscript></div>
</body>
</html>
`,
  );

  const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset | undefined) => {
    if (asset === undefined) throw new PatchbayError('not_found');
    // Revalidated on every load: the files change with each release and have no hash in their names.
    reply.headers({ ...headers, 'cache-control': 'no-cache', etag: asset.etag });
    if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
    return reply.type(asset.type).send(asset.body);
  };

  app.get('/', async (_request, reply) => reply.headers({ ...headers, 'cache-control': 'no-store' }).type('text/html; charset=utf-8').send(page));
  app.get('/dashboard', async (_request, reply) => reply.headers(headers).redirect('/', 302));
  app.get('/dashboard/ui/:file', async (request, reply) => {
    const file = (request.params as { file: string }).file;
    return send(request, reply, file === DASHBOARD_BUNDLE_FILE ? await bundled() : ui.get(file));
  });

  const isSecure = (request: FastifyRequest) => request.protocol === 'https' || (deps.publicUrl?.startsWith('https:') ?? false);

  app.post('/dashboard/login', { bodyLimit: LOGIN_BODY_BYTES }, async (request, reply) => {
    const body = parseInput(loginBody, request.body, 'invalid_body');
    const outcome = await sessions.login(body.secret_key, request.ip);
    if ('refused' in outcome) {
      if (outcome.refused === 'locked') {
        reply.header('retry-after', String(Math.ceil(outcome.retryAfterMs / 1000)));
        throw new PatchbayError('too_many_login_attempts', { fields: { retry_after_ms: outcome.retryAfterMs } });
      }
      throw new PatchbayError('unknown_account', { message: 'That is not the secret key of this Patchbay.' });
    }
    return reply
      .headers({ 'set-cookie': sessions.cookie(outcome.token, isSecure(request)), 'cache-control': 'no-store' })
      .send({ csrf_token: outcome.csrfToken, expires_at: outcome.expiresAt.toISOString() });
  });

  app.get('/dashboard/session', async (request, reply) => {
    const session = await sessions.authenticate(request);
    return reply.header('cache-control', 'no-store').send({ csrf_token: session.csrfToken });
  });

  // The session must be valid and the CSRF header right: a forged logout is still a forgery.
  app.post('/dashboard/logout', async (request, reply) => {
    await sessions.authenticate(request);
    await sessions.logout(request);
    return reply.headers({ 'set-cookie': sessions.cookie(undefined, isSecure(request)), 'cache-control': 'no-store' }).send({ success: true });
  });
}

