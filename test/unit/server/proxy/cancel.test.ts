// The proxy call's cancellation signal: what the upstream handler, the waits and the pacer rely on.
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../../../server/proxy/cancel.js';
import { sleep } from '../../../../server/proxy/sleep.js';

describe('Cancellation', () => {
  it('tells each listener once, in order, with the reason set; a second abort changes nothing', () => {
    const signal = new Cancellation();
    const heard: string[] = [];
    signal.addEventListener('abort', () => heard.push(`first ${String(signal.reason)}`));
    signal.addEventListener('abort', () => heard.push(`second ${String(signal.aborted)}`));
    signal.abort('gone');
    signal.abort('again');
    expect(heard).toEqual(['first gone', 'second true']);
    expect(signal.reason).toBe('gone');
  });

  it('does not tell a removed listener, nor one added after the abort', () => {
    const signal = new Cancellation();
    const heard: string[] = [];
    const removed = () => heard.push('removed');
    signal.addEventListener('abort', removed);
    signal.addEventListener('abort', () => heard.push('kept'));
    signal.removeEventListener('abort', removed);
    signal.removeEventListener('abort', () => heard.push('never added'));
    signal.abort(new Error('gone'));
    signal.addEventListener('abort', () => heard.push('late'));
    expect(heard).toEqual(['kept']);
  });

  it('cuts a wait short with its reason, and a wait on an aborted signal fails at once', async () => {
    const signal = new Cancellation();
    await sleep(1, signal);
    const waiting = sleep(60_000, signal);
    const reason = new Error('client disconnected');
    signal.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(sleep(1, signal)).rejects.toBe(reason);
  });
});
