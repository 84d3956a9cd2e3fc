import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, isPatchbayError, PatchbayError, toWireError } from '../../../server/errors.js';

const docs = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map(
  [...docs.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((match) => [match[1] as string, Number(match[2])]),
);

describe('error catalogue', () => {
  it('documents every code with its status in docs/errors.md', () => {
    for (const [code, { status }] of Object.entries(ERRORS)) {
      expect(documented.get(code), code).toBe(status);
    }
  });

  it('has every documented code', () => {
    for (const code of documented.keys()) expect(Object.keys(ERRORS)).toContain(code);
  });

  it('uses snake_case <noun>_<problem> codes', () => {
    for (const code of Object.keys(ERRORS)) expect(code).toMatch(/^[a-z]+(_[a-z]+)+$/);
  });

  it('serialises to the contract shape with extra fields', () => {
    const error = new PatchbayError('rate_limited', { fields: { retry_after_ms: 3_600_000 } });
    expect(toWireError(error)).toEqual({
      error: { code: 'rate_limited', message: ERRORS.rate_limited.message, retry_after_ms: 3_600_000 },
    });
    expect(error.status).toBe(429);
  });

  it('recognises errors by brand, not by class identity', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('patchbay.error')]: true });
    expect(isPatchbayError(foreign)).toBe(true);
    expect(isPatchbayError(new Error('x'))).toBe(false);
  });
});
