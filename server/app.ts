// buildApp(deps): the fastify instance with error handling, the secret-key scope and every
// route plugin. Constructs nothing itself: bin/ and the test harness pass the parts in.
import http from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { deferredChildLogger } from './request-logger.js';
import type { Config } from './config.js';
import type { VerifyDeps } from './credentials/verify.js';
import { addSecretKeyAuth } from './plugins/auth.js';
import { answerClientError, registerErrorHandling, sendError } from './plugins/errors.js';
import type { Catalog } from './providers/catalog.js';
import type { FunctionRegistry } from './functions/registry.js';
import type { DirectRunner, JobQueue, Wake } from './queue/index.js';
import type { ProviderLookup } from './store/provider-cache.js';
import { actionRoutes } from './routes/actions.js';
import { functionRoutes } from './routes/functions.js';
import { dryRunRoutes } from './routes/dryrun.js';
import { healthRoutes } from './routes/health.js';
import { connectUiRoutes } from './routes/connect-ui.js';
import { syncRoutes } from './routes/syncs.js';
import { connectionRoutes, type ConnectionEvents, type CredentialsRefresher } from './routes/connections.js';
import { integrationRoutes } from './routes/integrations.js';
import { logRoutes } from './routes/logs.js';
import { recordRoutes } from './routes/records.js';
import { createProxyFastPath, proxyRoutes } from './routes/proxy.js';
import { connectPublicRoutes, connectSessionRoutes } from './routes/connect.js';
import type { ConnectFlows } from './connect/flows.js';
import type { WsHub } from './connect/ws-hub.js';
import { rateLimitRoutes } from './routes/rate-limits.js';
import { connectionSummaryRoute } from './routes/connection-summary.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { logStreamRoute } from './routes/log-stream.js';
import { metricsRoute, overviewRoute } from './routes/metrics.js';
import { providerRoutes } from './routes/providers.js';
import { runRoutes } from './routes/runs.js';
import type { DashboardSessions } from './dashboard/sessions.js';
import type { LiveLogs } from './logs/live.js';
import type { MetricsSource } from './metrics/index.js';
import { pacePrefixOf } from './proxy/pacer.js';
import type { ProxyEngine } from './proxy/index.js';
import type { DatabaseProbe, Store } from './store/index.js';
import { validationError } from './errors.js';
import { exceedsDepth, MAX_JSON_DEPTH } from './validate.js';

export interface AppDeps {
  config: Config;
  secretKey: string;
  store: Store;
  /** Answers GET /ready. */
  database: DatabaseProbe;
  catalog: Catalog;
  logger: FastifyBaseLogger;
  proxy: ProxyEngine;
  events?: ConnectionEvents;
  refresher?: CredentialsRefresher;
  /** Calls the provider to check API_KEY and BASIC credentials before they are stored. */
  verification: VerifyDeps;
  functions: FunctionRegistry;
  queue: JobQueue;
  wake: Wake;
  /** A runner of this process that takes waited-for actions straight (server/queue/direct.ts). */
  direct?: DirectRunner | undefined;
  /** Which connections exist and their provider, remembered (action triggers and record reads check it). */
  providers?: ProviderLookup | undefined;
  /** Announces a deploy to every process. */
  deployed: () => void;
  /** Tells every process to forget a connection's pacing state; default: this process only. */
  resetPacing?: (providerConfigKey: string, connectionId: string) => void;
  actionStartTimeoutMs?: number | undefined;
  /** Connect (sessions, OAuth, api-auth); absent: the routes are not served. */
  connect?: { flows: ConnectFlows; ws: WsHub; publicUrl: () => string } | undefined;
  /** The dashboard (GET /, its session cookie), /metrics, /overview and /logs/stream; absent: not served. */
  dashboard?: { sessions: DashboardSessions; metrics: MetricsSource; live: LiveLogs } | undefined;
}

/**
 * fastify's default (100) answered a 414 in its own shape for connection ids over 100 characters,
 * which the API accepts up to 255: percent-encoded UTF-8, those take up to 255 × 9 bytes.
 */
const MAX_PATH_PARAM_LENGTH = 2300;

const NO_EVENTS: ConnectionEvents = { changed: () => undefined, integrationChanged: () => undefined };

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const fastProxy = createProxyFastPath({
    proxy: deps.proxy,
    maxBodyBytes: deps.config.maxBodyBytes,
    secretKey: deps.secretKey,
    maxPathLength: '/proxy/'.length + MAX_PATH_PARAM_LENGTH,
    logger: deps.logger,
  });
  const app = Fastify({
    // fastify's own server, with /proxy calls made with the secret key taken before it routes
    // them (routes/proxy.ts createProxyFastPath); set up as fastify sets up the server it makes.
    serverFactory: (handler, fastifyOptions) => {
      const options = fastifyOptions as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number; maxRequestsPerSocket: number };
      const server = http.createServer((req, res) => {
        if (!fastProxy.take(req, res)) handler(req, res);
      });
      server.keepAliveTimeout = options.keepAliveTimeout;
      server.requestTimeout = options.requestTimeout;
      server.setTimeout(options.connectionTimeout);
      if (options.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
      return server;
    },
    loggerInstance: deps.logger,
    bodyLimit: deps.config.maxBodyBytes,
    // PATCHBAY_TRUST_PROXY: request.ip (the login throttle's key) and request.protocol from the
    // X-Forwarded-* headers of these peers only; by default the peer's own address.
    trustProxy: deps.config.trustProxy,
    // Per-request log lines would cost more than the proxy's own work; calls are logged by us.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: deferredChildLogger,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Bad URLs and HTTP parser refusals answer in our error shape too, not fastify's.
    frameworkErrors: sendError,
    clientErrorHandler: answerClientError,
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
  });
  registerErrorHandling(app);
  // Closing: fastify answers new requests with a 503 (return503OnClosing); the fast path steps aside.
  app.addHook('preClose', (done) => {
    fastProxy.close();
    done();
  });
  acceptEmptyJsonBodies(app);
  // WebDAV and CalDAV verbs (RFC 4918, 4791, 5323, 3253): /proxy passes them to providers.
  for (const method of ['PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'MKCALENDAR']) {
    app.addHttpMethod(method, { hasBody: true });
  }

  healthRoutes(app, deps);
  // The hosted Connect UI page: no key, and the one page that may be framed.
  await app.register(connectUiRoutes);
  const connect = deps.connect;
  if (connect !== undefined) {
    const connectDeps = { store: deps.store, catalog: deps.catalog, flows: connect.flows, ws: connect.ws, publicUrl: connect.publicUrl };
    // The session-token routes and the popup pages: their own scope, without the secret key.
    await app.register(async (scope) => connectPublicRoutes(scope, connectDeps));
    // @nangohq/frontend opens its socket on the host's root path.
    connect.ws.attach(app.server, '/');
    app.addHook('onClose', async () => connect.ws.close());
  }

  const dashboard = deps.dashboard;
  if (dashboard !== undefined) {
    // The page, its files and the session routes: their own scope, without the secret key.
    await app.register(async (scope) => dashboardRoutes(scope, { sessions: dashboard.sessions, publicUrl: deps.config.publicUrl }));
    // PATCHBAY_METRICS_PUBLIC: for a scraper on a private network that holds no key.
    if (deps.config.metricsPublic) await app.register(async (scope) => metricsRoute(scope, { metrics: dashboard.metrics, store: deps.store }));
  }

  await app.register(async (api) => {
    // The dashboard's session cookie authenticates API calls too (with its CSRF header).
    addSecretKeyAuth(api, deps.secretKey, dashboard?.sessions);
    if (dashboard !== undefined) {
      if (!deps.config.metricsPublic) metricsRoute(api, { metrics: dashboard.metrics, store: deps.store });
      overviewRoute(api, { metrics: dashboard.metrics, store: deps.store });
      logStreamRoute(api, { live: dashboard.live });
      connectionSummaryRoute(api, deps);
      runRoutes(api, deps);
      providerRoutes(api, deps);
    }
    const events = deps.events ?? NO_EVENTS;
    integrationRoutes(api, { ...deps, events });
    connectionRoutes(api, { ...deps, events, refresher: deps.refresher });
    logRoutes(api, deps);
    recordRoutes(api, deps);
    actionRoutes(api, deps);
    functionRoutes(api, deps);
    dryRunRoutes(api, deps);
    syncRoutes(api, deps);
    if (connect !== undefined) connectSessionRoutes(api, { store: deps.store, catalog: deps.catalog, flows: connect.flows, ws: connect.ws, publicUrl: connect.publicUrl });
    rateLimitRoutes(api, {
      store: deps.store,
      proxy: deps.proxy,
      resetPacing: deps.resetPacing ?? ((key, id) => void deps.proxy.pacer.reset(pacePrefixOf(key, id))),
    });
    // Its own scope: the proxy replaces the body parsers with a raw pass-through.
    await api.register(async (scope) => proxyRoutes(scope, { proxy: deps.proxy, maxBodyBytes: deps.config.maxBodyBytes }));
  });

  return app;
}

/**
 * Clients (@nangohq/node's deleteConnection among them) send `Content-Type: application/json`
 * with an empty body; fastify's default parser refuses that with a 400. An empty body is no body.
 * A body nested deeper than MAX_JSON_DEPTH is refused here, before any handler walks it.
 */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, (error: Error | null, value?: unknown) => {
      if (error === null && exceedsDepth(value, MAX_JSON_DEPTH)) {
        return done(validationError('invalid_body', [{ code: 'too_deep', message: `JSON may nest at most ${MAX_JSON_DEPTH} levels`, path: [] }]));
      }
      done(error, value);
    });
  });
}
