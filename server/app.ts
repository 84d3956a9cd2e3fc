// buildApp(deps): the fastify instance with error handling, the secret-key scope and every
// route plugin. Constructs nothing itself: bin/ and the test harness pass the parts in.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { deferredChildLogger } from './request-logger.js';
import type { Config } from './config.js';
import { addSecretKeyAuth } from './plugins/auth.js';
import { registerErrorHandling } from './plugins/errors.js';
import type { Catalog } from './providers/catalog.js';
import type { FunctionRegistry } from './functions/registry.js';
import type { JobQueue, Wake } from './queue/index.js';
import { actionRoutes } from './routes/actions.js';
import { functionRoutes } from './routes/functions.js';
import { syncRoutes } from './routes/syncs.js';
import { connectionRoutes, type ConnectionEvents, type CredentialsRefresher } from './routes/connections.js';
import { integrationRoutes } from './routes/integrations.js';
import { logRoutes } from './routes/logs.js';
import { recordRoutes } from './routes/records.js';
import { proxyRoutes } from './routes/proxy.js';
import type { ProxyEngine } from './proxy/index.js';
import type { Store } from './store/index.js';

export interface AppDeps {
  config: Config;
  secretKey: string;
  store: Store;
  catalog: Catalog;
  logger: FastifyBaseLogger;
  proxy: ProxyEngine;
  events?: ConnectionEvents;
  refresher?: CredentialsRefresher;
  functions: FunctionRegistry;
  queue: JobQueue;
  wake: Wake;
  /** Announces a deploy to every process. */
  deployed: () => void;
  actionStartTimeoutMs?: number | undefined;
}

const NO_EVENTS: ConnectionEvents = { changed: () => undefined, integrationChanged: () => undefined };

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.config.maxBodyBytes,
    // Per-request log lines would cost more than the proxy's own work; calls are logged by us.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: deferredChildLogger,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  registerErrorHandling(app);
  acceptEmptyJsonBodies(app);
  // WebDAV and CalDAV verbs (RFC 4918, 4791, 5323, 3253): /proxy passes them to providers.
  for (const method of ['PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'MKCALENDAR']) {
    app.addHttpMethod(method, { hasBody: true });
  }

  app.get('/health', async () => ({ result: 'ok' }));

  await app.register(async (api) => {
    addSecretKeyAuth(api, deps.secretKey);
    const events = deps.events ?? NO_EVENTS;
    integrationRoutes(api, { ...deps, events });
    connectionRoutes(api, { ...deps, events, refresher: deps.refresher });
    logRoutes(api, deps);
    recordRoutes(api, deps);
    actionRoutes(api, deps);
    functionRoutes(api, deps);
    syncRoutes(api, deps);
    // Its own scope: the proxy replaces the body parsers with a raw pass-through.
    await api.register(async (scope) => proxyRoutes(scope, { proxy: deps.proxy, maxBodyBytes: deps.config.maxBodyBytes }));
  });

  return app;
}

/**
 * Clients (@nangohq/node's deleteConnection among them) send `Content-Type: application/json`
 * with an empty body; fastify's default parser refuses that with a 400. An empty body is no body.
 */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, done);
  });
}
