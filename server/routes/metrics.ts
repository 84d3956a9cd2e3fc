// GET /metrics (Prometheus text format) and GET /overview (the dashboard's first page, as JSON):
// both read the same counters (server/metrics), so a chart and a Prometheus query agree.
import type { FastifyInstance } from 'fastify';
import type { MetricsSource } from '../metrics/index.js';
import type { Store } from '../store/index.js';

export interface MetricsRouteDeps {
  metrics: MetricsSource;
  store: Store;
}

export function metricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await deps.metrics.exposition();
    return reply.header('cache-control', 'no-store').type(contentType).send(body);
  });
}

export function overviewRoute(app: FastifyInstance, deps: MetricsRouteDeps): void {
  app.get('/overview', async (_request, reply) => {
    const [overview, refresh] = await Promise.all([deps.metrics.overview(), deps.store.connections.countRefreshProblems()]);
    const ms = (seconds: number | null) => (seconds === null ? null : Math.round(seconds * 1000));
    return reply.header('cache-control', 'no-store').send({
      window_minutes: overview.minutes.length,
      minutes: overview.minutes,
      calls: overview.calls,
      errors: overview.errors,
      p50_ms: ms(overview.p50Seconds),
      p99_ms: ms(overview.p99Seconds),
      runs: overview.runs,
      runs_failed: overview.runsFailed,
      connections_refresh_failing: refresh.failing,
      connections_refresh_exhausted: refresh.exhausted,
    });
  });
}
