// The one place failures become responses: every error leaves as {error:{code, message, ...}}
// with its catalogue status. Unexpected errors are logged with an id; their message never leaves.
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance } from 'fastify';
import { isPatchbayError, PatchbayError, toWireError, validationError } from '../errors.js';

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
    default:
      break;
  }
  // JSON.parse failures from the default parser, and prototype-poisoning refusals.
  if (error.statusCode === 400 && (error instanceof SyntaxError || /JSON|__proto__|constructor/.test(error.message))) {
    return validationError('invalid_body', [{ code: 'invalid_json', message: 'Body is not valid JSON', path: [] }]);
  }
  return undefined;
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = isPatchbayError(error) ? error : toPatchbayError(error);
    if (known) {
      if (known.status >= 500) request.log.error({ err: error }, 'request failed');
      return reply.status(known.status).send(toWireError(known));
    }
    const id = randomUUID();
    request.log.error({ err: error, errorId: id }, 'unexpected error');
    const wire = toWireError(
      new PatchbayError('generic_error_support', {
        message: `An error occurred. Please contact support with this unique id: "${id}"`,
        payload: id,
      }),
    );
    return reply.status(500).send(wire);
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new PatchbayError('not_found', { message: `No route ${request.method} ${request.url.split('?')[0]}` });
    return reply.status(404).send(toWireError(error));
  });
}
