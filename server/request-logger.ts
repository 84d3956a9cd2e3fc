// `request.log` without a pino child per request. Fastify makes one for every request (bindings
// serialised, log methods set up), a measurable share of a proxied call on the hot path, where
// nothing logs unless something goes wrong. Here the child is made the first time it is used.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

type AnyLog = (...args: unknown[]) => void;

class DeferredChild implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get real(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(value: string) {
    this.real.level = value;
  }

  fatal(...args: unknown[]): void {
    (this.real.fatal as AnyLog)(...args);
  }

  error(...args: unknown[]): void {
    (this.real.error as AnyLog)(...args);
  }

  warn(...args: unknown[]): void {
    (this.real.warn as AnyLog)(...args);
  }

  info(...args: unknown[]): void {
    (this.real.info as AnyLog)(...args);
  }

  debug(...args: unknown[]): void {
    (this.real.debug as AnyLog)(...args);
  }

  trace(...args: unknown[]): void {
    (this.real.trace as AnyLog)(...args);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real.child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`. */
export const deferredChildLogger = (logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger =>
  new DeferredChild(logger, bindings, options);
