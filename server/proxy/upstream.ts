// One request to a provider through undici's dispatch, without the stream request() makes of
// every answer: the answer's status and headers resolve a promise, and its body goes straight
// to whoever takes it (the /proxy route writes it to its response), or into a stream made on
// demand (functions, decompression). With undici's request() and the stream it makes of every
// answer, a proxied call cost ~5 % more of Patchbay's CPU (bench:ab at 64 connections,
// 2026-12-06: 103.1 against 97.4 µs per call).
import { Readable } from 'node:stream';
import { util, type Dispatcher } from 'undici';
import type { CancelSignal } from './cancel.js';
import type { BodySink, BodySource } from './types.js';

export type UpstreamHeaders = Record<string, string | string[] | undefined>;

export interface UpstreamResponse {
  statusCode: number;
  headers: UpstreamHeaders;
  body: UpstreamBody;
}

/** A body nobody takes is held up to this many bytes, then the provider is paused. */
const HELD_BYTES = 64 * 1024;
/** As undici's dump(): an unwanted body this small is read to its end (its connection stays reusable); a longer one is abandoned. */
const DUMP_BYTES = 128 * 1024;

/** What the log says of a body abandoned before its end (this one, or a decompressed stream of it). */
export const NOT_READ = 'the response body was not read to its end';

/**
 * An answer's body, as it arrives. Its one taker is a sink (deliver) or a stream (toReadable);
 * until it comes, chunks are held. onDone hears once how it went: null when it ended, else why
 * not (a failure, or destroy() before its end, which stops the transfer).
 */
export class UpstreamBody implements BodySource {
  private sink: BodySink | undefined;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private ended = false;
  private failure: Error | undefined;
  private settled = false;
  private doneListener: ((error: Error | null) => void) | undefined;

  constructor(private readonly transfer: { pause(): void; resume(): void; stop(error: Error): void }) {}

  /** Called once, when the body ended, failed or was destroyed. */
  onDone(listener: (error: Error | null) => void): void {
    this.doneListener = listener;
    if (this.settled) listener(this.ended ? null : (this.failure as Error));
  }

  /** Hands every chunk (those held first) to `sink`. Once per body. */
  deliver(sink: BodySink): void {
    if (this.sink !== undefined) throw new Error('the body has a taker already');
    this.sink = sink;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    let flowing = true;
    for (const chunk of held) {
      flowing = sink.data(chunk) && flowing;
    }
    if (this.ended) sink.end();
    else if (this.failure !== undefined) sink.error(this.failure);
    else if (flowing) this.transfer.resume();
  }

  /** More chunks after the sink's false. */
  resume(): void {
    this.transfer.resume();
  }

  /** Stops the transfer (when still going) and settles the body as failed. */
  destroy(error?: Error): void {
    if (this.settled) return;
    const reason = error ?? new Error(NOT_READ);
    this.fail(reason);
    this.transfer.stop(reason);
  }

  /** The body as a stream (once, in place of deliver). Destroying the stream stops the transfer. */
  toReadable(): Readable {
    const stream = new Readable({
      read: () => this.resume(),
      destroy: (error, callback) => {
        if (!this.settled) this.destroy(error ?? undefined);
        callback(error);
      },
    });
    this.deliver({
      data: (chunk) => stream.push(chunk),
      end: () => stream.push(null),
      error: (error) => stream.destroy(error),
    });
    return stream;
  }

  /** Reads an unwanted body to its end so its connection can be reused, or abandons a long one. */
  dump(): Promise<void> {
    return new Promise((resolve) => {
      let bytes = 0;
      this.deliver({
        data: (chunk) => {
          bytes += chunk.length;
          if (bytes > DUMP_BYTES) {
            this.destroy();
            resolve();
          }
          return true;
        },
        end: resolve,
        error: () => resolve(),
      });
    });
  }

  // ---------------------------------------------------------------- from the handler

  /** @internal */
  chunk(chunk: Buffer): void {
    if (this.settled) return;
    const sink = this.sink;
    if (sink !== undefined) {
      if (!sink.data(chunk)) this.transfer.pause();
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes >= HELD_BYTES) this.transfer.pause();
  }

  /** @internal */
  end(): void {
    if (this.settled) return;
    this.ended = true;
    this.settle(null);
    this.sink?.end();
  }

  /** @internal */
  fail(error: Error): void {
    if (this.settled) return;
    this.failure = error;
    this.held = [];
    this.heldBytes = 0;
    this.settle(error);
    this.sink?.error(error);
  }

  private settle(error: Error | null): void {
    this.settled = true;
    const listener = this.doneListener;
    this.doneListener = undefined;
    listener?.(error);
  }
}

export interface UpstreamRequest extends Dispatcher.DispatchOptions {
  signal?: CancelSignal | undefined;
}

/**
 * undici's dispatch handler for one request (its core's own handler interface, which request()
 * uses too): resolves with the answer's head, then feeds its body. The call's signal aborts the
 * transfer at any point: before the head the promise rejects with its reason, after it the body
 * fails with it.
 *
 * Once the request is over, the handler lets go of the call (its body, promise and signal), as
 * undici's own request handler does: undici keeps a finished request's handler reachable for a
 * while, and everything the handler still held then outlived two young-generation collections
 * and was promoted, to die in the old generation. Measured in bench:ab: 28 % more CPU per proxied
 * call with the references kept (~20 % more than with undici's request()), 5 % less without them.
 */
class UpstreamHandler {
  private body: UpstreamBody | undefined;
  private answered = false;
  private paused = false;
  /** undici's, from onConnect and onHeaders. */
  private abort: ((error: Error) => void) | undefined;
  private resumeTransfer: (() => void) | undefined;
  private onAbort: (() => void) | undefined;

  constructor(
    private resolve: ((response: UpstreamResponse) => void) | undefined,
    private reject: ((error: unknown) => void) | undefined,
    private signal: CancelSignal | undefined,
  ) {
    this.body = new UpstreamBody(this);
    if (signal !== undefined) {
      this.onAbort = () => this.abort?.(signal.reason as Error);
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  // From the body: pause and resume the transfer, or stop it.
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.resumeTransfer?.();
  }

  stop(error: Error): void {
    this.abort?.(error);
  }

  onConnect(abort: (error: Error) => void): void {
    this.abort = abort;
    if (this.signal?.aborted) abort(this.signal.reason as Error);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: informational, the answer follows
    const headers = util.parseHeaders(rawHeaders) as UpstreamHeaders;
    this.answered = true;
    this.resumeTransfer = resume;
    this.resolve?.({ statusCode, headers, body: this.body as UpstreamBody });
    return !this.paused;
  }

  onData(chunk: Buffer): boolean {
    this.body?.chunk(chunk);
    return !this.paused;
  }

  onComplete(): void {
    const body = this.body;
    this.finish();
    body?.end();
  }

  onError(error: Error): void {
    const { body, reject, answered } = this;
    this.finish();
    if (answered) body?.fail(error);
    else reject?.(error);
  }

  /** The request is over: no more listening to the signal, and nothing of the call held. */
  private finish(): void {
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort);
    this.onAbort = undefined;
    this.signal = undefined;
    this.body = undefined;
    this.resolve = undefined;
    this.reject = undefined;
    this.abort = undefined;
    this.resumeTransfer = undefined;
  }
}

/**
 * Sends `options` through `dispatcher`; resolves with the answer's status, headers and body.
 * A handler of undici's core interface (onConnect, onHeaders…), which its request() uses too:
 * undici 7 wraps a handler of its newer interface (onRequestStart…) in an adapter per request,
 * which cost 17 % more CPU per call in a bare node:http forwarder
 * (2026-12-06).
 */
export function requestUpstream(dispatcher: Dispatcher, options: UpstreamRequest): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason);
      return;
    }
    dispatcher.dispatch(options, new UpstreamHandler(resolve, reject, options.signal) as Dispatcher.DispatchHandler);
  });
}

/** A body already in stream form (a decompressed one) as a BodySource. */
export class StreamSource implements BodySource {
  constructor(private readonly stream: Readable) {}

  deliver(sink: BodySink): void {
    const stream = this.stream;
    stream.on('data', (chunk: Buffer) => {
      if (!sink.data(chunk)) stream.pause();
    });
    stream.once('end', () => sink.end());
    stream.once('error', (error) => sink.error(error));
  }

  resume(): void {
    this.stream.resume();
  }

  destroy(error?: Error): void {
    this.stream.destroy(error);
  }

  toReadable(): Readable {
    return this.stream;
  }
}
