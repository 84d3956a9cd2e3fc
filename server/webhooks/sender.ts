// Sends webhooks to the user's app. `runFinished` only writes deliveries to the outbox
// (webhook_deliveries): it never throws and never delays the run. A loop in every runner leases
// due deliveries, signs and POSTs them, logs each attempt and retries 5xx, 429 and network errors
// with backoff (retry-policy.ts), so a failing endpoint never fails a sync.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { createGuardedAgent } from '../proxy/egress.js';
import { createSleepingLoop } from '../queue/sleeping-loop.js';
import type { FunctionRegistry } from '../functions/registry.js';
import { newLogId, type LogWriter } from '../logs/writer.js';
import { createOutageLog, type ClaimedRun, type LeasedWebhookDelivery, type Notifications, type Store, type WebhookKind } from '../store/index.js';
import { buildAsyncActionWebhook, buildAuthWebhook, buildSyncWebhooks, type AuthFacts, type ModelResults } from './payloads.js';
import { decideDelivery, MAX_RETRY_WAIT_MS, type AttemptOutcome, type DeliveryDecision, type DeliveryPolicy } from './retry-policy.js';
import { buildSignatureHeaders } from './sign.js';

// Deliveries written by any process wake every runner's loop at once (a NOTIFY on this channel;
// a process hears its own without the round trip). After each pass the loop sleeps until the
// next pending delivery is due: a retry's backoff, or the lease of a runner that died running
// out. With nothing pending it looks again after IDLE_POLL_MS, for deliveries whose NOTIFY it
// could not hear (written by a version without it during a rolling deploy); a LISTEN connection
// that comes back wakes it too.
export const WEBHOOKS_CHANNEL = 'patchbay_webhooks';
const IDLE_POLL_MS = 60_000;
// A delivery due now that another process holds while it leases it (SKIP LOCKED): that process
// sends it; this loop looks again after this long, in case its lease did not commit.
const CONTENDED_MS = 1000;
// Deliveries one process sends at once: enough to drain a burst of sync completions quickly,
// few enough that a slow receiver does not hold many sockets.
const BATCH_SIZE = 10;
// A leased delivery comes back to the pool this long after its request's own timeout.
const LEASE_MARGIN_MS = 30_000;
// Delivered and given-up rows are kept a week for inspection, pruned hourly.
const SETTLED_KEEP_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;
const PRUNE_BATCH = 5000;
const USER_AGENT = 'Patchbay-Webhooks';

/** The facts of a finished run the sender needs (the worker's ClaimedRun, the reaper's StaleRun). */
export type FinishedRun = Pick<ClaimedRun, 'id' | 'kind' | 'integrationKey' | 'connectionId' | 'functionName' | 'variant' | 'isAsync' | 'logId'>;

/** How the run ended, as stored: a sync's `outputJson` is `{models: {[model]: {added, updated, deleted}}}`. */
export type FinishedRunResult = { outputJson: string; interrupted?: { code: string; message: string } } | { error: { code: string; message: string } };

export interface WebhookSender {
  /** Queues the webhooks a finished run calls for. Returns at once; never throws. */
  runFinished(run: FinishedRun, result: FinishedRunResult): void;
  /** Queues an auth webhook (a connection made or re-made through Connect, a refresh that failed). Never throws. */
  authEvent(facts: AuthFacts, webhookUrlOverride: string | null): void;
  /** Starts the delivery loop (runner processes). Idempotent. */
  start(): void;
  /** Waits for queued writes, cuts in-flight requests (they are retried later), stops the loop. */
  stop(): Promise<void>;
}

export interface WebhookSenderOptions {
  store: Store;
  logs: LogWriter;
  logger: FastifyBaseLogger;
  functions: Pick<FunctionRegistry, 'find'>;
  /** The app's URL; a connection's `webhook_url_override` wins. Neither: nothing is sent. */
  url: string | undefined;
  /** PATCHBAY_ALLOW_PRIVATE_EGRESS: connection overrides may reach private addresses. */
  allowPrivateEgress: boolean;
  secret: string;
  maxAttempts: number;
  retryBaseMs: number;
  timeoutMs: number;
  /** Wakes the runners' loops when a delivery is written, in any process. */
  notifications: Pick<Notifications, 'listen' | 'notify' | 'onReconnect'>;
}

export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const { store, logger } = options;
  const policy: DeliveryPolicy = { maxAttempts: options.maxAttempts, baseBackoffMs: options.retryBaseMs, maxWaitMs: MAX_RETRY_WAIT_MS };
  // Its own pool: webhook receivers never share sockets or limits with provider calls. The
  // operator's PATCHBAY_WEBHOOK_URL is trusted even on a private address (the app often runs
  // beside Patchbay); a connection's override goes through the egress guard like any other
  // request. Redirects are never followed (undici's default).

  const agent = createGuardedAgent({
    allowPrivateEgress: options.allowPrivateEgress,
    trustedUrls: options.url === undefined ? [] : [options.url],
    connectTimeoutMs: options.timeoutMs,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  const writes = new Set<Promise<void>>();
  let pruner: NodeJS.Timeout | undefined;
  let stopping = new AbortController();
  let running = false;

  const enqueue = async (run: FinishedRun, result: FinishedRunResult) => {
    const facts = await store.webhooks.runFacts(run.id);
    const url = facts?.webhookUrlOverride ?? options.url;
    if (url === undefined || facts === undefined || !isHttpUrl(url)) {
      if (url !== undefined && !isHttpUrl(url)) logger.warn({ connectionId: run.connectionId }, 'webhook URL is not http(s): webhook skipped');
      return;
    }
    let kind: WebhookKind;
    let bodies: object[];
    if (run.kind === 'action') {
      kind = 'async_action';
      bodies = [buildAsyncActionWebhook({ providerConfigKey: run.integrationKey, connectionId: run.connectionId, runId: run.id })];
    } else {
      kind = 'sync';
      const state = 'error' in result ? 'failed' : result.interrupted === undefined ? 'succeeded' : 'interrupted';
      const declared = state === 'succeeded' ? undefined : await options.functions.find(run.integrationKey, 'sync', run.functionName);
      bodies = buildSyncWebhooks({
        providerConfigKey: run.integrationKey,
        connectionId: run.connectionId,
        syncName: run.functionName,
        variant: run.variant,
        state,
        changes: 'outputJson' in result ? changesOf(result.outputJson) : {},
        declaredModels: stringsOf(declared?.config.models),
        error: 'error' in result ? result.error : (result.interrupted ?? null),
        startedAt: facts.startedAt,
        finishedAt: facts.finishedAt,
        syncType: facts.initial ? 'INITIAL' : 'INCREMENTAL',
      });
    }
    if (bodies.length === 0) return;
    await store.webhooks.add(
      bodies.map((body) => ({
        id: randomUUID(),
        kind,
        url,
        body: JSON.stringify(body),
        integrationKey: run.integrationKey,
        connectionId: run.connectionId,
        runId: run.id,
        parentLogId: run.logId,
      })),
    );
    announce();
  };

  const send = async (delivery: LeasedWebhookDelivery): Promise<AttemptOutcome> => {
    try {
      const target = new URL(delivery.url);
      const response = await agent.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        body: delivery.body,
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          ...buildSignatureHeaders(options.secret, delivery.body),
        },
        signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(options.timeoutMs)]),
      });
      // The answer's body means nothing to us: read a little and let the socket go back to the pool.
      await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      const retryAfter = response.headers['retry-after'];
      return { kind: 'response', status: response.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter };
    } catch (error) {
      return { kind: 'network', code: errorCodeOf(error) };
    }
  };

  const attempt = async (delivery: LeasedWebhookDelivery) => {
    const startedAt = new Date();
    const outcome = await send(delivery);
    const endedAt = new Date();
    if (stopping.signal.aborted && outcome.kind === 'network') {
      // Cut by our own shutdown, not the receiver's fault: due again at once, for any runner.
      await store.webhooks.retryLater(delivery.id, 0, null, 'runner stopped during the attempt');
      announce();
      return;
    }
    const decision = decideDelivery(outcome, delivery.attempt, policy, endedAt.getTime());
    const status = outcome.kind === 'response' ? outcome.status : null;
    if (decision.action === 'done') await store.webhooks.delivered(delivery.id, status as number);
    else if (decision.action === 'retry') await store.webhooks.retryLater(delivery.id, decision.waitMs, status, decision.reason);
    else await store.webhooks.failed(delivery.id, status, decision.reason);
    logAttempt(delivery, outcome, decision, startedAt, endedAt);
  };

  const logAttempt = (delivery: LeasedWebhookDelivery, outcome: AttemptOutcome, decision: DeliveryDecision, startedAt: Date, endedAt: Date) => {
    const ok = decision.action === 'done';
    const level = ok ? 'info' : decision.action === 'retry' ? 'warn' : 'error';
    const what = outcome.kind === 'response' ? `answered ${outcome.status}` : `failed (${outcome.code})`;
    const next = decision.action === 'retry' ? `; retrying in ${decision.waitMs} ms` : decision.action === 'give_up' ? '; given up' : '';
    let body: unknown = null;
    try {
      body = JSON.parse(delivery.body);
    } catch {
      body = null;
    }
    options.logs.write({
      id: newLogId(),
      parentId: delivery.parentLogId,
      type: 'webhook',
      action: 'deliver',
      state: ok ? 'success' : 'failed',
      level,
      integrationKey: delivery.integrationKey,
      connectionId: delivery.connectionId,
      method: 'POST',
      url: redactUrl(delivery.url),
      status: outcome.kind === 'response' ? outcome.status : null,
      error: ok ? null : { code: decision.action === 'retry' ? 'webhook_retry' : 'webhook_failed', message: `The webhook endpoint ${what}${next}.` },
      attempts: [],
      // The signature headers are left out on purpose: they are as good as the body's MAC.
      request: { deliveryId: delivery.id, webhook: delivery.kind, attempt: delivery.attempt, maxAttempts: policy.maxAttempts, runId: delivery.runId, body },
      response: null,
      messages: [{ level, message: `Webhook "${delivery.kind}" attempt ${delivery.attempt}/${policy.maxAttempts} ${what}${next}`, at: endedAt.toISOString() }],
      startedAt,
      endedAt,
      durationMs: endedAt.getTime() - startedAt.getTime(),
    });
  };

  /** Sends what is due; returns how long to sleep before the next pass. */
  const pumpOnce = async (): Promise<number> => {
    // When the next pending delivery is due (a lease is a later due time): a pass with nothing
    // due is this one read, not a lease attempt as well.
    let nextMs = await store.webhooks.nextDueInMs();
    if (nextMs === 0) {
      while (running) {
        const due = await store.webhooks.leaseDue(BATCH_SIZE, options.timeoutMs + LEASE_MARGIN_MS);
        if (due.length === 0) break;
        await Promise.all(
          due.map((delivery) => attempt(delivery).catch((error: unknown) => logger.warn({ err: error, deliveryId: delivery.id }, 'webhook attempt bookkeeping failed'))),
        );
      }
      if (!running) return IDLE_POLL_MS;
      nextMs = await store.webhooks.nextDueInMs();
    }
    if (nextMs === null) return IDLE_POLL_MS;
    if (nextMs === 0) return CONTENDED_MS;
    return Math.min(Math.ceil(nextMs) + 5, IDLE_POLL_MS);
  };

  // Each pass would warn while the database is away: one line per outage instead. Passes go on
  // every CONTENDED_MS until it is back.
  const loop = createSleepingLoop({ pass: pumpOnce, outage: createOutageLog(logger, 'sending webhooks'), retryMs: CONTENDED_MS });

  /** Tells every runner's loop (this one at once) that deliveries were written. */
  const announce = () => options.notifications.notify(WEBHOOKS_CHANNEL, '');
  let listening = false;

  const prune = () => {
    store.webhooks.deleteSettledBefore(new Date(Date.now() - SETTLED_KEEP_MS), PRUNE_BATCH).catch((error: unknown) => logger.warn({ err: error }, 'pruning webhook deliveries failed'));
  };

  return {
    runFinished(run, result) {
      if (run.kind === 'action' && !run.isAsync) return;
      const write: Promise<void> = enqueue(run, result)
        .catch((error: unknown) => logger.warn({ err: error, runId: run.id }, 'queueing webhooks failed'))
        .finally(() => writes.delete(write));
      writes.add(write);
    },
    authEvent(facts, webhookUrlOverride) {
      const url = webhookUrlOverride ?? options.url;
      if (url === undefined || !isHttpUrl(url)) return;
      const write: Promise<void> = store.webhooks
        .add([
          {
            id: randomUUID(),
            kind: 'auth',
            url,
            body: JSON.stringify(buildAuthWebhook(facts)),
            integrationKey: facts.providerConfigKey,
            connectionId: facts.connectionId,
            runId: null,
            parentLogId: null,
          },
        ])
        .then(announce)
        .catch((error: unknown) => logger.warn({ err: error, connectionId: facts.connectionId }, 'queueing an auth webhook failed'))
        .finally(() => writes.delete(write));
      writes.add(write);
    },
    start() {
      if (running) return;
      running = true;
      stopping = new AbortController();
      if (!listening) {
        listening = true;
        options.notifications.listen(WEBHOOKS_CHANNEL, loop.wake);
        options.notifications.onReconnect(loop.wake);
      }
      pruner = setInterval(prune, PRUNE_EVERY_MS);
      pruner.unref();
      loop.start();
    },
    async stop() {
      await Promise.allSettled([...writes]);
      running = false;
      clearInterval(pruner);
      stopping.abort(new Error('webhook sender stopping'));
      await loop.stop();
      await agent.close();
    },
  };
}

const isHttpUrl = (value: string) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
};

/** Origin and path only: a token in the query or credentials in the URL stay out of the logs. */
const redactUrl = (value: string) => {
  const url = new URL(value);
  return `${url.origin}${url.pathname}`;
};

const errorCodeOf = (error: unknown): string => {
  const err = error as { code?: unknown; name?: unknown; cause?: { code?: unknown } };
  if (typeof err?.code === 'string') return err.code;
  if (typeof err?.cause?.code === 'string') return err.cause.code;
  if (err?.name === 'TimeoutError') return 'timeout';
  return typeof err?.name === 'string' ? err.name : 'unknown';
};

const changesOf = (outputJson: string): Record<string, ModelResults> => {
  try {
    const models = (JSON.parse(outputJson) as { models?: unknown }).models;
    if (typeof models !== 'object' || models === null) return {};
    const out: Record<string, ModelResults> = {};
    for (const [model, value] of Object.entries(models as Record<string, Partial<ModelResults>>)) {
      out[model] = { added: Number(value?.added ?? 0), updated: Number(value?.updated ?? 0), deleted: Number(value?.deleted ?? 0) };
    }
    return out;
  } catch {
    return {};
  }
};

const stringsOf = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);
