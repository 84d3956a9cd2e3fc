// ALL /proxy/*: adapter from the fastify request to a ProxyCall and from the ProxyResult back
// to the reply. Bodies stream both ways; small bodies are buffered so a retry can replay them.
import type { ServerResponse } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPatchbayError, PatchbayError, validationError, type ValidationIssue } from '../errors.js';
import { pickForwardedHeaders } from '../proxy/headers.js';
import { Cancellation } from '../proxy/cancel.js';
import type { ProxyEngine, ProxyResult } from '../proxy/index.js';
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

/**
 * Sends the provider's answer on the raw response, past Fastify's reply, whose stream path
 * (each header set and checked one by one, hooks, two end-of-stream watchers) cost a tenth of a
 * proxied call. The status and headers go out with the body's first bytes, or its end: a
 * provider failing before them (a reset, a body that does not decompress) still gets the caller
 * the network-error answer, and after them a failure can only cut the body short. A client
 * leaving aborts the call (the route's clientGone), which ends the provider's body, frees the
 * call's slot and logs it. Not pipe(), which cannot hold the head back, nor pipeline(), which
 * makes an AbortController and a DOMException per call.
 */
function sendResult(result: ProxyResult, res: ServerResponse, method: string): void {
  const { body } = result;
  let state: 'head' | 'body' | 'done' = 'head';
  const fail = (cause: unknown) => {
    state = 'done';
    body.destroy();
    const code = networkCode(cause);
    const error = new PatchbayError('upstream_network_error', {
      message: `The provider's answer failed before its first byte: ${code}`,
      fields: { networkCode: code },
    });
    const json = JSON.stringify(networkErrorBody(error, method));
    res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) }).end(json);
  };
  const head = (): boolean => {
    if (state === 'head') {
      try {
        res.writeHead(result.status, result.headers);
        state = 'body';
      } catch (error) {
        fail(error); // a header Node refuses to send (nothing undici lets through should be)
      }
    }
    return state === 'body';
  };
  // A client gone mid-body: the call is aborted (clientGone), but a decompressed body may have
  // no upstream transfer left for the abort to end, so it is ended here.
  res.once('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  const resume = () => body.resume();
  body.on('data', (chunk: Buffer) => {
    if (head() && !res.write(chunk)) {
      body.pause();
      res.once('drain', resume);
    }
  });
  body.once('end', () => {
    if (!head()) return;
    state = 'done';
    res.end();
  });
  body.once('error', (error) => {
    if (state === 'head') fail(error);
    else if (state === 'body') {
      state = 'done';
      res.destroy(error);
    }
  });
}

export interface ProxyRouteDeps {
  proxy: ProxyEngine;
  maxBodyBytes: number;
}

export function proxyRoutes(app: FastifyInstance, deps: ProxyRouteDeps): void {
  // Bodies are not parsed on this route: whatever the type, the raw stream goes upstream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const headers = parseProxyHeaders(request.headers);
    const endpoint = request.url.slice('/proxy'.length) || '/';

    let body: Buffer | Readable | undefined;
    let tooLarge: PatchbayError | undefined;
    const raw = request.body as Readable | undefined;
    if (raw !== undefined && request.method !== 'GET' && request.method !== 'HEAD') {
      const declared = Number(request.headers['content-length'] ?? Number.NaN);
      if (declared > deps.maxBodyBytes) throw new PatchbayError('request_too_large');
      if (Number.isFinite(declared) && declared <= REPLAYABLE_BODY_BYTES) {
        body = await readAll(raw, REPLAYABLE_BODY_BYTES);
      } else {
        const limited = countingLimit(deps.maxBodyBytes);
        raw.on('error', (error) => limited.destroy(error));
        limited.on('error', (error) => {
          if (isPatchbayError(error)) tooLarge = error;
        });
        body = raw.pipe(limited);
      }
    }

    const forwarded = pickForwardedHeaders(request.headers);
    if (body !== undefined && !Buffer.isBuffer(body) && request.headers['content-length'] !== undefined) {
      forwarded['content-length'] = String(request.headers['content-length']);
    }

    const abort = new Cancellation();
    const clientGone = () => {
      if (!reply.raw.writableFinished) abort.abort(new Error('client disconnected'));
    };
    reply.raw.on('close', clientGone);
    // A client that left before this handler ran (a busy process, a slow body read) closed the
    // response already, and 'close' will not come again: the upstream call must not start.
    if (reply.raw.destroyed) clientGone();

    let result;
    try {
      result = await deps.proxy.call({
        method: request.method,
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
    } catch (error) {
      if (tooLarge !== undefined) throw tooLarge;
      // The caller went away: nobody to answer, and nothing went wrong on our side.
      if (abort.aborted) {
        request.log.debug({ endpoint }, 'proxy call abandoned by the client');
        reply.hijack();
        reply.raw.destroy();
        return;
      }
      if (isPatchbayError(error) && error.code === 'upstream_network_error') {
        return reply.status(error.status).send(networkErrorBody(error, request.method));
      }
      throw error;
    }
    if (request.method === 'HEAD') {
      result.body.resume();
      return reply.status(result.status).headers(result.headers).send();
    }
    reply.hijack();
    sendResult(result, reply.raw, request.method);
  };

  app.all('/proxy', handler);
  app.all('/proxy/*', handler);
}
