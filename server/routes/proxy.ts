// ALL /proxy/*: adapter from the HTTP request to a ProxyCall and from the ProxyResult back to the
// response, on node's raw request and response (serveProxy). Calls made with the secret key take
// a fast path before fastify routes them (createProxyFastPath); fastify's route serves the rest
// through the same function. Bodies stream both ways; small ones are buffered so a retry can
// replay them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPatchbayError, PatchbayError, validationError, type ValidationIssue } from '../errors.js';
import { hasSecretKey } from '../plugins/auth.js';
import { errorAnswer } from '../plugins/errors.js';
import { pickForwardedHeaders } from '../proxy/headers.js';
import { Cancellation } from '../proxy/cancel.js';
import type { BodySink, ProxyEngine, ProxyResult } from '../proxy/index.js';
import { networkCode } from '../proxy/send.js';

/** Bodies up to 1 MiB are read into memory so that retries can send them again. */
const REPLAYABLE_BODY_BYTES = 1024 * 1024;
/** Retries are capped: each can wait up to the max wait, and a caller's typo must not pin a socket for hours. */
const MAX_RETRIES = 10;

const PROVIDER_CONFIG_KEY = /^[a-zA-Z0-9~:.@ _-]{1,255}$/;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const STATUS_LIST = /^\s*\d{3}(\s*,\s*\d{3})*\s*$/;

interface ProxyHeaders {
  providerConfigKey: string;
  connectionId: string;
  retries: number;
  retryOn: number[];
  baseUrlOverride: string | undefined;
  decompress: boolean;
}

/**
 * The proxy's own request headers (Nango's: Provider-Config-Key, Connection-Id, Retries…). Hand-written rather than a schema: it runs on
 * every proxied call, and every wrong header is still named in `errors[]`.
 */
export function parseProxyHeaders(headers: Record<string, string | string[] | undefined>): ProxyHeaders {
  const issues: ValidationIssue[] = [];
  const text = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const issue = (name: string, message: string) => issues.push({ code: 'invalid_string', message, path: [name] });

  const providerConfigKey = text('provider-config-key') ?? '';
  if (providerConfigKey === '') issue('provider-config-key', 'Provider-Config-Key header is required');
  else if (!PROVIDER_CONFIG_KEY.test(providerConfigKey)) issue('provider-config-key', 'may only contain letters, digits and ~:.@ _- (at most 255)');
  const connectionId = text('connection-id') ?? '';
  if (connectionId === '') issue('connection-id', 'Connection-Id header is required');
  else if (connectionId.length > 255 || CONTROL_CHARS.test(connectionId)) issue('connection-id', 'must be at most 255 characters without control characters');

  let retries = 0;
  const retriesText = text('retries');
  if (retriesText !== undefined && retriesText !== '') {
    retries = /^\d+$/.test(retriesText) ? Number(retriesText) : Number.NaN;
    if (!(retries <= MAX_RETRIES)) issue('retries', `must be a whole number from 0 to ${MAX_RETRIES}`);
  }
  let retryOn: number[] = [];
  const retryOnText = text('retry-on');
  if (retryOnText !== undefined && retryOnText !== '') {
    if (STATUS_LIST.test(retryOnText)) retryOn = retryOnText.split(',').map((status) => Number(status.trim()));
    else issue('retry-on', 'must be a comma-separated list of HTTP statuses');
  }
  let baseUrlOverride = text('base-url-override');
  if (baseUrlOverride === '') baseUrlOverride = undefined;
  if (baseUrlOverride !== undefined) {
    let protocol: string | undefined;
    try {
      protocol = new URL(baseUrlOverride).protocol;
    } catch {
      protocol = undefined;
    }
    if (protocol !== 'http:' && protocol !== 'https:') issue('base-url-override', 'must be an http or https URL');
  }
  const decompressText = text('decompress');
  if (decompressText !== undefined && decompressText !== '' && decompressText !== 'true' && decompressText !== 'false') {
    issue('decompress', "must be 'true' or 'false'");
  }
  if (issues.length > 0) throw validationError('invalid_headers', issues);
  return { providerConfigKey, connectionId, retries, retryOn, baseUrlOverride, decompress: decompressText === 'true' };
}

function countingLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new PatchbayError('request_too_large'));
      else callback(null, chunk);
    },
  });
}

async function readAll(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) throw new PatchbayError('request_too_large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/** Nango's proxy network-error body: {message, code, status, method}. */
const networkErrorBody = (error: PatchbayError, method: string) => ({
  message: error.message,
  code: error.fields?.networkCode,
  status: error.status,
  method,
});

/** A JSON answer on the raw response, with its length. */
function answerJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) }).end(json);
}

/**
 * Writes the provider's answer to the raw response, as the engine delivers its body (no stream in
 * between: bench:proxy). The status and headers go out with the body's first bytes, or its end:
 * a provider failing before them (a reset, a body that does not decompress) still gets the caller
 * the network-error answer, and after them a failure can only cut the body short. A client
 * leaving aborts the call (serveProxy's close listener), which ends the provider's body, frees the
 * call's slot and logs it; a decompressed body may have no transfer left for that abort to end,
 * so the response's close ends it too (closed()).
 */
class ResponseWriter implements BodySink {
  private state: 'head' | 'body' | 'done' = 'head';

  constructor(
    private readonly result: ProxyResult,
    private readonly res: ServerResponse,
    private readonly method: string,
  ) {}

  start(): void {
    this.result.source.deliver(this);
  }

  /** The response closed (serveProxy's one 'close' listener): a body still coming is ended. */
  closed(): void {
    if (this.state !== 'done') this.result.source.destroy();
  }

  data(chunk: Buffer): boolean {
    if (!this.head()) return false;
    if (this.res.write(chunk)) return true;
    this.res.once('drain', () => this.result.source.resume());
    return false;
  }

  end(): void {
    if (!this.head()) return;
    this.state = 'done';
    this.res.end();
  }

  error(error: Error): void {
    if (this.state === 'head') this.fail(error);
    else if (this.state === 'body') {
      this.state = 'done';
      this.res.destroy(error);
    }
  }

  private head(): boolean {
    if (this.state === 'head') {
      try {
        this.res.writeHead(this.result.status, this.result.headers);
        this.state = 'body';
      } catch (error) {
        this.fail(error); // a header Node refuses to send (nothing undici lets through should be)
      }
    }
    return this.state === 'body';
  }

  private fail(cause: unknown): void {
    this.state = 'done';
    this.result.source.destroy();
    const code = networkCode(cause);
    const error = new PatchbayError('upstream_network_error', {
      message: `The provider's answer failed before its first byte: ${code}`,
      fields: { networkCode: code },
    });
    answerJson(this.res, error.status, networkErrorBody(error, this.method));
  }
}

export interface ProxyRouteDeps {
  proxy: ProxyEngine;
  maxBodyBytes: number;
}

/** Where a proxied call that fails on our side logs (fastify's request.log, or the server's logger). */
type ProxyLog = Pick<FastifyBaseLogger, 'debug' | 'error'>;

/**
 * Whether fastify would give this request a body (fastify's handleRequest): with a Content-Type,
 * unless an OPTIONS without Content-Length or Transfer-Encoding; without one, only when it has a
 * Transfer-Encoding or a non-zero Content-Length.
 */
function hasBody(req: IncomingMessage): boolean {
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return false;
  const { 'content-type': contentType, 'content-length': length, 'transfer-encoding': encoding } = req.headers;
  if (contentType !== undefined) return !(method === 'OPTIONS' && length === undefined && encoding === undefined);
  return encoding !== undefined || (length !== undefined && length !== '0');
}

/**
 * One proxied call, on the raw request and response: what both ways in serve (the fast path
 * below, and the fastify route for the calls it leaves to fastify). Every failure is answered
 * here, in the error shape of the rest of the API.
 */
export async function serveProxy(req: IncomingMessage, res: ServerResponse, deps: ProxyRouteDeps, log: ProxyLog): Promise<void> {
  const method = req.method ?? 'GET';
  let tooLarge: PatchbayError | undefined;
  const abort = new Cancellation();
  try {
    const headers = parseProxyHeaders(req.headers);
    const endpoint = (req.url ?? '').slice('/proxy'.length) || '/';

    let body: Buffer | Readable | undefined;
    if (hasBody(req)) {
      const declared = Number(req.headers['content-length'] ?? Number.NaN);
      if (declared > deps.maxBodyBytes) throw new PatchbayError('request_too_large');
      if (Number.isFinite(declared) && declared <= REPLAYABLE_BODY_BYTES) {
        body = await readAll(req, REPLAYABLE_BODY_BYTES);
      } else {
        const limited = countingLimit(deps.maxBodyBytes);
        req.on('error', (error) => limited.destroy(error));
        limited.on('error', (error) => {
          if (isPatchbayError(error)) tooLarge = error;
        });
        body = req.pipe(limited);
      }
    }

    const forwarded = pickForwardedHeaders(req.headers);
    if (body !== undefined && !Buffer.isBuffer(body) && req.headers['content-length'] !== undefined) {
      forwarded['content-length'] = String(req.headers['content-length']);
    }

    let writer: ResponseWriter | undefined;
    const closed = () => {
      if (!res.writableFinished) abort.abort(new Error('client disconnected'));
      writer?.closed();
    };
    res.on('close', closed);
    // A client that left before this ran (a busy process, a slow body read) closed the response
    // already, and 'close' will not come again: the upstream call must not start.
    if (res.destroyed) closed();

    const result = await deps.proxy.call({
      method,
      endpoint,
      headers: forwarded,
      body,
      providerConfigKey: headers.providerConfigKey,
      connectionId: headers.connectionId,
      options: {
        retries: headers.retries,
        retryOn: headers.retryOn,
        baseUrlOverride: headers.baseUrlOverride,
        decompress: headers.decompress,
      },
      signal: abort,
    });
    if (method === 'HEAD') {
      result.body.resume();
      // As fastify answers a HEAD without a payload: its Content-Length, else 0.
      res.writeHead(result.status, 'content-length' in result.headers ? result.headers : { ...result.headers, 'content-length': '0' }).end();
      return;
    }
    writer = new ResponseWriter(result, res, method);
    writer.start();
  } catch (caught) {
    const error = tooLarge ?? caught;
    // The caller went away: nobody to answer, and nothing went wrong on our side.
    if (abort.aborted && tooLarge === undefined) {
      log.debug({ url: req.url }, 'proxy call abandoned by the client');
      res.destroy();
      return;
    }
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    if (isPatchbayError(error) && error.code === 'upstream_network_error') return answerJson(res, error.status, networkErrorBody(error, method));
    const { status, body } = errorAnswer(error, log);
    answerJson(res, status, body);
  }
}

export function proxyRoutes(app: FastifyInstance, deps: ProxyRouteDeps): void {
  // Bodies are not parsed on this route: whatever the type, the raw stream goes upstream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const handler = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    return serveProxy(request.raw, reply.raw, deps, request.log);
  };
  app.all('/proxy', handler);
  app.all('/proxy/*', handler);
}

// ---------------------------------------------------------------- the fast path

/** The methods the fast path serves; any other goes through fastify (which knows which it routes). */
const FAST_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface ProxyFastPathDeps extends ProxyRouteDeps {
  secretKey: string;
  /** fastify's `maxParamLength`: a longer path goes through fastify, which refuses it. */
  maxPathLength: number;
  logger: ProxyLog;
}

/**
 * /proxy calls made with the secret key, served on the raw request before fastify routes it:
 * fastify's request and reply objects, routing, hooks and promise chain cost ~8 % of the main
 * thread's CPU per proxied call (111 → 102 µs at 64 connections, interleaved runs of both
 * builds on 2026-12-06). Whatever this does not take — another Authorization, a
 * session cookie, a percent-encoded or over-long path, an unusual method, a server closing —
 * goes to fastify, whose route answers it (and its errors) exactly as before, through the same
 * serveProxy.
 */
export function createProxyFastPath(deps: ProxyFastPathDeps): { take(req: IncomingMessage, res: ServerResponse): boolean; close(): void } {
  const expected = Buffer.from(deps.secretKey, 'utf8');
  let closing = false;
  return {
    take(req, res) {
      const url = req.url;
      if (closing || url === undefined || !url.startsWith('/proxy') || !FAST_METHODS.has(req.method ?? '')) return false;
      const next = url.charCodeAt(6); // after "/proxy": end, '/' or '?'
      if (!(Number.isNaN(next) || next === 47 || next === 63)) return false;
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      if (path.length > deps.maxPathLength || path.includes('%')) return false;
      if (!hasSecretKey(expected, req.headers.authorization)) return false;
      void serveProxy(req, res, deps, deps.logger);
      return true;
    },
    close() {
      closing = true;
    },
  };
}
