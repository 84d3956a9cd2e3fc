// The composition root: builds every part from a Config and starts the roles asked for.
// bin/patchbay.ts and the test harness both start Patchbay through here.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import pino from 'pino';
import type { Config } from '../server/config.js';
import { createCipher } from '../server/credentials/cipher.js';
import { isPatchbayError } from '../server/errors.js';
import { checkEncryptionKey } from '../server/credentials/key-check.js';
import { createCredentialsManager } from '../server/credentials/refresh.js';
import { startLogRetention } from '../server/logs/retention.js';
import { createLogWriter, type LogWriter } from '../server/logs/writer.js';
import { createLiveLogs, LOG_CHUNKS_CHANNEL } from '../server/logs/live.js';
import { createMetricsRecorder, createMetricsSource, startMetricsServer, type MetricsRecorder, type MetricsSnapshot } from '../server/metrics/index.js';
import { createDashboardSessions } from '../server/dashboard/sessions.js';
import { loadCatalog, type Catalog } from '../server/providers/catalog.js';
import { createProxyEngine, createUpstreamAgent, type ProxyEngine } from '../server/proxy/index.js';
import { createFunctionRegistry } from '../server/functions/registry.js';
import { createJobQueue, createRunSlots, createWake, RUNNER_LOST, startReaper, startScheduler, type DirectRunner, type FinishedRun } from '../server/queue/index.js';
import { pacePrefixOf } from '../server/proxy/pacer.js';
import { createChangeFeed } from '../server/store/change-feed.js';
import { createProviderCache } from '../server/store/provider-cache.js';
import { createDatabaseProbe, createNotifications, createPool, createStore, migrate, type ListeningNotifications, type Notifications, type Pool, type Store } from '../server/store/index.js';
import { createWebhookSender } from '../server/webhooks/index.js';
import { createConnectFlows } from '../server/connect/flows.js';
import { createWsHub } from '../server/connect/ws-hub.js';
import { createSandbox, type Sandbox } from '../runner/sandbox/index.js';
import { createWorker, type Worker } from '../runner/worker.js';
import { createDryRunner } from '../runner/dryrun.js';
import type { OperationDeps } from '../runner/operations.js';
import { loadDataDirSecrets, recordServerAddress, usesDataDir } from './data-dir.js';
import { beginStartDeploy, type StartDeploy } from './deploy-at-start.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';
import type { RestartPolicy } from './restart-policy.js';
import { startRunnerThread, type RunnerThread } from './runner-thread.js';

export type Role = 'server' | 'runner';

/**
 * Isolates the runner makes at start and keeps when idle (each holds a prepared context, a few MB):
 * the first run after start finds one ready, and an idle runner stays small.
 */
const RUNNER_MIN_ISOLATES = 1;

/** How long `stop` lets in-flight HTTP requests finish before closing their sockets. */
const SHUTDOWN_GRACE_MS = 5000;

export interface System {
  /** The HTTP API's base URL, when the server role runs. */
  url: string | undefined;
  secretKey: string;
  proxy: ProxyEngine;
  logs: LogWriter;
  /** This thread's counters (what /metrics serves, with the runner thread's). */
  metrics: MetricsRecorder;
  /** GET /metrics of a runner-only process (PATCHBAY_METRICS_PORT), when it serves one. */
  metricsUrl: string | undefined;
  /** The runner, when it runs on this thread. */
  worker: Worker | undefined;
  /** The runner, when it runs on a thread of its own (`runnerThread`). */
  runnerThread: RunnerThread | undefined;
  databaseUrl: string;
  embedded: boolean;
  generatedSecretKey: boolean;
  stop(): Promise<void>;
}

export interface SystemOptions {
  roles: Role[];
  logger?: pino.Logger;
  /** Embedded PostgreSQL tuned for throwaway data (tests). */
  fastEmbeddedDatabase?: boolean;
  /** Smaller backoffs and timeouts for tests. */
  proxyTuning?: { baseBackoffMs?: number; maxBackoffMs?: number; headersTimeoutMs?: number; bodyTimeoutMs?: number };
  /** Bundle and deploy `config.functionsDir` before serving (`patchbay start`). */
  deployFunctions?: boolean;
  /** That deploy, begun already (bin/patchbay.ts begins it before loading this module); else begun here. */
  startDeploy?: StartDeploy | undefined;
  /** Shorter runner timers and deadlines for tests. */
  runnerTuning?: { pollMs?: number; heartbeatMs?: number; staleMs?: number; reapMs?: number; stopGraceMs?: number; actionStartTimeoutMs?: number };
  /**
   * With both roles, run the runner on a worker thread (bin/runner-thread.ts), so that what
   * functions make the host do never delays HTTP. Default true (`patchbay start`); tests that
   * reach into the runner's in-process parts pass false.
   */
  runnerThread?: boolean;
  /** The embedded PostgreSQL died and could not be restarted: the process should end (bin/patchbay.ts). */
  onFatal?: (error: Error) => void;
  /** The embedded PostgreSQL's restart policy (tests). */
  embeddedRestart?: Partial<RestartPolicy>;
  /**
   * The runner thread of `patchbay start` (bin/runner-thread-entry.ts): the run slots it shares
   * with the server thread, which hands it waited-for actions, and where their results go.
   */
  handedRuns?: { slots: SharedArrayBuffer; finished: (run: FinishedRun) => void };
  /**
   * The runner thread of `patchbay start`: makes its notifications, relayed from the server
   * thread's LISTEN connection (createRelayedNotifications), instead of a LISTEN connection.
   */
  relayedNotifications?: (pool: Pool, logger: pino.Logger) => Notifications;
}

/** http://localhost:<port> when listening on every interface (what a browser on this machine types), else the address itself. */
function defaultPublicUrl(listening: URL | undefined, host: string, configuredPort?: number): string {
  const port = listening?.port ?? String(configuredPort ?? 3003);
  const everywhere = host === '0.0.0.0' || host === '::' || host === '';
  return everywhere ? `http://localhost:${port}` : `${listening?.protocol ?? 'http:'}//${listening?.host ?? `${host}:${port}`}`;
}

/** What a part needs to be stopped; stopped in reverse order of starting. */
type Stops = (() => Promise<void>)[];

export async function startSystem(config: Config, options: SystemOptions): Promise<System> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { app: 'patchbay' } });
  const stack: Stops = [];
  const stopAll = async () => {
    for (const stop of stack.splice(0).reverse()) await stop().catch((error) => logger.error({ err: error }, 'stop failed'));
  };

  // Started before the database: a folder that must be built builds beside its start.
  const startDeploy = options.startDeploy ?? (options.deployFunctions === true ? beginStartDeploy(config, logger) : undefined);
  let cancelDeploy = startDeploy === undefined ? undefined : () => startDeploy.cancel();
  try {
    const database = await openDatabase(config, options, logger, stack);
    const core = await startCore(config, options, logger, database, stack);
    const { store, feed } = core;
    const deployed = () => feed.publish({ kind: 'functions' });

    const runnerThreadAsked = options.roles.includes('runner') && options.roles.includes('server') && options.runnerThread !== false;
    const runnerHere = options.roles.includes('runner') && !runnerThreadAsked;
    if (startDeploy !== undefined) {
      const finishing = startDeploy.finish({ store, deployed });
      // Given back by `finish` itself; a start failing before it lets the build end instead.
      cancelDeploy = undefined;
      await finishing;
    }

    // The runner starts before the HTTP server, so it stops after it: requests in flight at
    // shutdown still get their runs finished. Its thread loads its own copy of every module
    // meanwhile the server is built and listening (/health answers sooner; a run asked for in
    // between waits in the queue); startSystem resolves once both are up.
    let runnerThread: RunnerThread | undefined;
    let runnerThreadStarting: Promise<RunnerThread> | undefined;
    if (runnerThreadAsked) {
      const { listening } = core;
      if (listening === undefined) throw new Error('a runner thread starts no runner thread');
      const starting = startRunnerThread({
        logger,
        notifications: listening,
        data: {
          config: { ...config, databaseUrl: database.url, secretKey: database.secretKey, encryptionKey: database.encryptionKey },
          proxyTuning: options.proxyTuning,
          runnerTuning: options.runnerTuning,
        },
        onRunFinished: (run) => core.wake.finishedHere(run),
      });
      runnerThreadStarting = starting;
      // Awaited once the server listens; a failure meanwhile is not unhandled.
      starting.catch(() => undefined);
      stack.push(async () => (await starting.catch(() => undefined))?.stop());
    }
    let worker: Worker | undefined;
    // A waited-for action goes straight to a free slot of this process's runner (its thread or
    // this one), skipping the queue; other processes' runners take tickets.
    const direct: DirectRunner = { take: () => (runnerThread ?? worker?.direct)?.take() };
    let metricsUrl: string | undefined;
    if (runnerHere) {
      // One isolate ready at once; more as concurrent runs need them, gone again when idle.
      const sandbox = createSandbox({ size: config.runnerConcurrency, minIsolates: RUNNER_MIN_ISOLATES });
      stack.push(() => sandbox.close());
      const runner = await startRunnerHere(config, options, logger, core, { sandbox, direct, secretKey: database.secretKey }, stack);
      worker = runner.worker;
      metricsUrl = runner.metricsUrl;
    }

    let url: string | undefined;
    if (options.roles.includes('server')) {
      url = await startServer(config, options, logger, core, {
        secretKey: database.secretKey,
        pool: database.pool,
        deployed,
        direct,
        runnerMetrics: async () => (runnerThread === undefined ? [] : [await runnerThread.metrics()]),
      }, stack);
    }
    if (runnerThreadStarting !== undefined) {
      const thread = await runnerThreadStarting;
      runnerThread = thread;
      logger.info({ runner: thread.runnerId, thread: thread.threadId, concurrency: config.runnerConcurrency }, 'runner started on its own thread');
    }

    return {
      url,
      metricsUrl,
      secretKey: database.secretKey,
      proxy: core.engine,
      logs: core.logs,
      metrics: core.metrics,
      worker,
      runnerThread,
      databaseUrl: database.url,
      embedded: database.embedded,
      generatedSecretKey: config.secretKey === undefined && database.generatedSecrets,
      stop: stopAll,
    };
  } catch (error) {
    await cancelDeploy?.();
    await stopAll();
    throw error;
  }
}

interface Database {
  url: string;
  embedded: boolean;
  /** The data dir's secrets were created by this start. */
  generatedSecrets: boolean;
  secretKey: string;
  encryptionKey: Buffer;
  pool: Pool;
  bookkeepingPool: Pool;
  store: Store;
  catalog: Catalog;
}

/** The catalog, the keys, PostgreSQL (embedded unless DATABASE_URL), migrations and the store. */
async function openDatabase(config: Config, options: SystemOptions, logger: pino.Logger, stack: Stops): Promise<Database> {
  // First the checks that need no I/O beyond reading files: a bad catalog fails in milliseconds.
  // The runner thread reads the same file: only the process's main thread says what it skipped.
  const catalog = loadCatalog(config.providersFile, {
    onWarning: (message, details) => {
      if (isMainThread) logger.warn(details, message);
    },
  });
  const stored = usesDataDir(config) ? await loadDataDirSecrets(config.dataDir) : undefined;
  const secretKey = config.secretKey ?? (stored?.secrets.secretKey as string);
  const encryptionKey = config.encryptionKey ?? Buffer.from(stored?.secrets.encryptionKey as string, 'hex');

  let databaseUrl = config.databaseUrl;
  let embedded: EmbeddedDatabase | undefined;
  if (databaseUrl === undefined) {
    embedded = await startEmbeddedPostgres({
      dir: path.join(config.dataDir, 'postgres'),
      password: stored?.secrets.databasePassword as string,
      fast: options.fastEmbeddedDatabase,
      onLog: (line) => logger.debug({ postgres: line.trim() }, 'postgres'),
      logger,
      restart: options.embeddedRestart,
      onFatal: options.onFatal,
    });
    const started = embedded;
    stack.push(() => started.stop());
    databaseUrl = embedded.url;
  }
  const url = databaseUrl;

  // Named by thread, so that an operator (pg_stat_activity) sees which one holds what.
  const applicationName = isMainThread ? 'patchbay' : 'patchbay-runner';
  const pool = createPool({ connectionString: url, applicationName });
  stack.push(() => pool.end());
  await migrate(pool).catch((error: unknown) => {
    const code = (error as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '28P01' || code === '3D000') {
      const where = new URL(url);
      throw new Error(`cannot connect to the database at ${where.host}${where.pathname} (${code})`, { cause: error });
    }
    throw error;
  });
  const cipher = createCipher(encryptionKey);
  await checkEncryptionKey(pool, cipher);
  // Runs, tickets and logs: written several times per action, lost at worst as the last
  // moment before a crash (server/store/db.ts).
  const bookkeepingPool = createPool({ connectionString: url, durableCommits: false, applicationName: `${applicationName}-bookkeeping` });
  stack.push(() => bookkeepingPool.end());
  const store = createStore(pool, cipher, bookkeepingPool);
  return { url, embedded: embedded !== undefined, generatedSecrets: stored?.created ?? false, secretKey, encryptionKey, pool, bookkeepingPool, store, catalog };
}

type Core = Awaited<ReturnType<typeof startCore>>;

/**
 * What every process runs, whatever its roles: change notifications, the queue and its reaper
 * and scheduler, the log writer and its counters, webhooks, credentials and the proxy engine.
 */
async function startCore(config: Config, options: SystemOptions, logger: pino.Logger, database: Database, stack: Stops) {
  const { pool, store, catalog, bookkeepingPool } = database;
  // The process's LISTEN connection, unless this is a runner thread hearing through its process's.
  let listening: ListeningNotifications | undefined;
  const notifications = options.relayedNotifications?.(pool, logger) ?? (listening = createNotifications(pool, database.url, logger));
  const feed = createChangeFeed(notifications);
  const functions = createFunctionRegistry(store);
  const wake = createWake(notifications, store.runs);
  await notifications.start();
  stack.push(() => notifications.stop());
  stack.push(async () => wake.stop());
  // `patchbay start`'s runner thread: the server thread of the same process schedules syncs,
  // reaps stale runs and keeps pg-boss tidy; doing it twice would cost connections and memory.
  const background = options.handedRuns === undefined;
  const queue = createJobQueue(bookkeepingPool, logger, { maintenance: background });
  await queue.start();
  stack.push(() => queue.stop());
  const scheduler = background ? startScheduler({ store, queue, wake, logger }) : { changed: () => undefined, stop: async () => undefined };
  stack.push(() => scheduler.stop());
  const metrics = createMetricsRecorder();
  const logs = createLogWriter({
    store: store.logs,
    logger,
    onWrite: metrics.observe,
    // Every process's stored chunks reach the live log streams of every server.
    onStored: (chunkId) => notifications.notify(LOG_CHUNKS_CHANNEL, chunkId),
  });
  logs.start();
  stack.push(() => logs.stop());
  // Every process records webhooks (a reaper in a server process fails runs too); only
  // runner processes deliver them.
  const webhooks = createWebhookSender({
    store, logs, logger, functions, url: config.webhookUrl, allowPrivateEgress: config.allowPrivateEgress, secret: config.webhookSecret ?? database.secretKey,
    maxAttempts: config.webhookMaxAttempts, retryBaseMs: config.webhookRetryBaseMs, timeoutMs: config.webhookTimeoutMs, notifications,
  });
  // Stopped after the worker and the reaper (pushed before them): their last webhooks are written.
  stack.push(() => webhooks.stop());
  const stopReaper = !background ? () => undefined : startReaper({
    store,
    queue,
    wake,
    logger,
    staleMs: options.runnerTuning?.staleMs,
    intervalMs: options.runnerTuning?.reapMs,
    onFailed: (run) => webhooks.runFinished(run, { error: RUNNER_LOST }),
  });
  stack.push(async () => stopReaper());
  const dispatcher = createUpstreamAgent(config.allowPrivateEgress);
  stack.push(() => dispatcher.close());
  let proxy: ProxyEngine | undefined;
  const credentials = createCredentialsManager({
    store,
    catalog,
    dispatcher,
    onRefreshFailed: (connection, error) => {
      const provider = catalog.get(connection.provider);
      webhooks.authEvent(
        {
          connectionId: connection.connectionId,
          providerConfigKey: connection.providerConfigKey,
          provider: connection.provider,
          authMode: provider?.authMode ?? 'unknown',
          operation: 'refresh',
          success: false,
          tags: connection.tags,
          endUser: connection.endUser,
          error: { type: isPatchbayError(error) ? error.code : 'refresh_failed', description: isPatchbayError(error) ? error.message : 'The token could not be refreshed.' },
        },
        connection.webhookUrlOverride,
      );
    },
    onRefreshed: (connection) => {
      proxy?.targets.update(connection);
      feed.publish({ kind: 'connection', providerConfigKey: connection.providerConfigKey, connectionId: connection.connectionId }, { local: false });
    },
  });
  proxy = createProxyEngine({
    store,
    catalog,
    credentials,
    logs,
    dispatcher,
    allowPrivateEgress: config.allowPrivateEgress,
    maxWaitMs: config.proxyMaxWaitMs,
    pacingMaxHoldMs: config.pacingMaxHoldMs,
    ...options.proxyTuning,
  });
  const engine = proxy;
  const providers = createProviderCache(store.connections);
  feed.subscribe((change) => {
    if (change.kind === 'connection') {
      engine.targets.invalidate(change.providerConfigKey, change.connectionId);
      providers.invalidate(change.providerConfigKey, change.connectionId);
    } else if (change.kind === 'integration') {
      engine.targets.invalidateIntegration(change.providerConfigKey);
      providers.invalidateIntegration(change.providerConfigKey);
    } else if (change.kind === 'pacing') {
      engine.pacer.reset(pacePrefixOf(change.providerConfigKey, change.connectionId));
      return;
    } else functions.invalidate();
    // Deploys, connections and integrations coming and going add or drop sync schedules.
    scheduler.changed();
  });
  // Changes published while the LISTEN connection was down were never heard.
  notifications.onReconnect(() => {
    engine.targets.clear();
    providers.clear();
    functions.invalidate();
    scheduler.changed();
  });
  return { store, catalog, notifications, listening, feed, functions, wake, queue, scheduler, metrics, logs, webhooks, dispatcher, credentials, engine, providers };
}

/** The runner on this thread: its worker, the dry runner, and a runner process's own /metrics. */
async function startRunnerHere(
  config: Config,
  options: SystemOptions,
  logger: pino.Logger,
  core: Core,
  parts: { sandbox: Sandbox; direct: DirectRunner; secretKey: string },
  stack: Stops,
): Promise<{ worker: Worker; metricsUrl: string | undefined }> {
  const { store, feed, functions, queue, wake, webhooks, engine, dispatcher, catalog, logs, metrics } = core;
  const { sandbox, direct, secretKey } = parts;
  webhooks.start();
  const operations: OperationDeps = {
    proxy: engine,
    store,
    crossIntegration: config.functionsCrossIntegration,
    egress: dispatcher,
    connectionChanged: (providerConfigKey, connectionId) => feed.publish({ kind: 'connection', providerConfigKey, connectionId }),
    control: { functions, queue, wake, direct, environment: config.functionEnvironment, publicUrl: config.publicUrl ?? defaultPublicUrl(undefined, config.host, config.port) },
  };
  const started = createWorker({
    webhooks,
    store,
    queue,
    wake,
    sandbox,
    functions,
    catalog,
    logs,
    logger,
    concurrency: config.runnerConcurrency,
    operations,
    ...(options.handedRuns === undefined ? {} : { slots: createRunSlots(config.runnerConcurrency, options.handedRuns.slots), directFinished: options.handedRuns.finished }),
    ...options.runnerTuning,
  });
  started.start();
  stack.push(() => started.stop());
  const dryRunner = createDryRunner({ store, wake, logger, deps: { sandbox, store, catalog, logs, operations }, pollMs: options.runnerTuning?.pollMs });
  dryRunner.start();
  stack.push(() => dryRunner.stop());
  logger.info({ runner: started.id, concurrency: config.runnerConcurrency }, 'runner started');

  // A runner process has no HTTP API: its counters (runs, webhooks, its functions' proxy calls)
  // are scraped from a port of their own. Not `npm start`'s runner thread: the server's
  // /metrics already sums its counters.
  let metricsUrl: string | undefined;
  if (isMainThread && !options.roles.includes('server') && config.metricsPort !== undefined) {
    const metricsServer = await startMetricsServer({
      metrics: createMetricsSource({ recorder: metrics, activeRuns: () => store.runs.countActive() }),
      port: config.metricsPort,
      host: config.host,
      secretKey,
      isPublic: config.metricsPublic,
      onError: (error) => logger.error({ err: error }, 'metrics scrape failed'),
    });
    stack.push(() => metricsServer.stop());
    metricsUrl = metricsServer.url;
    logger.info({ url: `${metricsUrl}/metrics` }, 'runner metrics served');
  }
  return { worker: started, metricsUrl };
}

/** The HTTP API (with Connect and the dashboard) and the retention sweep; answers the URL it listens on. */
async function startServer(
  config: Config,
  options: SystemOptions,
  logger: pino.Logger,
  core: Core,
  parts: { secretKey: string; pool: Pool; deployed: () => void; direct: DirectRunner; runnerMetrics: () => Promise<(MetricsSnapshot | undefined)[]> },
  stack: Stops,
): Promise<string> {
  const { store, feed, functions, queue, wake, webhooks, engine, dispatcher, catalog, logs, metrics, notifications, credentials } = core;
  const { secretKey, pool, deployed, direct } = parts;
  const stopRetention = startLogRetention(store, { logDays: config.logRetentionDays, recordPruneDays: config.recordPruneDays }, logger);
  stack.push(async () => stopRetention());
  const verification = { dispatcher, allowPrivateEgress: config.allowPrivateEgress, logs, timeoutMs: options.proxyTuning?.headersTimeoutMs };
  // Known once the server listens (PORT=0 picks one): redirect URIs and connect links use it.
  let listening: URL | undefined;
  const publicUrl = () => config.publicUrl ?? defaultPublicUrl(listening, config.host);
  const ws = createWsHub(notifications);
  const flows = createConnectFlows({
    store,
    catalog,
    ws,
    verification,
    dispatcher,
    publicUrl,
    connectionChanged: (providerConfigKey, connectionId) => feed.publish({ kind: 'connection', providerConfigKey, connectionId }),
    authEvent: (facts, webhookUrlOverride) => webhooks.authEvent(facts, webhookUrlOverride),
  });
  // Loaded here, not at the top: a runner (its own thread in `patchbay start`) never loads
  // fastify and the routes.
  const { buildApp } = await import('../server/app.js');
  const app = await buildApp({
    config,
    secretKey,
    store,
    database: createDatabaseProbe(pool),
    catalog,
    logger,
    proxy: engine,
    events: {
      changed: (providerConfigKey, connectionId) => feed.publish({ kind: 'connection', providerConfigKey, connectionId }),
      integrationChanged: (providerConfigKey) => feed.publish({ kind: 'integration', providerConfigKey }),
    },
    refresher: credentials,
    // The proxy's upstream timeout when a test shortens it; otherwise verify.ts's own bound.
    verification,
    connect: { flows, ws, publicUrl },
    dashboard: {
      sessions: createDashboardSessions({ store: store.sessions, secretKey }),
      // The runner thread's counters join this thread's; separate runner processes serve their own.
      metrics: createMetricsSource({
        recorder: metrics,
        remotes: parts.runnerMetrics,
        activeRuns: () => store.runs.countActive(),
      }),
      live: createLiveLogs({ notifications, logs: store.logs, logger }),
    },
    functions,
    queue,
    wake,
    direct,
    providers: core.providers,
    deployed,
    resetPacing: (providerConfigKey, connectionId) => feed.publish({ kind: 'pacing', providerConfigKey, connectionId }),
    actionStartTimeoutMs: options.runnerTuning?.actionStartTimeoutMs,
  });
  stack.push(async () => {
    // Finish in-flight requests for a while, then cut whatever is left (a stalled upload
    // would otherwise hold shutdown forever).
    const grace = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    await app.close();
    clearTimeout(grace);
  });
  const address = await app.listen({ port: config.port, host: config.host });
  const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
  listening = new URL(url);
  // `patchbay deploy` and `dryrun` run from the same folder find this server there, whatever its port.
  if (existsSync(config.dataDir)) {
    const forget = await recordServerAddress(config.dataDir, url);
    stack.push(forget);
  }
  return url;
}
