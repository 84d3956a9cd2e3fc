// What /metrics and the overview read: this thread's recorder, merged with the snapshots of the
// other threads of this process that record (the runner thread), plus gauges read from the
// database at scrape time (queue depth). Counters merge by summing, as prom-client's cluster
// aggregation does for the workers of one process.
import { AggregatorRegistry, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { PROXY_SECONDS_BUCKETS, RECENT_MINUTES, type MetricsRecorder, type MetricsSnapshot, type RecentMinute } from './recorder.js';

export { createMetricsRecorder, type MetricsRecorder, type MetricsSnapshot, type RecentMinute } from './recorder.js';
export { startMetricsServer, type MetricsServer } from './http.js';

export interface MetricsSourceDeps {
  recorder: MetricsRecorder;
  /** The snapshots of this process's other recording threads; undefined for one that did not answer. */
  remotes?: () => Promise<(MetricsSnapshot | undefined)[]>;
  /** Runs queued and running, by kind (read once per scrape). */
  activeRuns: () => Promise<{ kind: string; state: string; count: number }[]>;
}

export interface Overview {
  /** The last RECENT_MINUTES minutes, oldest first, the current (partial) minute last. */
  minutes: { minute: string; calls: number; errors: number }[];
  calls: number;
  errors: number;
  /** Seconds, from the latency histogram's buckets (linear within a bucket); null without calls. */
  p50Seconds: number | null;
  p99Seconds: number | null;
  runs: number;
  runsFailed: number;
}

export interface MetricsSource {
  /** Prometheus text exposition format 0.0.4. */
  exposition(): Promise<{ contentType: string; body: string }>;
  overview(nowMs?: number): Promise<Overview>;
}

const MINUTE_MS = 60_000;

/** The q-quantile of bucketed counts (non-cumulative, last bucket +Inf), as histogram_quantile reads it. */
export function quantileOf(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let index = 0; index < counts.length; index++) {
    const count = counts[index] as number;
    if (seen + count >= rank && count > 0) {
      const lower = index === 0 ? 0 : (PROXY_SECONDS_BUCKETS[index - 1] as number);
      // Past the last bound there is no upper edge: the last bound is the best Prometheus says too.
      const upper = PROXY_SECONDS_BUCKETS[index] ?? lower;
      return lower + (upper - lower) * ((rank - seen) / count);
    }
    seen += count;
  }
  return PROXY_SECONDS_BUCKETS.at(-1) as number;
}

/** Sums minutes of several threads and reads the overview's figures off them. Pure. */
export function buildOverview(recent: readonly RecentMinute[], nowMs: number): Overview {
  const current = nowMs - (nowMs % MINUTE_MS);
  const first = current - (RECENT_MINUTES - 1) * MINUTE_MS;
  const latency = new Array<number>(PROXY_SECONDS_BUCKETS.length + 1).fill(0);
  const byMinute = new Map<number, { calls: number; errors: number }>();
  let runs = 0;
  let runsFailed = 0;
  for (const minute of recent) {
    if (minute.minute < first || minute.minute > current) continue;
    const entry = byMinute.get(minute.minute) ?? { calls: 0, errors: 0 };
    entry.calls += minute.calls;
    entry.errors += minute.errors;
    byMinute.set(minute.minute, entry);
    minute.latency.forEach((count, index) => (latency[index] = (latency[index] as number) + count));
    runs += minute.runs;
    runsFailed += minute.runsFailed;
  }
  const minutes: Overview['minutes'] = [];
  for (let at = first; at <= current; at += MINUTE_MS) {
    const entry = byMinute.get(at) ?? { calls: 0, errors: 0 };
    minutes.push({ minute: new Date(at).toISOString(), ...entry });
  }
  return {
    minutes,
    calls: minutes.reduce((sum, m) => sum + m.calls, 0),
    errors: minutes.reduce((sum, m) => sum + m.errors, 0),
    p50Seconds: quantileOf(latency, 0.5),
    p99Seconds: quantileOf(latency, 0.99),
    runs,
    runsFailed,
  };
}

export function createMetricsSource(deps: MetricsSourceDeps): MetricsSource {
  // Read from the database at scrape time, in a registry of its own: only the process serving
  // /metrics reports it, so summing threads never counts it twice.
  const database = new Registry();
  new Gauge({
    name: 'patchbay_queue_depth',
    help: 'Action and sync runs waiting for a runner (state=queued) or running (state=running), across all processes.',
    labelNames: ['kind', 'state'],
    registers: [database],
    async collect() {
      this.reset();
      const counts = new Map((await deps.activeRuns()).map((row) => [`${row.kind}/${row.state}`, row.count]));
      for (const kind of ['action', 'sync']) {
        for (const state of ['queued', 'running']) this.set({ kind, state }, counts.get(`${kind}/${state}`) ?? 0);
      }
    },
  });

  const snapshots = async (): Promise<MetricsSnapshot[]> => {
    const remote = (await deps.remotes?.()) ?? [];
    return [await deps.recorder.snapshot(), ...remote.filter((snapshot): snapshot is MetricsSnapshot => snapshot !== undefined)];
  };

  return {
    async exposition() {
      const all = await snapshots();
      const own: MetricObjectWithValues<MetricValue<string>>[][] = [...all.map((snapshot) => snapshot.metrics), await database.getMetricsAsJSON()];
      const merged = AggregatorRegistry.aggregate(own);
      return { contentType: merged.contentType, body: await merged.metrics() };
    },
    async overview(nowMs = Date.now()) {
      return buildOverview((await snapshots()).flatMap((snapshot) => snapshot.recent), nowMs);
    },
  };
}
