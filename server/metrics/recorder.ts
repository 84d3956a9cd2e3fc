// Counts what the log writer is handed: every proxy call, run, webhook delivery is one log
// operation, so /metrics and the dashboard's overview count from the operations themselves.
// One recorder per thread (the runner thread has its own); no I/O, no timers.
//
// observe() runs on the proxy's hot path, once per call: it touches only numbers kept per label
// set, found with one Map lookup per label value and no allocation once a series exists.
// prom-client's Counter and Histogram (a label object, a validation and a hash of the labels per
// increment) were a measurable share of a proxied call; here its Registry only formats, at scrape
// time, what these series hold, in the same shape its own metrics give.
import { Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
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

/** Index of the first bound `value` fits under; bounds.length (+Inf only) past the last. */
function bucketIndex(bounds: readonly number[], value: number): number {
  for (let index = 0; index < bounds.length; index++) if (value <= (bounds[index] as number)) return index;
  return bounds.length;
}

type Labels = Record<string, string>;

/** One counter series: created at its first increment, as prom-client creates one. */
interface CounterCell {
  readonly labels: Labels;
  value: number;
}

/** One histogram series: counts per bucket (not cumulative, the last for +Inf only), sum and count. */
interface HistogramCell {
  readonly labels: Labels;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

type Exported = MetricObjectWithValues<MetricValue<string>>;

/** What prom-client's own Counter and Histogram get() give, keys in their order (its typings call `type` an enum; it is the name). */
const exported = (name: string, help: string, type: 'counter' | 'histogram', values: (MetricValue<string> & { metricName?: string; exemplar?: null })[]): Exported =>
  (type === 'counter' ? { help, name, type, values, aggregator: 'sum' } : { name, help, type, values, aggregator: 'sum' }) as unknown as Exported;

/** What prom-client's Registry needs of a metric: its name and `get()`. */
interface Family {
  readonly name: string;
  get(): Promise<Exported>;
}

/** A family's series in the order they were first made (prom-client's order). */
abstract class SeriesFamily<Cell> {
  protected readonly cells: Cell[] = [];
  /** Series by their label values joined with \u0000: the path for rare operations (runs, webhooks). */
  private readonly byKey = new Map<string, Cell>();

  protected abstract newCell(labels: Labels): Cell;

  /** A new series; the caller keeps it and updates it itself. */
  cell(labels: Labels): Cell {
    const cell = this.newCell(labels);
    this.cells.push(cell);
    return cell;
  }

  /** The series of these label values (in the family's label order), made on first use. */
  cellOf(labels: Labels): Cell {
    const key = Object.values(labels).join('\u0000');
    let cell = this.byKey.get(key);
    if (cell === undefined) {
      cell = this.cell(labels);
      this.byKey.set(key, cell);
    }
    return cell;
  }
}

/** A counter's series. */
class CounterFamily extends SeriesFamily<CounterCell> implements Family {
  constructor(
    readonly name: string,
    private readonly help: string,
  ) {
    super();
  }

  protected newCell(labels: Labels): CounterCell {
    return { labels, value: 0 };
  }

  async get(): Promise<Exported> {
    return exported(
      this.name,
      this.help,
      'counter',
      this.cells.map((cell) => ({ value: cell.value, labels: { ...cell.labels } })),
    );
  }
}

/** A histogram's series, exported as prom-client's Histogram exports them (cumulative buckets, +Inf, sum, count). */
class HistogramFamily extends SeriesFamily<HistogramCell> implements Family {
  constructor(
    readonly name: string,
    private readonly help: string,
    readonly bounds: readonly number[],
  ) {
    super();
  }

  protected newCell(labels: Labels): HistogramCell {
    return { labels, buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }

  observe(cell: HistogramCell, value: number, index = bucketIndex(this.bounds, value)): void {
    (cell.buckets[index] as number)++;
    cell.sum += value;
    cell.count++;
  }

  async get(): Promise<Exported> {
    const bucket = `${this.name}_bucket`;
    const values: Parameters<typeof exported>[3] = [];
    for (const cell of this.cells) {
      let cumulative = 0;
      this.bounds.forEach((bound, index) => {
        cumulative += cell.buckets[index] as number;
        values.push({ labels: { le: bound, ...cell.labels }, value: cumulative, metricName: bucket, exemplar: null });
      });
      values.push({ labels: { le: '+Inf', ...cell.labels }, value: cell.count, metricName: bucket, exemplar: null });
      values.push({ labels: { ...cell.labels }, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...cell.labels }, value: cell.count, metricName: `${this.name}_count` });
    }
    return exported(this.name, this.help, 'histogram', values);
  }
}

/** One integration's proxy series, found with one lookup per call. */
interface ProxySeries {
  readonly labels: Labels;
  readonly seconds: HistogramCell;
  /** Calls by final status, keyed by the status number or the error code. */
  readonly calls: Map<number | string, CounterCell>;
  /** By label text: a status and an error code that read the same share one series. */
  readonly callsByText: Map<string, CounterCell>;
  retries: CounterCell | undefined;
  waits: CounterCell | undefined;
  waitSeconds: CounterCell | undefined;
}

interface Attempt {
  status?: number | null;
  waitedMs?: number;
}

export function createMetricsRecorder(now: () => number = Date.now): MetricsRecorder {
  const registry = new Registry();
  const integration = labelCap();
  const model = labelCap();

  const proxyCalls = new CounterFamily(
    'patchbay_proxy_calls_total',
    'Proxy calls (through /proxy and from functions), by integration and final status (an error code when no HTTP status came back).',
  );
  const proxySeconds = new HistogramFamily('patchbay_proxy_duration_seconds', 'Proxy call duration, waits and retries included.', PROXY_SECONDS_BUCKETS);
  const proxyRetries = new CounterFamily('patchbay_proxy_retries_total', 'Proxy attempts after the first (5xx, network errors, 429, a 401 refresh).');
  const rateLimitWaits = new CounterFamily(
    'patchbay_proxy_rate_limit_waits_total',
    "Proxy attempts that waited for a provider's rate limit: after a 429, or for pacing and the in-flight cap.",
  );
  const rateLimitSeconds = new CounterFamily('patchbay_proxy_rate_limit_wait_seconds_total', 'Seconds proxy attempts spent waiting for rate limits.');
  const runs = new CounterFamily('patchbay_runs_total', 'Finished action and sync runs, by outcome and error code (`none` on success).');
  const runSeconds = new HistogramFamily('patchbay_run_duration_seconds', 'Action and sync run duration.', RUN_SECONDS_BUCKETS);
  const records = new CounterFamily('patchbay_sync_records_total', 'Records written by syncs, by model and change (added, updated, deleted).');
  const webhooks = new CounterFamily('patchbay_webhook_deliveries_total', 'Webhook delivery attempts, by webhook kind and outcome (success, retry, failed).');
  for (const family of [proxyCalls, proxySeconds, proxyRetries, rateLimitWaits, rateLimitSeconds, runs, runSeconds, records, webhooks]) {
    registry.registerMetric(family as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  const recent = new Map<number, RecentMinute>();
  // The minute being counted, and when it ends: most operations land in it.
  let current: RecentMinute | undefined;
  let currentEnd = Number.NEGATIVE_INFINITY;
  const minuteOf = (atMs: number): RecentMinute => {
    if (current !== undefined && atMs < currentEnd && atMs >= current.minute) return current;
    const minute = atMs - (atMs % MINUTE_MS);
    let bucket = recent.get(minute);
    if (bucket === undefined) {
      bucket = { minute, calls: 0, errors: 0, latency: new Array<number>(PROXY_SECONDS_BUCKETS.length + 1).fill(0), runs: 0, runsFailed: 0 };
      recent.set(minute, bucket);
      const oldest = minute - RECENT_MINUTES * MINUTE_MS;
      for (const key of recent.keys()) if (key <= oldest) recent.delete(key);
    }
    current = bucket;
    currentEnd = minute + MINUTE_MS;
    return bucket;
  };

  // Integration key as sent (null for none) → its series; keys past the label cap are not kept
  // here (they share `other`'s series), so this map is as bounded as the labels.
  const proxyByKey = new Map<string | null, ProxySeries>();
  const proxyByLabel = new Map<string, ProxySeries>();
  const proxySeriesOf = (integrationKey: string | null): ProxySeries => {
    const known = proxyByKey.get(integrationKey);
    if (known !== undefined) return known;
    const label = integration(integrationKey);
    let series = proxyByLabel.get(label);
    if (series === undefined) {
      const labels = { integration: label };
      series = { labels, seconds: proxySeconds.cell(labels), calls: new Map(), callsByText: new Map(), retries: undefined, waits: undefined, waitSeconds: undefined };
      proxyByLabel.set(label, series);
    }
    // `other` stands for any number of keys: only the keys that have a label of their own are remembered.
    if (label !== 'other' || integrationKey === 'other') proxyByKey.set(integrationKey, series);
    return series;
  };
  const callsOf = (series: ProxySeries, status: number | string): CounterCell => {
    let cell = series.calls.get(status);
    if (cell === undefined) {
      const text = String(status);
      cell = series.callsByText.get(text);
      if (cell === undefined) {
        cell = proxyCalls.cell({ integration: series.labels.integration as string, status: text });
        series.callsByText.set(text, cell);
      }
      series.calls.set(status, cell);
    }
    return cell;
  };

  const observeProxy = (op: LogOperation) => {
    const series = proxySeriesOf(op.integrationKey);
    const seconds = (op.durationMs ?? 0) / 1000;
    callsOf(series, op.status ?? op.error?.code ?? 'none').value++;
    const index = bucketIndex(PROXY_SECONDS_BUCKETS, seconds);
    proxySeconds.observe(series.seconds, seconds, index);
    const attempts = op.attempts as Attempt[];
    if (attempts.length > 1) (series.retries ??= proxyRetries.cell(series.labels)).value += attempts.length - 1;
    for (let i = 0; i < attempts.length; i++) {
      const waitedMs = (attempts[i] as Attempt).waitedMs ?? 0;
      // The first attempt waits only for pacing or a slot; a later one after a 429 waited out the provider's limit.
      if (waitedMs > 0 && (i === 0 || (attempts[i - 1] as Attempt | undefined)?.status === 429)) {
        (series.waits ??= rateLimitWaits.cell(series.labels)).value++;
        (series.waitSeconds ??= rateLimitSeconds.cell(series.labels)).value += waitedMs / 1000;
      }
    }
    const bucket = minuteOf(now());
    bucket.calls++;
    if (op.state === 'failed') bucket.errors++;
    (bucket.latency[index] as number)++;
  };

  const observeRun = (op: LogOperation) => {
    const kind = op.type;
    runs.cellOf({ kind, integration: integration(op.integrationKey), outcome: op.state, code: op.error?.code ?? 'none' }).value++;
    const seconds = (op.durationMs ?? 0) / 1000;
    runSeconds.observe(runSeconds.cellOf({ kind, outcome: op.state }), seconds);
    const bucket = minuteOf(now());
    bucket.runs++;
    if (op.state === 'failed') bucket.runsFailed++;
    const models = op.request?.models as Record<string, { added?: number; updated?: number; deleted?: number }> | undefined;
    if (kind !== 'sync' || models === undefined) return;
    for (const [name, counts] of Object.entries(models)) {
      for (const change of ['added', 'updated', 'deleted'] as const) {
        const count = counts[change] ?? 0;
        if (count > 0) records.cellOf({ integration: integration(op.integrationKey), model: model(name), change }).value += count;
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
        webhooks.cellOf({ webhook: String(op.request?.webhook ?? 'unknown'), outcome }).value++;
      }
    },
    async snapshot() {
      minuteOf(now()); // drops minutes past the window even when nothing happened lately
      return { metrics: await registry.getMetricsAsJSON(), recent: [...recent.values()].map((m) => ({ ...m, latency: [...m.latency] })) };
    },
  };
}
