import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createOutageLog } from '../../../../server/store/outage-log.js';

function capture() {
  const lines: { level: number; msg: string; failures?: number }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { lines, logger };
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' });

describe('outage log', () => {
  it('warns at the first failure of an outage, then once more only when it is over', () => {
    const { lines, logger } = capture();
    const outage = createOutageLog(logger, 'reaping stale runs');
    outage.succeeded();
    for (let i = 0; i < 50; i++) outage.failed(refused());
    expect(outage.down).toBe(true);
    outage.succeeded();
    outage.succeeded();
    expect(lines).toMatchObject([
      { level: 40, msg: 'reaping stale runs failed: the database is unreachable; retrying quietly until it is back' },
      { level: 30, msg: 'reaping stale runs works again', failures: 50 },
    ]);
    expect(outage.down).toBe(false);
  });

  it('warns about each new outage', () => {
    const { lines, logger } = capture();
    const outage = createOutageLog(logger, 'sending webhooks');
    for (const _ of [1, 2]) {
      outage.failed(refused());
      outage.failed(refused());
      outage.succeeded();
    }
    expect(lines.map((line) => line.level)).toEqual([40, 30, 40, 30]);
  });

  it('warns about every other error: those are bugs, not an outage', () => {
    const { lines, logger } = capture();
    const outage = createOutageLog(logger, 'starting scheduled syncs');
    outage.failed(Object.assign(new Error('syntax error'), { code: '42601' }));
    outage.failed(Object.assign(new Error('syntax error'), { code: '42601' }));
    expect(lines).toMatchObject([
      { level: 40, msg: 'starting scheduled syncs failed' },
      { level: 40, msg: 'starting scheduled syncs failed' },
    ]);
    expect(outage.down).toBe(false);
  });
});
