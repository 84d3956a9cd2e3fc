import { describe, expect, it } from 'vitest';
import { decideOutcome } from '../../../runner/outcome.js';
import type { RunFailure } from '../../../runner/sandbox/index.js';

describe('decideOutcome', () => {
  it('an ActionError is a 500 action_script_runtime_error carrying its payload, never retried', () => {
    expect(decideOutcome({ type: 'action_error', payload: { reason: 'no' } })).toEqual({
      error: { code: 'action_script_runtime_error', message: expect.any(String), status: 500, payload: { reason: 'no' } },
      retryable: false,
    });
  });

  it.each([
    [404, false],
    [429, true],
    [500, true],
    [503, true],
  ])('an upstream %i is a 424 script_http_error; retryable: %s', (status, retryable) => {
    const decision = decideOutcome({ type: 'http_error', status, headers: { 'content-type': 'application/json', 'x-ratelimit-remaining': '0', 'set-cookie': 'a=b' }, data: { message: 'x' } });
    expect(decision.retryable).toBe(retryable);
    expect(decision.error).toMatchObject({ code: 'script_http_error', status: 424, payload: { message: 'x' } });
    expect(decision.error.upstream).toEqual({ status, headers: { 'content-type': 'application/json', 'x-ratelimit-remaining': '0' }, body: { message: 'x' } });
  });

  it.each<[RunFailure, string, number, boolean]>([
    [{ type: 'wall_timeout', limitMs: 100 }, 'execution_timeout', 500, true],
    [{ type: 'cpu_limit', limitMs: 100 }, 'execution_cpu_limit', 500, false],
    [{ type: 'out_of_memory', limitMb: 16 }, 'execution_out_of_memory', 500, false],
    [{ type: 'output_too_large', bytes: 3, limit: 2 }, 'action_output_too_large', 500, false],
    [{ type: 'invalid_input', issues: [] }, 'invalid_action_input', 400, false],
    [{ type: 'invalid_output', issues: [] }, 'invalid_action_output', 500, false],
    [{ type: 'network_error', message: 'ECONNRESET' }, 'script_network_error', 500, true],
    [{ type: 'aborted' }, 'script_aborted', 410, false],
    [{ type: 'invalid_definition', message: 'no default export' }, 'script_internal_error', 500, false],
  ])('%o → %s (%i), retryable %s', (failure, code, status, retryable) => {
    const decision = decideOutcome(failure);
    expect([decision.error.code, decision.error.status, decision.retryable]).toEqual([code, status, retryable]);
  });

  it('a catalogue code from a host operation keeps its code and status; an unknown one becomes script_internal_error', () => {
    expect(decideOutcome({ type: 'sdk_error', code: 'rate_limited', message: 'wait' })).toMatchObject({ error: { code: 'rate_limited', status: 429 }, retryable: true });
    expect(decideOutcome({ type: 'sdk_error', code: 'unknown_connection', message: 'x' }).error.status).toBe(404);
    expect(decideOutcome({ type: 'sdk_error', code: 'made_up', message: 'x' }).error).toMatchObject({ code: 'script_internal_error', payload: { code: 'made_up' } });
  });

  it('a plain throw keeps its name, message and trimmed stack in the payload', () => {
    const { error } = decideOutcome({ type: 'internal_error', name: 'TypeError', message: 'x is undefined', stack: 'at exec (github/actions/a.ts:3:1)' });
    expect(error).toMatchObject({ code: 'script_internal_error', status: 500, payload: { name: 'TypeError', message: 'x is undefined', stacktrace: 'at exec (github/actions/a.ts:3:1)' } });
  });
});
