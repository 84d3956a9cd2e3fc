// ALL /proxy/*: adapter from the fastify request to a ProxyCall and from the ProxyResult back
// to the reply. Bodies stream both ways; small bodies are buffered so a retry can replay them.
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isPatchbayError, PatchbayError } from '../errors.js';
import { pickForwardedHeaders } from '../proxy/headers.js';
import type { ProxyEngine } from '../proxy/index.js';
import { parseInput } from '../validate.js';

/** Bodies up to 1 MiB are read into memory so that retries can send them again. */
const REPLAYABLE_BODY_BYTES = 1024 * 1024;
/** Retries are capped: each can wait up to the max wait, and a caller's typo must not pin a socket for hours. */
const MAX_RETRIES = 10;

const booleanHeader = z.enum(['true', 'false', '']).transform((value) => value === 'true');
const headersSchema = z.object({
  'provider-config-key': z
    .string({ error: 'Provider-Config-Key header is required' })
    .min(1)
    .max(255)
    .regex(/^[a-zA-Z0-9~:.@ _-]+$/, 'may only contain letters, digits and ~:.@ _-'),
  'connection-id': z
    .string({ error: 'Connection-Id header is required' })
    .min(1)
    .max(255)
    .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters'),
  retries: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().max(MAX_RETRIES))
    .optional(),
  'retry-on': z
    .string()
    .regex(/^\s*\d{3}(\s*,\s*\d{3})*\s*$/, 'must be a comma-separated list of HTTP statuses')
    .optional()
    .or(z.literal('')),
  'base-url-override': z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).optional(),
  decompress: booleanHeader.optional(),
});

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

export interface ProxyRouteDeps {
  proxy: ProxyEngine;
  maxBodyBytes: number;
}

export function proxyRoutes(app: FastifyInstance, deps: ProxyRouteDeps): void {
  // Bodies are not parsed on this route: whatever the type, the raw stream goes upstream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const headers = parseInput(headersSchema, request.headers, 'invalid_headers');
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

    const abort = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort(new Error('client disconnected'));
    });

    let result;
    try {
      result = await deps.proxy.call({
        method: request.method,
        endpoint,
        headers: forwarded,
        body,
        providerConfigKey: headers['provider-config-key'],
        connectionId: headers['connection-id'],
        options: {
          retries: headers.retries ?? 0,
          retryOn: headers['retry-on'] ? headers['retry-on'].split(',').map((s) => Number(s.trim())) : [],
          baseUrlOverride: headers['base-url-override'] || undefined,
          decompress: headers.decompress ?? false,
        },
        signal: abort.signal,
      });
    } catch (error) {
      if (tooLarge !== undefined) throw tooLarge;
      // The caller went away: nobody to answer, and nothing went wrong on our side.
      if (abort.signal.aborted) {
        request.log.debug({ endpoint }, 'proxy call abandoned by the client');
        reply.hijack();
        reply.raw.destroy();
        return;
      }
      // The contract's network-error body: {message, code, status, method} (contract §1.6).
      if (isPatchbayError(error) && error.code === 'upstream_network_error') {
        return reply.status(error.status).send({
          message: error.message,
          code: error.fields?.networkCode,
          status: error.status,
          method: request.method,
        });
      }
      throw error;
    }
    reply.status(result.status).headers(result.headers);
    if (request.method === 'HEAD') {
      result.body.resume();
      return reply.send();
    }
    return reply.send(result.body);
  };

  app.all('/proxy', handler);
  app.all('/proxy/*', handler);
}
