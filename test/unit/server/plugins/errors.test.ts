import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { answerClientError } from '../../../../server/plugins/errors.js';

/** A socket that keeps what is written to it. */
function fakeSocket() {
  const written: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk);
      callback();
    },
  });
  socket.on('error', () => undefined);
  return { socket, text: () => Buffer.concat(written).toString('utf8') };
}

const parserError = (code: string) => Object.assign(new Error(code), { code });

describe('answerClientError', () => {
  it.each([
    ['HPE_HEADER_OVERFLOW', 431, 'request_headers_too_large'],
    ['HPE_INVALID_CONTENT_LENGTH', 400, 'invalid_headers'],
    ['HPE_UNEXPECTED_CONTENT_LENGTH', 400, 'invalid_headers'],
    ['HPE_INVALID_TRANSFER_ENCODING', 400, 'invalid_headers'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'request_timeout'],
    ['HPE_INVALID_METHOD', 400, 'malformed_request'],
  ])('answers %s with %i %s in the documented shape, then closes', async (code, status, wireCode) => {
    const { socket, text } = fakeSocket();
    answerClientError(parserError(code), socket);
    const [head = '', body = ''] = text().split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(head).toContain('Content-Type: application/json');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(JSON.parse(body)).toMatchObject({ error: { code: wireCode, message: expect.any(String) } });
    expect(socket.destroyed).toBe(true);
  });

  it('writes nothing on a reset socket', () => {
    const { socket, text } = fakeSocket();
    answerClientError(parserError('ECONNRESET'), socket);
    expect(text()).toBe('');
  });

  it('writes nothing into the response of an earlier request already under way', () => {
    const { socket, text } = fakeSocket();
    Object.assign(socket, { _httpMessage: { headersSent: true } });
    answerClientError(parserError('HPE_INVALID_METHOD'), socket);
    expect(text()).toBe('');
    expect(socket.destroyed).toBe(true);
  });
});
