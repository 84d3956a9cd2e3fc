// How a run ended → the catalogue code a caller sees, and whether another attempt could help.
// Pure. Deterministic failures (the function's own errors, bad input, limits it hit by itself)
// are never retried; infrastructure and upstream trouble is (inngest's NonRetriableError, as data).
import { ERRORS, type ErrorCode } from '../server/errors.js';
import { toRunError, type RunError } from '../server/store/index.js';
import type { RunFailure } from './sandbox/index.js';

// Upstream headers worth showing with script_http_error (Nango shows content-type and x-rate*).
const UPSTREAM_HEADER = /^(content-type|x-rate|ratelimit|retry-after)/i;

export interface Decision {
  error: RunError;
  retryable: boolean;
}

export function decideOutcome(failure: RunFailure): Decision {
  switch (failure.type) {
    case 'action_error':
      return { error: toRunError('action_script_runtime_error', ERRORS.action_script_runtime_error.message, { payload: failure.payload }), retryable: false };
    case 'http_error': {
      const headers = Object.fromEntries(Object.entries(failure.headers).filter(([name]) => UPSTREAM_HEADER.test(name)));
      return {
        error: toRunError('script_http_error', `The provider answered ${failure.status}.`, {
          payload: failure.data,
          upstream: { status: failure.status, headers, body: failure.data },
        }),
        retryable: failure.status === 429 || failure.status >= 500,
      };
    }
    case 'network_error':
      return { error: toRunError('script_network_error', failure.message), retryable: true };
    case 'sdk_error': {
      const known = failure.code in ERRORS ? (failure.code as ErrorCode) : undefined;
      if (known === undefined) return { error: toRunError('script_internal_error', failure.message, { payload: { code: failure.code } }), retryable: false };
      return { error: toRunError(known, failure.message), retryable: known === 'rate_limited' };
    }
    case 'internal_error':
      return {
        error: toRunError('script_internal_error', failure.message, {
          payload: { name: failure.name, message: failure.message, stacktrace: failure.stack },
        }),
        retryable: false,
      };
    case 'invalid_input':
      return { error: toRunError('invalid_action_input', ERRORS.invalid_action_input.message, { payload: failure.issues }), retryable: false };
    case 'invalid_output':
      return { error: toRunError('invalid_action_output', ERRORS.invalid_action_output.message, { payload: failure.issues }), retryable: false };
    case 'invalid_definition':
      return { error: toRunError('script_internal_error', failure.message), retryable: false };
    case 'output_too_large':
      return {
        error: toRunError('action_output_too_large', `The output is ${failure.bytes} bytes; the limit is ${failure.limit}.`, {
          payload: { bytes: failure.bytes, limit: failure.limit },
        }),
        retryable: false,
      };
    case 'output_not_json':
      return { error: toRunError('script_internal_error', `The output cannot be sent as JSON: ${failure.message}`), retryable: false };
    case 'wall_timeout':
      // A slow provider can make the next attempt faster.
      return { error: toRunError('execution_timeout', `The function ran longer than ${failure.limitMs} ms.`), retryable: true };
    case 'cpu_limit':
      return { error: toRunError('execution_cpu_limit', `The function used more than ${failure.limitMs} ms of CPU time.`), retryable: false };
    case 'out_of_memory':
      return { error: toRunError('execution_out_of_memory', `The function used more than ${failure.limitMb} MB of memory.`), retryable: false };
    case 'aborted':
      return { error: toRunError('script_aborted'), retryable: false };
  }
}
