// Connect, the routes (Nango's shapes, so @nangohq/node and @nangohq/frontend work unchanged):
//   secret key:    POST /connect/sessions, POST /connect/sessions/reconnect
//   session token: GET/DELETE /connect/session, GET /connect/integrations,
//                  POST /api-auth/api-key/:integration, POST /api-auth/basic/:integration
//   browser popup: GET /oauth/connect/:integration, GET /oauth/callback
// Session-token routes answer CORS for any origin: the customer's page lives elsewhere, and the
// token (never a cookie) is what authorizes. The popup pages are HTML with a strict CSP.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createSession, authenticateSession, bearerToken, endUserOf } from '../connect/sessions.js';
import { FlowError, type ConnectFlows } from '../connect/flows.js';
import { hashSecret } from '../connect/tokens.js';
import type { WsHub } from '../connect/ws-hub.js';
import { isPatchbayError, PatchbayError, validationError } from '../errors.js';
import type { Catalog } from '../providers/catalog.js';
import type { ConnectSession, Store } from '../store/index.js';
import { bracketedQuery, mapKey, parseInput } from '../validate.js';
import { apiKeySchema, CONNECTION_ID, endUserSchema, tagsSchema, webhookUrl } from './connections.js';
import { UNIQUE_KEY } from './integrations.js';

export interface ConnectRouteDeps {
  store: Store;
  catalog: Catalog;
  flows: ConnectFlows;
  ws: WsHub;
  publicUrl: () => string;
  now?: () => number;
}

const organizationSchema = z.strictObject({ id: z.string().min(1).max(255), display_name: z.string().max(255).nullish() });
const configDefaults = z.record(
  mapKey,
  z.strictObject({
    user_scopes: z.string().max(2000).optional(),
    authorization_params: z.record(mapKey, z.string().max(2000)).optional(),
    connection_config: z.record(mapKey, z.unknown()).optional(),
  }),
);
// Nango's `overrides` (per-integration docs links in its UI) are accepted and have no effect here.
const overrides = z.record(mapKey, z.unknown()).optional();

const sessionBody = z
  .strictObject({
    end_user: endUserSchema.optional(),
    organization: organizationSchema.optional(),
    allowed_integrations: z.array(UNIQUE_KEY).max(500).optional(),
    integrations_config_defaults: configDefaults.optional(),
    tags: tagsSchema.optional(),
    overrides,
    webhook_url_override: webhookUrl.optional(),
  })
  .refine((body) => body.end_user !== undefined || body.tags !== undefined, { message: 'end_user or tags is required', path: ['end_user'] });

const reconnectBody = z.strictObject({
  connection_id: CONNECTION_ID,
  integration_id: UNIQUE_KEY,
  end_user: endUserSchema.optional(),
  organization: organizationSchema.optional(),
  integrations_config_defaults: configDefaults.optional(),
  tags: tagsSchema.optional(),
  overrides,
  webhook_url_override: webhookUrl.optional(),
});

const integrationParam = z.strictObject({ integration: UNIQUE_KEY });
const apiKeyBody = z.strictObject({ apiKey: apiKeySchema.max(4096) });
// Any text: the catalog's providers send a username and password base64-encoded (`Basic …`).
const basicBody = z.strictObject({ username: z.string().max(1024), password: z.string().max(1024) });

// What @nangohq/frontend puts in the popup's query: `params[key]=value`, one string per key.
const bracketedValues = z.record(z.string().min(1).max(100), z.string());

/** `params[key]=value` (or `authorization_params[…]`) pairs of a raw query, one string each. */
const bracketed = (query: Record<string, unknown>, name: string): Record<string, string> =>
  parseInput(bracketedValues, bracketedQuery(query, name), 'invalid_query_params');

const queryString = (query: unknown, name: string): string | undefined => {
  const value = (query as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
};

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-max-age': '600',
};

/** What a popup page may do: show itself, run its one script. */
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function resultPage(reply: FastifyReply, status: number, title: string, message: string): FastifyReply {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#111}main{max-width:28rem;padding:2rem;text-align:center}h1{font-size:1.25rem}</style>
</head><body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p><small>You can close this window.</small></p></main>
<script src="/oauth/close.js"></script></body></html>`;
  return reply
    .status(status)
    .headers({ 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_CSP, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff' })
    .send(html);
}

/** POST /connect/sessions and /connect/sessions/reconnect: inside the secret-key scope. */
export function connectSessionRoutes(app: FastifyInstance, deps: ConnectRouteDeps): void {
  const now = deps.now ?? Date.now;

  const assertIntegrationsExist = async (keys: string[]) => {
    for (const key of keys) {
      if ((await deps.store.integrations.getByKey(key)) === undefined) {
        throw validationError('invalid_body', [{ code: 'unknown_integration', message: `Integration ${key} does not exist`, path: ['allowed_integrations'] }]);
      }
    }
  };

  app.post('/connect/sessions', async (request, reply) => {
    const body = parseInput(sessionBody, request.body, 'invalid_body');
    if (body.allowed_integrations !== undefined) await assertIntegrationsExist(body.allowed_integrations);
    const data = await createSession(
      deps.store,
      {
        endUser: body.end_user ?? null,
        organization: body.organization ?? null,
        allowedIntegrations: body.allowed_integrations ?? null,
        integrationsConfigDefaults: body.integrations_config_defaults ?? {},
        tags: body.tags ?? {},
        webhookUrlOverride: body.webhook_url_override ?? null,
        reconnect: null,
      },
      deps.publicUrl(),
      now(),
    );
    return reply.status(201).send({ data });
  });

  app.post('/connect/sessions/reconnect', async (request, reply) => {
    const body = parseInput(reconnectBody, request.body, 'invalid_body');
    const connection = await deps.store.connections.get(body.integration_id, body.connection_id);
    if (connection === undefined) throw new PatchbayError('unknown_connection');
    const endUser = body.end_user ?? (connection.endUser === null ? null : { id: connection.endUser.id, email: connection.endUser.email, display_name: connection.endUser.display_name, tags: connection.endUser.tags });
    const data = await createSession(
      deps.store,
      {
        endUser,
        organization: body.organization ?? connection.endUser?.organization ?? null,
        allowedIntegrations: [body.integration_id],
        integrationsConfigDefaults: body.integrations_config_defaults ?? {},
        tags: body.tags ?? {},
        webhookUrlOverride: body.webhook_url_override ?? null,
        reconnect: { integrationKey: body.integration_id, connectionId: body.connection_id },
      },
      deps.publicUrl(),
      now(),
    );
    return reply.status(201).send({ data });
  });
}

/** The routes a browser calls with a session token, and the OAuth popup's pages: no secret key. */
export function connectPublicRoutes(app: FastifyInstance, deps: ConnectRouteDeps): void {
  const now = deps.now ?? Date.now;
  const sessionOf = (request: FastifyRequest) =>
    authenticateSession(deps.store, bearerToken(request.headers.authorization) ?? queryString(request.query, 'connect_session_token'), now());

  // CORS on every answer of this scope, errors included, and preflights for its paths.
  app.addHook('onSend', async (request, reply) => {
    if (!request.url.startsWith('/oauth/')) reply.headers(CORS_HEADERS);
  });
  for (const path of ['/connect/session', '/connect/integrations', '/api-auth/api-key/:integration', '/api-auth/basic/:integration']) {
    app.options(path, async (_request, reply) => reply.status(204).headers(CORS_HEADERS).send());
  }

  app.get('/connect/session', async (request) => {
    const session = await sessionOf(request);
    return { data: describeSession(session, await allowedKeys(deps, session)) };
  });

  app.delete('/connect/session', async (request, reply) => {
    const token = bearerToken(request.headers.authorization);
    await authenticateSession(deps.store, token, now());
    await deps.store.connect.deleteSession(hashSecret(token as string));
    return reply.status(204).send();
  });

  app.get('/connect/integrations', async (request) => {
    const session = await sessionOf(request);
    const keys = new Set(await allowedKeys(deps, session));
    const integrations = (await deps.store.integrations.list()).filter((integration) => keys.has(integration.uniqueKey));
    return {
      data: integrations.flatMap((integration) => {
        const provider = deps.catalog.get(integration.provider);
        if (provider === undefined) return [];
        const fields = (defs: typeof provider.connectionConfig) =>
          Object.fromEntries(
            Object.entries(defs)
              .filter(([, field]) => !field.automated && !field.hidden)
              .map(([key, field]) => [key, { title: field.title ?? key, description: field.description, pattern: field.pattern, optional: field.optional, example: field.example, prefix: field.prefix, suffix: field.suffix, secret: field.secret }]),
          );
        return [
          {
            unique_key: integration.uniqueKey,
            provider: integration.provider,
            display_name: integration.displayName ?? provider.displayName,
            auth_mode: provider.authMode,
            connection_config: fields(provider.connectionConfig),
            credentials: fields(provider.credentialFields),
          },
        ];
      }),
    };
  });

  const credentialsRoute = (mode: 'API_KEY' | 'BASIC') => async (request: FastifyRequest) => {
    const { integration } = parseInput(integrationParam, request.params, 'invalid_uri_params');
    const session = await sessionOf(request);
    const params = bracketed(request.query as Record<string, unknown>, 'params');
    const credentials =
      mode === 'API_KEY'
        ? { type: 'API_KEY' as const, apiKey: parseInput(apiKeyBody, request.body, 'invalid_body').apiKey }
        : { type: 'BASIC' as const, ...parseInput(basicBody, request.body, 'invalid_body') };
    return deps.flows.credentialsAuth(session, integration, mode, credentials, params);
  };
  // Credentials are small; a browser has no reason to send more.
  app.post('/api-auth/api-key/:integration', { bodyLimit: 64 * 1024 }, credentialsRoute('API_KEY'));
  app.post('/api-auth/basic/:integration', { bodyLimit: 64 * 1024 }, credentialsRoute('BASIC'));

  app.get('/oauth/connect/:integration', async (request, reply) => {
    const wsClientId = queryString(request.query, 'ws_client_id');
    try {
      const { integration } = parseInput(integrationParam, request.params, 'invalid_uri_params');
      const session = await sessionOf(request);
      const url = await deps.flows.startOAuth({
        session,
        integrationKey: integration,
        wsClientId: wsClientId !== undefined && /^[0-9a-f-]{36}$/.test(wsClientId) ? wsClientId : undefined,
        params: bracketed(request.query as Record<string, unknown>, 'params'),
        userScopes: (queryString(request.query, 'user_scope') ?? '').split(',').filter((scope) => scope !== '').slice(0, 100),
        authorizationParams: Object.fromEntries(Object.entries(bracketed(request.query as Record<string, unknown>, 'authorization_params')).filter(([, value]) => value !== 'undefined')),
      });
      return reply.redirect(url.href, 302);
    } catch (error) {
      const failure = flowErrorOf(error);
      if (failure === undefined) throw error;
      // The frontend waits on its socket: tell it too (the id is random; a wrong one reaches nobody).
      if (wsClientId !== undefined && /^[0-9a-f-]{36}$/.test(wsClientId)) {
        deps.ws.send(wsClientId, { message_type: 'error', error_type: failure.type, error_desc: failure.message });
      }
      return resultPage(reply, failure.status, 'Could not connect', failure.message);
    }
  });

  app.get('/oauth/callback', async (request, reply) => {
    try {
      const result = await deps.flows.finishOAuth({
        state: queryString(request.query, 'state'),
        code: queryString(request.query, 'code'),
        error: queryString(request.query, 'error'),
        errorDescription: queryString(request.query, 'error_description'),
      });
      return resultPage(reply, 200, 'Connected', `Your account is connected (${result.providerConfigKey}). This window closes by itself.`);
    } catch (error) {
      const failure = flowErrorOf(error);
      if (failure === undefined) throw error;
      return resultPage(reply, failure.status, 'Could not connect', failure.message);
    }
  });

  app.get('/oauth/close.js', async (_request, reply) =>
    reply
      .headers({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' })
      .send('setTimeout(function () { window.close(); }, 1500);\n'),
  );
}

/** A failure the popup page can explain; anything else goes to the error handler (a 500 with an id). */
function flowErrorOf(error: unknown): FlowError | undefined {
  if (error instanceof FlowError) return error;
  if (isPatchbayError(error)) return new FlowError(error.code, error.message, error.status);
  return undefined;
}

async function allowedKeys(deps: ConnectRouteDeps, session: ConnectSession): Promise<string[]> {
  if (session.reconnect !== null) return [session.reconnect.integrationKey];
  if (session.allowedIntegrations !== null) return session.allowedIntegrations;
  return (await deps.store.integrations.list()).map((integration) => integration.uniqueKey);
}

function describeSession(session: ConnectSession, allowed: string[]) {
  const endUser = endUserOf(session);
  return {
    allowed_integrations: allowed,
    integrations_config_defaults: session.integrationsConfigDefaults,
    endUser: endUser === undefined ? null : { id: endUser.id, email: endUser.email ?? null, display_name: endUser.display_name ?? null, tags: endUser.tags ?? null, organization: endUser.organization ?? null },
    organization: session.organization,
    tags: session.tags,
    isReconnecting: session.reconnect !== null,
    ...(session.reconnect === null ? {} : { connection_id: session.reconnect.connectionId }),
    expires_at: session.expiresAt.toISOString(),
  };
}
