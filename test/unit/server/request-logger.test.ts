import { Writable } from 'node:stream';
import Fastify, { LogController } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { deferredChildLogger } from '../../../server/request-logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

describe('deferred request logger', () => {
  it('logs with the request id, as a pino child would, and follows level changes', async () => {
    const { lines, logger } = capture();
    const app = Fastify({ loggerInstance: logger, childLoggerFactory: deferredChildLogger, logController: new LogController({ disableRequestLogging: true }) });
    app.get('/quiet', async () => 'ok');
    app.get('/loud', async (request) => {
      request.log.debug('not at info');
      const before = request.log.level;
      request.log.info({ step: 1 }, 'first %s', 'line');
      request.log.level = 'debug';
      request.log.debug('now shown');
      request.log.child({ part: 'inner' }).warn('from a child');
      return { before, after: request.log.level };
    });
    await app.ready();

    expect((await app.inject({ url: '/quiet' })).body).toBe('ok');
    expect(lines).toEqual([]);
    const loud = await app.inject({ url: '/loud' });
    expect(loud.json()).toEqual({ before: 'info', after: 'debug' });
    expect(lines.map(({ reqId, msg, step, part, level }) => ({ reqId, msg, step, part, level }))).toEqual([
      { reqId: 'req-2', msg: 'first line', step: 1, part: undefined, level: 30 },
      { reqId: 'req-2', msg: 'now shown', step: undefined, part: undefined, level: 20 },
      { reqId: 'req-2', msg: 'from a child', step: undefined, part: 'inner', level: 40 },
    ]);
    await app.close();
  });

  it("carries Fastify's own request logging, with the request id", async () => {
    const { lines, logger } = capture();
    const app = Fastify({ loggerInstance: logger, childLoggerFactory: deferredChildLogger });
    app.get('/boom', async () => {
      throw new Error('kaput');
    });
    await app.ready();
    expect((await app.inject({ url: '/boom' })).statusCode).toBe(500);
    expect(lines.map((line) => line.msg)).toEqual(['incoming request', 'kaput', 'request completed']);
    expect(lines.every((line) => line.reqId === 'req-1')).toBe(true);
    expect(lines[1]).toMatchObject({ level: 50, err: { message: 'kaput' } });
    await app.close();
  });
});
