// `request.log` without a pino child per request. Fastify makes one for every request (bindings
// serialised, log methods set up), a measurable share of a proxied call on the hot path, where
// nothing logs unless something goes wrong. Here the child is made the first time it is used.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn } from 'pino';

type AnyLog = (...args: unknown[]) => void;

class DeferredChild implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get real(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(value: string) {
    this.real.level = value;
  }

  declare fatal: LogFn;
  declare error: LogFn;
  declare warn: LogFn;
  declare info: LogFn;
  declare debug: LogFn;
  declare trace: LogFn;

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real.child(bindings, options);
  }
}

// Each log method makes the child, then logs through it.
for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const) {
  Object.defineProperty(DeferredChild.prototype, level, {
    value(this: DeferredChild, ...args: unknown[]) {
      (this.real[level] as AnyLog)(...args);
    },
  });
}

/** Fastify's `childLoggerFactory`. */
export const deferredChildLogger = (logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger =>
  new DeferredChild(logger, bindings, options);
