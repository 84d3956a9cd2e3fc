import { describe, expect, it } from 'vitest';
import { HEADER_KEY_PATTERN, HEADER_TOKEN_PATTERN, isHeaderSafeToken } from '../../../../server/credentials/header-safe.js';

describe('header-safe credentials', () => {
  it('takes visible ASCII in a token, and nothing else', () => {
    expect(isHeaderSafeToken('!azAZ09~._-+/=')).toBe(true);
    for (const bad of ['', 'a b', 'tab\there', 'line\nbreak', 'cr\r', 'del\x7f', 'nul\x00', 'gho_abc…', 'é', '\u00a0']) {
      expect(isHeaderSafeToken(bad)).toBe(false);
    }
    expect(HEADER_TOKEN_PATTERN.test('')).toBe(true); // a minimum length says that
  });

  it('takes printable ASCII in an API key, spaces inside but not at either end', () => {
    for (const good of ['k', 'sk-abc', 'key with spaces', '!~']) expect(HEADER_KEY_PATTERN.test(good)).toBe(true);
    for (const bad of [' key', 'key ', ' ', 'a\tb', 'a\nb', 'key…', 'ключ', 'a\x7fb']) expect(HEADER_KEY_PATTERN.test(bad)).toBe(false);
  });
});
