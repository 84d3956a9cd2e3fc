// A cancellation signal for one proxy call. AbortController is the standard, but on Node 20 it
// costs ~8 % of the proxy's throughput (EventTarget machinery on every call); this has the part
// of its surface that our upstream handler, waits and the pacer use, and no more: a call has one
// or two listeners at a time, so a plain array (an EventEmitter's `once` wrapped each listener in
// two objects, and this signal cost ~6 % of a proxied call's CPU with it).

/** What the engine needs of a signal; an AbortSignal fits it too. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export class Cancellation implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined;

  /** Aborts once: each listener then hears it once, in the order they were added. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) listener();
  }

  /** Listeners hear the abort once (as with `{ once: true }`); none are called after it. */
  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (listeners === undefined) return;
    const at = listeners.lastIndexOf(listener);
    if (at !== -1) listeners.splice(at, 1);
  }
}
