// One run's host: the operations its guest may call, bound to the run's connection, and the
// run's log lines (console and nango.log), bounded so a chatty loop cannot fill memory; and the
// log operation a finished run (deployed or dry) becomes.
import type { FunctionKind, LogOperation, RunError } from '../server/store/index.js';
import { buildOperations, hostFailure, toHostFailure, type OperationDeps, type RunScope } from './operations.js';
import type { HostCall } from './sandbox/index.js';

// A run keeps at most 1,000 lines of 8 KB: enough to debug, small enough for one log row.
const MAX_LOG_LINES = 1000;
const MAX_LOG_LINE_CHARS = 8192;

export interface RunLogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  meta?: unknown;
  at: string;
}

export interface RunLog {
  lines: RunLogLine[];
  dropped: number;
}

export interface RunHost {
  call: HostCall;
  log(level: RunLogLine['level'], message: string, meta?: unknown): void;
}

export function buildRunHost(deps: OperationDeps, scope: RunScope, log: RunLog, extra: Record<string, (args: Record<string, unknown>) => Promise<unknown>> = {}): RunHost {
  let write: RunHost['log'] = () => undefined;
  // Operations record credential reads and uncontrolled fetches in the run's log.
  const operations = { ...buildOperations(deps, { ...scope, log: (level, message) => write(level, message) }), ...extra };
  const host: RunHost = {
    async call(op, args) {
      const operation = Object.hasOwn(operations, op) ? operations[op] : undefined;
      if (operation === undefined) throw hostFailure('unknown_operation', `nango.${op} is not available here.`);
      const plain = typeof args === 'object' && args !== null ? (args as Record<string, unknown>) : {};
      try {
        return await operation(plain);
      } catch (error) {
        throw (error as { hostFailure?: unknown }).hostFailure === true ? error : toHostFailure(error);
      }
    },
    log(level, message, meta) {
      if (log.lines.length >= MAX_LOG_LINES) {
        log.dropped++;
        return;
      }
      const text = message.length > MAX_LOG_LINE_CHARS ? `${message.slice(0, MAX_LOG_LINE_CHARS)}…` : message;
      log.lines.push({ level, message: text, ...(meta === undefined ? {} : { meta: boundMeta(meta) }), at: new Date().toISOString() });
    },
  };
  write = host.log;
  return host;
}

function boundMeta(meta: unknown): unknown {
  try {
    const text = JSON.stringify(meta);
    return text === undefined || text.length <= MAX_LOG_LINE_CHARS ? meta : { truncated: text.slice(0, MAX_LOG_LINE_CHARS) };
  } catch {
    return { unserializable: true };
  }
}

export interface RunLogFacts {
  logId: string;
  kind: FunctionKind;
  /** `run` for deployed runs, `dryrun` for dry runs. */
  action: 'run' | 'dryrun';
  integrationKey: string;
  connectionId: string;
  /** What the operation shows as its request: the function, attempt, models… */
  request: Record<string, unknown>;
  /** Undefined when the run succeeded. */
  error: RunError | undefined;
  startedAt: Date;
}

/** A run as one log operation: its lines (and how many were dropped), its outcome; its proxy calls are its children. */
export function toRunLogOperation(facts: RunLogFacts, lines: RunLogLine[], dropped: number): LogOperation {
  const endedAt = new Date();
  const failed = facts.error !== undefined;
  return {
    id: facts.logId,
    parentId: null,
    type: facts.kind,
    action: facts.action,
    state: failed ? 'failed' : 'success',
    level: failed ? 'error' : 'info',
    integrationKey: facts.integrationKey,
    connectionId: facts.connectionId,
    method: null,
    url: null,
    status: facts.error?.status ?? 200,
    error: facts.error === undefined ? null : { code: facts.error.code, message: facts.error.message },
    attempts: [],
    request: facts.request,
    response: null,
    messages: dropped > 0 ? [...lines, { level: 'warn', message: `${dropped} more log lines dropped`, at: endedAt.toISOString() }] : lines,
    startedAt: facts.startedAt,
    endedAt,
    durationMs: endedAt.getTime() - facts.startedAt.getTime(),
  };
}
