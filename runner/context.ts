// One run's host: the operations its guest may call, bound to the run's connection, and the
// run's log lines (console and nango.log), bounded so a chatty loop cannot fill memory.
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
