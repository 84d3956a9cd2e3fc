// Made-up proxy-call log operations in bulk: the dashboard's log benchmarks and the log search
// tests fill a log with them.
import { newLogId } from '../../server/logs/writer.js';
import type { LogOperation } from '../../server/store/logs.js';

export interface SyntheticCall {
  integrationKey: string;
  connectionId: string;
  /** Shows in the URL (`…/items/<n>`). */
  n: number;
  failed: boolean;
  startedAt: Date;
  durationMs: number;
  /** The host of the URL; default `api.<integrationKey>.example`. */
  host?: string;
}

/** A finished GET through the proxy: 200, or 503 with an upstream_error when `failed`. */
export function syntheticCall(call: SyntheticCall): LogOperation {
  const { failed, startedAt } = call;
  return {
    id: newLogId(),
    parentId: null,
    type: 'proxy',
    action: 'call',
    state: failed ? 'failed' : 'success',
    level: failed ? 'error' : 'info',
    integrationKey: call.integrationKey,
    connectionId: call.connectionId,
    method: 'GET',
    url: `https://${call.host ?? `api.${call.integrationKey}.example`}/items/${call.n}`,
    status: failed ? 503 : 200,
    error: failed ? { code: 'upstream_error', message: 'Service Unavailable' } : null,
    attempts: [],
    request: null,
    response: null,
    messages: [],
    startedAt,
    endedAt: new Date(startedAt.getTime() + call.durationMs),
    durationMs: call.durationMs,
  };
}
