import { describe, expect, it } from 'vitest';
import type { RecordedFailure } from '../../../../runner/sandbox/bridge.js';
import { DEFAULT_LIMITS } from '../../../../runner/sandbox/limits.js';
import { toInspectResult, toRunOutcome, type Session } from '../../../../runner/sandbox/run.js';

const recorded = new Map<number, RecordedFailure>([
  [1, { kind: 'http', status: 404, headers: { 'content-type': 'application/json' }, data: { message: 'Not Found' } }],
  [2, { kind: 'host', failure: { code: 'network_error', message: 'connect ECONNREFUSED' } }],
  [3, { kind: 'host', failure: { code: 'rate_limited', message: 'wait', status: 429 } }],
  [4, { kind: 'host', failure: { code: 'upstream', message: 'x', response: { status: 502, headers: {}, data: 'bad gateway' } } }],
]);

const answered = (value: unknown): Session => ({ ending: { how: 'answered', value }, cpuMs: 1, wallMs: 2, dirty: false, warm: false, failureOf: (ref) => recorded.get(ref) });
const failureOf = (value: unknown) => {
  const outcome = toRunOutcome(answered(value), DEFAULT_LIMITS);
  return outcome.ok ? undefined : outcome.failure;
};
const RUNTIME_FAILED = { type: 'internal_error', name: 'Error', message: 'The function runtime returned an unexpected result.', stack: '' };

describe('toRunOutcome: reading the guest answer', () => {
  it('parses the output JSON and keeps the text', () => {
    expect(toRunOutcome(answered({ ok: true, outputJson: '{"a":[1]}' }), DEFAULT_LIMITS)).toEqual({ ok: true, output: { a: [1] }, outputJson: '{"a":[1]}', cpuMs: 1, wallMs: 2 });
  });

  it('rebuilds host failures from the host record, by number', () => {
    expect([1, 2, 3, 4].map((failureRef) => failureOf({ ok: false, failure: { type: 'host_failure', failureRef } }))).toEqual([
      { type: 'http_error', status: 404, headers: { 'content-type': 'application/json' }, data: { message: 'Not Found' } },
      { type: 'network_error', message: 'connect ECONNREFUSED' },
      { type: 'sdk_error', code: 'rate_limited', message: 'wait', status: 429 },
      { type: 'http_error', status: 502, headers: {}, data: 'bad gateway' },
    ]);
    expect(failureOf({ ok: false, failure: { type: 'host_failure', failureRef: 99 } })).toMatchObject({ type: 'internal_error', message: expect.stringMatching(/earlier run, or too long ago/) });
  });

  it('never takes a host-only failure type from the guest', () => {
    for (const type of ['cpu_limit', 'wall_timeout', 'out_of_memory', 'aborted', 'http_error', 'sdk_error', 'network_error']) {
      expect(failureOf({ ok: false, failure: { type, limitMs: 1, status: 500, code: 'x', message: 'forged' } }), type).toEqual(RUNTIME_FAILED);
    }
  });

  it('refuses answers of the wrong shape', () => {
    for (const value of [null, 'ok', [], { ok: true }, { ok: true, outputJson: 5 }, { ok: false }, { ok: false, failure: 'x' }, { ok: false, failure: { type: 'action_error' } }, { ok: false, failure: { type: 'host_failure', failureRef: '1' } }]) {
      expect(failureOf(value), JSON.stringify(value)).toEqual(RUNTIME_FAILED);
    }
  });

  it('checks output and payload sizes in UTF-8 bytes itself', () => {
    const limits = { ...DEFAULT_LIMITS, maxOutputBytes: 10 };
    expect(toRunOutcome(answered({ ok: true, outputJson: '"ééééé"' }), limits)).toMatchObject({ ok: false, failure: { type: 'output_too_large', bytes: 12, limit: 10 } });
    expect(toRunOutcome(answered({ ok: false, failure: { type: 'action_error', payloadJson: '"ééééé"' } }), limits)).toMatchObject({ ok: false, failure: { type: 'output_too_large', bytes: 12 } });
    expect(toRunOutcome(answered({ ok: true, outputJson: '{bad' }), DEFAULT_LIMITS)).toMatchObject({ ok: false, failure: { type: 'output_not_json' } });
  });

  it('bounds and trims what an internal error carries', () => {
    const failure = failureOf({
      ok: false,
      failure: { type: 'internal_error', name: 'E'.repeat(500), message: 'm'.repeat(20_000), stack: 'Error: x\n    at f (function.js:1:1)\n    at run (patchbay-runtime.js:9:9)\n    at /work/main/secret.ts:1:1' },
    }) as { name: string; message: string; stack: string };
    expect(failure.name.length).toBeLessThanOrEqual(201);
    expect(failure.message.length).toBeLessThanOrEqual(16 * 1024 + 1);
    expect(failure.stack).toBe('Error: x\n    at f (function.js:1:1)');
  });

  it('keeps invalid input issues only when they are a list', () => {
    expect(failureOf({ ok: false, failure: { type: 'invalid_input', issuesJson: '[{"path":["a"]}]' } })).toEqual({ type: 'invalid_input', issues: [{ path: ['a'] }] });
    expect(failureOf({ ok: false, failure: { type: 'invalid_output', issuesJson: '{"not":"a list"}' } })).toEqual({ type: 'invalid_output', issues: [] });
  });
});

describe('toInspectResult: reading a definition', () => {
  const inspected = (value: unknown) => toInspectResult(answered(value));

  it('rebuilds the summary from known fields only', () => {
    expect(inspected({ ok: true, summary: { type: 'action', description: 'd', version: '1.0.0', hasInput: true, hasOutput: 'yes', hasOnWebhook: false, extra: 'dropped', scopes: ['a', 1] } })).toEqual({
      ok: true,
      summary: { type: 'action', description: 'd', version: '1.0.0', hasInput: true, hasOutput: false, hasOnWebhook: false, scopes: ['a'] },
    });
  });

  it('refuses an unknown type and a sync without frequency', () => {
    expect(inspected({ ok: true, summary: { type: 'webhook' } })).toEqual({ ok: false, message: 'The definition has no valid type.' });
    expect(inspected({ ok: true, summary: { type: 'sync', models: ['A'] } })).toMatchObject({ ok: false, message: expect.stringMatching(/needs a frequency/) });
  });
});
