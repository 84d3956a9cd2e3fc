import { describe, expect, it } from 'vitest';
import { isConnectionError } from '../../../../server/store/db.js';

const errorWith = (fields: Record<string, unknown>, message = 'x') => Object.assign(new Error(message), fields);

describe('isConnectionError', () => {
  it.each([
    ['a refused connect (TCP or Unix socket)', errorWith({ code: 'ECONNREFUSED', syscall: 'connect' })],
    ['a Unix socket whose file is gone', errorWith({ code: 'ENOENT', syscall: 'connect' })],
    ['a connection reset', errorWith({ code: 'ECONNRESET' })],
    ['admin_shutdown (the postmaster died under the backend)', errorWith({ code: '57P01' })],
    ['crash_shutdown', errorWith({ code: '57P02' })],
    ['cannot_connect_now (starting up, recovering)', errorWith({ code: '57P03' })],
    ['too_many_connections', errorWith({ code: '53300' })],
    ['a connection exception (class 08)', errorWith({ code: '08006' })],
    ['pg: Connection terminated unexpectedly', new Error('Connection terminated unexpectedly')],
    ['pg: a client broken by an earlier error', new Error('Client has encountered a connection error and is not queryable')],
    ['pg-pool: a connect timeout', new Error('timeout exceeded when trying to connect')],
    ['pg-pool: a wrapped connect timeout', new Error('Connection terminated due to connection timeout', { cause: new Error('Connection terminated unexpectedly') })],
  ])('recognises %s', (_name, error) => {
    expect(isConnectionError(error)).toBe(true);
  });

  it.each([
    ['a unique violation', errorWith({ code: '23505' })],
    ['a syntax error', errorWith({ code: '42601' })],
    ['a lock timeout', errorWith({ code: '55P03' })],
    ['a serialization failure', errorWith({ code: '40001' })],
    ['a missing file that is not a socket', errorWith({ code: 'ENOENT', syscall: 'open' })],
    ['a plain error', new Error('boom')],
    ['a non-error', 'ECONNREFUSED'],
    ['undefined', undefined],
  ])('does not take %s for an outage', (_name, error) => {
    expect(isConnectionError(error)).toBe(false);
  });
});
