// autocannon runs, in this process, with latencies recorded at full precision; several runs
// (interleaved slices of one scenario) can be summarised as one result.
//
// autocannon's own latency histogram stores whole milliseconds (0.4 ms is recorded as 0), which
// cannot tell whether a proxy adds 0.3 ms or 0.9 ms; so every response time it measures
// (process.hrtime, fractional ms) is also kept here and the percentiles are computed from those.
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** Stop after this many requests instead of after durationS. */
  amount?: number;
  headers?: Record<string, string>;
  requests?: autocannon.Request[];
  setupClient?: (client: autocannon.Client) => void;
  /** Called once every client is set up (its requests built), as the measured run begins. */
  onStart?: () => void;
}

export interface LoadResult {
  /**
   * 2xx responses per second of load: over the time from autocannon's start (its clients set up)
   * to the last response. Its own `duration` also counts building the clients' requests, which
   * for 64 clients × 1,000 rotating requests is a noticeable share of a short run.
   */
  rps: number;
  /** Latency percentiles in ms, from the exact response times. */
  p50: number;
  p90: number;
  p99: number;
  meanMs: number;
  /** autocannon's own (whole-millisecond) percentiles, for comparison with its CLI output (of the longest slice when merged). */
  autocannonP50: number;
  autocannonP99: number;
  requests: number;
  /** Each slice's `rps`, in the order they ran (one entry for an unsliced run). */
  sliceRps: number[];
  durationS: number;
  /**
   * Seconds from the start to the last 2xx response: with `amount`, autocannon stops (and its
   * durationS ends) only at its next one-second tick after the last response.
   */
  activeS: number;
  /** How many runs this result merges (interleaved slices of one scenario). */
  slices: number;
}

/** One autocannon run before it is summarised: every 2xx response time, unsorted. */
export interface LoadRun {
  times: Float64Array;
  durationS: number;
  activeS: number;
  autocannonP50: number;
  autocannonP99: number;
}

export class LoadError extends Error {}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  return summarize([await runLoadRaw(options)]);
}

export async function runLoadRaw(options: LoadOptions): Promise<LoadRun> {
  let times = new Float64Array(1 << 16);
  let count = 0;
  let startedAt = 0;
  let lastAt = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationS,
        amount: options.amount,
        headers: options.headers,
        requests: options.requests,
        setupClient: options.setupClient,
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
    instance.once('start', () => (startedAt = performance.now()));
    if (options.onStart) instance.once('start', options.onStart);
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return; // counted in non2xx, which fails the run
      if (count === times.length) {
        const grown = new Float64Array(times.length * 2);
        grown.set(times);
        times = grown;
      }
      times[count++] = responseTime;
      lastAt = performance.now();
    });
  });

  const failures = result.non2xx + result.errors + result.timeouts + result.mismatches;
  if (failures > 0 || count === 0) {
    throw new LoadError(
      `${options.url} (${options.connections} connections): ${result.non2xx} non-2xx, ${result.errors} errors, ` +
        `${result.timeouts} timeouts, ${result.mismatches} mismatches, ${count} successes; status codes ${JSON.stringify(result.statusCodeStats)}`,
    );
  }
  return {
    times: times.subarray(0, count),
    durationS: result.duration,
    activeS: (lastAt - startedAt) / 1000,
    autocannonP50: result.latency.p50,
    autocannonP99: result.latency.p99,
  };
}

/** One result over one or more runs: throughput over their summed time, percentiles over all their responses. */
export function summarize(runs: LoadRun[]): LoadResult {
  const count = runs.reduce((sum, run) => sum + run.times.length, 0);
  const sorted = new Float64Array(count);
  let at = 0;
  for (const run of runs) {
    sorted.set(run.times, at);
    at += run.times.length;
  }
  sorted.sort();
  let sum = 0;
  for (const t of sorted) sum += t;
  const durationS = runs.reduce((total, run) => total + run.durationS, 0);
  const activeS = runs.reduce((total, run) => total + run.activeS, 0);
  const longest = runs.reduce((a, b) => (b.durationS > a.durationS ? b : a));
  return {
    rps: round(count / activeS, 1),
    p50: round(percentile(sorted, 50), 3),
    p90: round(percentile(sorted, 90), 3),
    p99: round(percentile(sorted, 99), 3),
    meanMs: round(sum / count, 3),
    autocannonP50: longest.autocannonP50,
    autocannonP99: longest.autocannonP99,
    requests: count,
    sliceRps: runs.map((run) => round(run.times.length / run.activeS, 1)),
    durationS: round(durationS, 3),
    activeS: round(activeS, 3),
    slices: runs.length,
  };
}

/** The (lower) median: nearest-rank, the middle value of an odd count. */
export function median(values: readonly number[]): number {
  return percentile(Float64Array.from(values).sort(), 50);
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
