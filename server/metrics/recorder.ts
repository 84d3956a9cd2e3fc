// Counts what the log writer is handed: every proxy call, run, webhook delivery is one log
// operation, so /metrics and the dashboard's overview count from the operations themselves.
// One recorder per thread (the runner thread has its own); no I/O, no timers.
import { Counter, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { LogOperation } from '../store/index.js';

/**
 * Seconds. From a cached-token call answered in milliseconds to a 60 s rate-limit wait (the
 * proxy's default longest wait, PATCHBAY_PROXY_MAX_WAIT_MS); the overview's p50/p99 are read
 * from these same buckets, as Prometheus' histogram_quantile would.
 */
export const PROXY_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds: a run lasts from milliseconds (an action) to an hour (a sync's default time limit). */
const RUN_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/**
 * Distinct values one label may take before further ones are counted as `other`: integrations
 * and models are few, but a caller can send any Provider-Config-Key, and every new label value
 * is a series kept for the life of the process.
 */
const MAX_LABEL_VALUES = 500;
/** The overview shows the last hour, a minute a bucket. */
export const RECENT_MINUTES = 60;
const MINUTE_MS = 60_000;

/** One minute of the overview's figures. */
export interface RecentMinute {
  /** Start of the minute, ms since the epoch. */
  minute: number;
  calls: number;
  errors: number;
  /** Proxy calls per PROXY_SECONDS_BUCKETS bucket (not cumulative), the last one for +Inf. */
  latency: number[];
  runs: number;
  runsFailed: number;
}

/** What a thread hands over for /metrics and the overview: plain data, structured-cloneable. */
export interface MetricsSnapshot {
  metrics: MetricObjectWithValues<MetricValue<string>>[];
  recent: RecentMinute[];
}

export interface MetricsRecorder {
  /** Called for every operation handed to the log writer, before it is queued. */
  observe(operation: LogOperation): void;
  readonly registry: Registry;
  snapshot(): Promise<MetricsSnapshot>;
}

/** Keeps at most MAX_LABEL_VALUES distinct values; later ones become `other`. */
function labelCap(): (value: string | null) => string {
  const seen = new Set<string>();
  return (value) => {
    const text = value ?? 'none';
    if (seen.has(text)) return text;
    if (seen.size >= MAX_LABEL_VALUES) return 'other';
    seen.add(text);
    return text;
  };
}

interface Attempt {
  status?: number | null;
  waitedMs?: number;
}

export function createMetricsRecorder(now: () => number = Date.now): MetricsRecorder {
  const registry = new Registry();
  const registers = [registry];
  const integration = labelCap();
  const model = labelCap();

  const proxyCalls = new Counter({
    name: 'patchbay_proxy_calls_total',
    help: 'Proxy calls (through /proxy and from functions), by integration and final status (an error code when no HTTP status came back).',
    labelNames: ['integration', 'status'],
    registers,
  });
  const proxySeconds = new Histogram({
    name: 'patchbay_proxy_duration_seconds',
    help: 'Proxy call duration, waits and retries included.',
    labelNames: ['integration'],
    buckets: PROXY_SECONDS_BUCKETS,
    registers,
  });
  const proxyRetries = new Counter({
    name: 'patchbay_proxy_retries_total',
    help: 'Proxy attempts after the first (5xx, network errors, 429, a 401 refresh).',
    labelNames: ['integration'],
    registers,
  });
  const rateLimitWaits = new Counter({
    name: 'patchbay_proxy_rate_limit_waits_total',
    help: "Proxy attempts that waited for a provider's rate limit: after a 429, or for pacing and the in-flight cap.",
    labelNames: ['integration'],
    registers,
  });
  const rateLimitSeconds = new Counter({
    name: 'patchbay_proxy_rate_limit_wait_seconds_total',
    help: 'Seconds proxy attempts spent waiting for rate limits.',
    labelNames: ['integration'],
    registers,
  });
  const runs = new Counter({
    name: 'patchbay_runs_total',
    help: 'Finished action and sync runs, by outcome and error code (`none` on success).',
    labelNames: ['kind', 'integration', 'outcome', 'code'],
    registers,
  });
  const runSeconds = new Histogram({
    name: 'patchbay_run_duration_seconds',
    help: 'Action and sync run duration.',
    labelNames: ['kind', 'outcome'],
    buckets: RUN_SECONDS_BUCKETS,
    registers,
  });
  const records = new Counter({
    name: 'patchbay_sync_records_total',
    help: 'Records written by syncs, by model and change (added, updated, deleted).',
    labelNames: ['integration', 'model', 'change'],
    registers,
  });
  const webhooks = new Counter({
    name: 'patchbay_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by webhook kind and outcome (success, retry, failed).',
    labelNames: ['webhook', 'outcome'],
    registers,
  });

  const recent = new Map<number, RecentMinute>();
  const minuteOf = (atMs: number): RecentMinute => {
    const minute = atMs - (atMs % MINUTE_MS);
    let bucket = recent.get(minute);
    if (bucket === undefined) {
      bucket = { minute, calls: 0, errors: 0, latency: new Array<number>(PROXY_SECONDS_BUCKETS.length + 1).fill(0), runs: 0, runsFailed: 0 };
      recent.set(minute, bucket);
      const oldest = minute - RECENT_MINUTES * MINUTE_MS;
      for (const key of recent.keys()) if (key <= oldest) recent.delete(key);
    }
    return bucket;
  };

  const observeProxy = (op: LogOperation) => {
    const key = integration(op.integrationKey);
    const seconds = (op.durationMs ?? 0) / 1000;
    proxyCalls.inc({ integration: key, status: op.status === null ? (op.error?.code ?? 'none') : String(op.status) });
    proxySeconds.observe({ integration: key }, seconds);
    const attempts = op.attempts as Attempt[];
    if (attempts.length > 1) proxyRetries.inc({ integration: key }, attempts.length - 1);
    attempts.forEach((attempt, index) => {
      const waitedMs = attempt.waitedMs ?? 0;
      // The first attempt waits only for pacing or a slot; a later one after a 429 waited out the provider's limit.
      if (waitedMs > 0 && (index === 0 || attempts[index - 1]?.status === 429)) {
        rateLimitWaits.inc({ integration: key });
        rateLimitSeconds.inc({ integration: key }, waitedMs / 1000);
      }
    });
    const bucket = minuteOf(now());
    bucket.calls++;
    if (op.state === 'failed') bucket.errors++;
    const index = PROXY_SECONDS_BUCKETS.findIndex((le) => seconds <= le);
    (bucket.latency[index === -1 ? PROXY_SECONDS_BUCKETS.length : index] as number)++;
  };

  const observeRun = (op: LogOperation) => {
    const kind = op.type;
    runs.inc({ kind, integration: integration(op.integrationKey), outcome: op.state, code: op.error?.code ?? 'none' });
    runSeconds.observe({ kind, outcome: op.state }, (op.durationMs ?? 0) / 1000);
    const bucket = minuteOf(now());
    bucket.runs++;
    if (op.state === 'failed') bucket.runsFailed++;
    const models = op.request?.models as Record<string, { added?: number; updated?: number; deleted?: number }> | undefined;
    if (kind !== 'sync' || models === undefined) return;
    for (const [name, counts] of Object.entries(models)) {
      for (const change of ['added', 'updated', 'deleted'] as const) {
        const count = counts[change] ?? 0;
        if (count > 0) records.inc({ integration: integration(op.integrationKey), model: model(name), change }, count);
      }
    }
  };

  return {
    registry,
    observe(op) {
      if (op.type === 'proxy') observeProxy(op);
      else if ((op.type === 'action' || op.type === 'sync') && op.action === 'run') observeRun(op);
      else if (op.type === 'webhook') {
        const outcome = op.state === 'success' ? 'success' : op.error?.code === 'webhook_retry' ? 'retry' : 'failed';
        webhooks.inc({ webhook: String(op.request?.webhook ?? 'unknown'), outcome });
      }
    },
    async snapshot() {
      minuteOf(now()); // drops minutes past the window even when nothing happened lately
      return { metrics: await registry.getMetricsAsJSON(), recent: [...recent.values()].map((m) => ({ ...m, latency: [...m.latency] })) };
    },
  };
}
