// SQL for webhook_deliveries, the outbox of server/webhooks/: add deliveries, lease the due ones
// (SKIP LOCKED, so any number of runners share the work), record each attempt's result.
import type { Queryable } from './db.js';

export type WebhookKind = 'sync' | 'async_action' | 'auth';

export interface NewWebhookDelivery {
  id: string;
  kind: WebhookKind;
  url: string;
  /** The exact JSON text to sign and send. */
  body: string;
  integrationKey: string;
  connectionId: string;
  runId: string | null;
  parentLogId: string | null;
}

export interface LeasedWebhookDelivery extends NewWebhookDelivery {
  /** This attempt's number, from 1. */
  attempt: number;
}

/** What the webhooks of a finished run need to know about it, its history and its connection. */
export interface RunFacts {
  startedAt: Date;
  finishedAt: Date;
  /** Syncs: false when an earlier run of this sync succeeded, i.e. the run was incremental. */
  initial: boolean;
  /** The connection's `webhook_url_override`; null when unset or the connection is gone. */
  webhookUrlOverride: string | null;
}

export interface WebhookStore {
  add(deliveries: NewWebhookDelivery[]): Promise<void>;
  /**
   * Leases up to `limit` due deliveries: their attempt count goes up and their next attempt moves
   * `leaseMs` ahead, so a runner that dies mid-attempt leaves them to another after the lease.
   */
  leaseDue(limit: number, leaseMs: number): Promise<LeasedWebhookDelivery[]>;
  delivered(id: string, status: number): Promise<void>;
  retryLater(id: string, waitMs: number, status: number | null, error: string): Promise<void>;
  failed(id: string, status: number | null, error: string): Promise<void>;
  /** Milliseconds until the next pending delivery is due (0 if overdue), or null when none is. */
  nextDueInMs(): Promise<number | null>;
  runFacts(runId: string): Promise<RunFacts | undefined>;
  /** Deletes up to `limit` delivered or failed rows settled before `before`. */
  deleteSettledBefore(before: Date, limit: number): Promise<number>;
}

interface LeasedRow {
  id: string;
  kind: WebhookKind;
  url: string;
  body: string;
  integration_key: string;
  connection_id: string;
  run_id: string | null;
  parent_log_id: string | null;
  attempts: number;
}

export function createWebhookStore(db: Queryable): WebhookStore {
  return {
    async add(deliveries) {
      if (deliveries.length === 0) return;
      await db.query(
        `INSERT INTO webhook_deliveries (id, kind, url, body, integration_key, connection_id, run_id, parent_log_id)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::uuid[])`,
        [
          deliveries.map((d) => d.id),
          deliveries.map((d) => d.kind),
          deliveries.map((d) => d.url),
          deliveries.map((d) => d.body),
          deliveries.map((d) => d.integrationKey),
          deliveries.map((d) => d.connectionId),
          deliveries.map((d) => d.runId),
          deliveries.map((d) => d.parentLogId),
        ],
      );
    },
    async leaseDue(limit, leaseMs) {
      const { rows } = await db.query<LeasedRow>(
        `UPDATE webhook_deliveries w
           SET attempts = w.attempts + 1, next_attempt_at = now() + make_interval(secs => $2 / 1000.0)
         WHERE w.id IN (
           SELECT id FROM webhook_deliveries
           WHERE state = 'pending' AND next_attempt_at <= now()
           ORDER BY next_attempt_at LIMIT $1
           FOR UPDATE SKIP LOCKED)
         RETURNING w.id, w.kind, w.url, w.body, w.integration_key, w.connection_id, w.run_id, w.parent_log_id, w.attempts`,
        [limit, leaseMs],
      );
      return rows.map((row) => ({
        id: row.id,
        kind: row.kind,
        url: row.url,
        body: row.body,
        integrationKey: row.integration_key,
        connectionId: row.connection_id,
        runId: row.run_id,
        parentLogId: row.parent_log_id,
        attempt: row.attempts,
      }));
    },
    async delivered(id, status) {
      await db.query(
        `UPDATE webhook_deliveries SET state = 'delivered', last_status = $2, last_error = NULL, finished_at = now() WHERE id = $1 AND state = 'pending'`,
        [id, status],
      );
    },
    async retryLater(id, waitMs, status, error) {
      await db.query(
        `UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $2 / 1000.0), last_status = $3, last_error = $4
         WHERE id = $1 AND state = 'pending'`,
        [id, waitMs, status, error],
      );
    },
    async failed(id, status, error) {
      await db.query(
        `UPDATE webhook_deliveries SET state = 'failed', last_status = $2, last_error = $3, finished_at = now() WHERE id = $1 AND state = 'pending'`,
        [id, status, error],
      );
    },
    async nextDueInMs() {
      // No pending row: min() is NULL and so is ms (greatest() would skip a NULL and say 0,
      // which had an idle sender polling in a loop).
      const { rows } = await db.query<{ ms: number | null }>(
        `SELECT (extract(epoch FROM min(next_attempt_at) - now()) * 1000)::float8 AS ms FROM webhook_deliveries WHERE state = 'pending'`,
      );
      const ms = rows[0]?.ms ?? null;
      return ms === null ? null : Math.max(0, ms);
    },
    async runFacts(runId) {
      const { rows } = await db.query<{ started_at: Date | null; finished_at: Date | null; created_at: Date; earlier_success: boolean; webhook_url_override: string | null }>(
        `SELECT r.started_at, r.finished_at, r.created_at, c.webhook_url_override, EXISTS (
           SELECT 1 FROM function_runs s
           WHERE s.kind = 'sync' AND s.state = 'succeeded' AND s.id <> r.id AND s.integration_key = r.integration_key
             AND s.connection_id = r.connection_id AND s.function_name = r.function_name AND s.variant = r.variant
             AND s.created_at < r.created_at) AS earlier_success
         FROM function_runs r
         LEFT JOIN integrations i ON i.unique_key = r.integration_key
         LEFT JOIN connections c ON c.integration_id = i.id AND c.connection_id = r.connection_id
         WHERE r.id = $1`,
        [runId],
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      return {
        startedAt: row.started_at ?? row.created_at,
        finishedAt: row.finished_at ?? new Date(),
        initial: !row.earlier_success,
        webhookUrlOverride: row.webhook_url_override,
      };
    },
    async deleteSettledBefore(before, limit) {
      const { rowCount } = await db.query(
        `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE finished_at < $1 LIMIT $2)`,
        [before, limit],
      );
      return rowCount ?? 0;
    },
  };
}
