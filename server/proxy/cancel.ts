// A cancellation signal for one proxy call. AbortController is the standard, but on Node 20 it
// costs ~8 % of the proxy's throughput (EventTarget machinery on every call); this EventEmitter
// has the part of its surface that undici, our waits and the pacer use.
import { EventEmitter } from 'node:events';

/** What the engine needs of a signal; an AbortSignal fits it too. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export class Cancellation extends EventEmitter implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    this.once('abort', listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.removeListener('abort', listener);
  }
}
