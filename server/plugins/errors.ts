// The one place failures become responses: every error leaves as {error:{code, message, ...}}
// with its catalogue status. Unexpected errors are logged with an id; their message never leaves.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPatchbayError, PatchbayError, toWireError, validationError, type WireError } from '../errors.js';
import { isConnectionError } from '../store/index.js';

function toPatchbayError(error: FastifyError): PatchbayError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PatchbayError('request_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new PatchbayError('invalid_content_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return validationError('invalid_body', [{ code: 'invalid_json', message: 'Body cannot be empty when content-type is application/json', path: [] }]);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return validationError('invalid_headers', [{ code: 'invalid_content_length', message: 'Content-Length does not match the body', path: ['content-length'] }]);
    // Answered through `frameworkErrors`, before routing: a path fastify cannot decode, and a path
    // parameter over `maxParamLength`.
    case 'FST_ERR_BAD_URL':
      return validationError('invalid_uri_params', [{ code: 'invalid_url', message: 'The path is not valid percent-encoded UTF-8', path: [] }]);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return validationError('invalid_uri_params', [{ code: 'too_big', message: 'A path parameter is too long', path: [] }]);
    default:
      break;
  }
  // The database is away (refused, dropped, restarting): a 503 to retry, not a 500 to report.
  if (isConnectionError(error)) return new PatchbayError('database_unavailable', { cause: error });
  // JSON.parse failures from the default parser, and prototype-poisoning refusals.
  if (error.statusCode === 400 && (error instanceof SyntaxError || /JSON|__proto__|constructor/.test(error.message))) {
    return validationError('invalid_body', [{ code: 'invalid_json', message: 'Body is not valid JSON', path: [] }]);
  }
  return undefined;
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(sendError);

  app.setNotFoundHandler((request, reply) => {
    const error = new PatchbayError('not_found', { message: `No route ${request.method} ${request.url.split('?')[0]}` });
    return reply.status(404).send(toWireError(error));
  });
}

/** Where an error answer logs: fastify's `request.log`, or the server's logger for calls answered past fastify. */
type ErrorLog = Pick<FastifyBaseLogger, 'debug' | 'error'>;

/** What an error answers: its catalogue status and wire body. Logs what an operator must see. */
export function errorAnswer(error: unknown, log: ErrorLog): { status: number; body: WireError } {
  const known = isPatchbayError(error) ? error : toPatchbayError(error as FastifyError);
  if (known) {
    // An outage is logged once by the background loops (store/outage-log.ts); a line per
    // request (and per /ready poll) would flood the log while it lasts.
    if (known.code === 'database_unavailable') log.debug({ err: error }, 'request failed: the database is unreachable');
    else if (known.status >= 500) log.error({ err: error }, 'request failed');
    return { status: known.status, body: toWireError(known) };
  }
  const id = randomUUID();
  log.error({ err: error, errorId: id }, 'unexpected error');
  const wire = toWireError(
    new PatchbayError('generic_error_support', {
      message: `An error occurred. Please contact support with this unique id: "${id}"`,
      payload: id,
    }),
  );
  return { status: 500, body: wire };
}

/** The error handler, also fastify's `frameworkErrors` (bad URLs are answered before routing). */
export function sendError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = errorAnswer(error, request.log);
  return reply.status(status).send(body);
}

/**
 * fastify's `clientErrorHandler`: node's HTTP parser refuses some requests before fastify sees
 * them (headers over maxHeaderSize, a Content-Length that is not one non-negative integer, bytes
 * that are not HTTP, headers that never finish) and fastify's default answers in its own shape.
 * This one writes ours on the raw socket, then closes it as node does.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset socket has nobody to answer (https://nodejs.org/api/http.html#event-clienterror).
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known = toClientError(error.code);
  // As node's socketOnError (lib/_http_server.js): no answer in the middle of an earlier
  // request's response on this connection, which would corrupt it.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && inFlight?.headersSent !== true) {
    const body = JSON.stringify(toWireError(known));
    socket.write(
      `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** llhttp's error codes (HPE_*) and node's header timeout, as catalogue errors. */
function toClientError(code: string | undefined): PatchbayError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new PatchbayError('request_headers_too_large');
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return validationError('invalid_headers', [
        { code: 'invalid_content_length', message: 'Content-Length must be one non-negative integer', path: ['content-length'] },
      ]);
    // With Content-Length, or not ending in chunked: the two readings of a body length that
    // request smuggling plays on (RFC 9112 §6.3).
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return validationError('invalid_headers', [
        { code: 'invalid_transfer_encoding', message: 'Transfer-Encoding must end in chunked and come without Content-Length', path: ['transfer-encoding'] },
      ]);
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new PatchbayError('request_timeout');
    default:
      return new PatchbayError('malformed_request');
  }
}
