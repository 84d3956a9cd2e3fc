import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED } from '../../../../server/logs/redact.js';

describe('createRedactor: text', () => {
  const secret = 'sk live/key+1 é&=';
  const redactor = createRedactor([secret, 'gho_access_token_1']);

  it.each([
    ['the secret as is', `token ${secret} end`, `token ${REDACTED} end`],
    ['the URL-encoded secret', `https://api.x.com/a?key=${encodeURIComponent(secret)}&b=1`, `https://api.x.com/a?key=${REDACTED}&b=1`],
    ['the form-encoded secret', `key=${new URLSearchParams({ k: secret }).toString().slice(2)}&b=1`, `key=${REDACTED}&b=1`],
    ['every occurrence', '{"a":"gho_access_token_1","b":"gho_access_token_1"}', `{"a":"${REDACTED}","b":"${REDACTED}"}`],
    ['nothing in unrelated text', 'hello world', 'hello world'],
  ])('replaces %s', (_name, input, expected) => {
    expect(redactor.text(input)).toBe(expected);
  });

  it('replaces a secret that contains another secret whole', () => {
    expect(createRedactor(['abcdef', 'abcdefghij']).text('x abcdefghij y abcdef')).toBe(`x ${REDACTED} y ${REDACTED}`);
  });

  it('ignores an empty secret', () => {
    expect(createRedactor(['']).text('hello')).toBe('hello');
  });
});

describe('createRedactor: headers', () => {
  const redactor = createRedactor(['gho_access_token_1']);

  it.each(['authorization', 'Authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'X-API-Key', 'api-key'])(
    'always redacts %s',
    (name) => {
      expect(redactor.headers({ [name]: 'no secret in here' })).toEqual({ [name.toLowerCase()]: REDACTED });
    },
  );

  it('redacts a repeated set-cookie as one value', () => {
    expect(redactor.headers({ 'set-cookie': ['a=1', 'b=2'] })).toEqual({ 'set-cookie': REDACTED });
  });

  it('redacts the whole value of a header that contains a secret', () => {
    expect(redactor.headers({ 'x-debug': 'user=ann;token=gho_access_token_1;trace=t-1' })).toEqual({ 'x-debug': REDACTED });
  });

  it('redacts the whole value of a header that contains an encoded secret', () => {
    const encoded = createRedactor(['a b/c+d']);
    expect(encoded.headers({ location: 'https://x.com/cb?t=a%20b%2Fc%2Bd' })).toEqual({ location: REDACTED });
  });

  it('keeps other headers, lower-cases names and joins lists', () => {
    expect(redactor.headers({ 'Content-Type': 'application/json', accept: ['a', 'b'], gone: undefined })).toEqual({
      'content-type': 'application/json',
      accept: 'a, b',
    });
  });
});
