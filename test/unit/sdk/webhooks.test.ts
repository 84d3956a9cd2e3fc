import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../../sdk/webhooks.js';

describe('verifyWebhookSignature', () => {
  const key = 'signing-key';
  const body = '{"type":"sync","success":true}';
  const signature = createHmac('sha256', key).update(body).digest('hex');

  it('accepts the HMAC-SHA256 of the raw body in X-Nango-Hmac-Sha256, whatever the header case', () => {
    expect(verifyWebhookSignature(body, { 'x-nango-hmac-sha256': signature }, key)).toBe(true);
    expect(verifyWebhookSignature(Buffer.from(body), { 'X-Nango-Hmac-Sha256': signature.toUpperCase() }, key)).toBe(true);
  });

  it.each([
    ['another body', '{"type":"sync", "success":true}', { 'x-nango-hmac-sha256': signature }, key],
    ['another key', body, { 'x-nango-hmac-sha256': signature }, 'other'],
    ['no header', body, {}, key],
    ['a header that is not hex', body, { 'x-nango-hmac-sha256': 'zz' }, key],
    ['a truncated signature', body, { 'x-nango-hmac-sha256': signature.slice(0, 62) }, key],
    ['an array header', body, { 'x-nango-hmac-sha256': [signature] }, key],
    ['no signing key', body, { 'x-nango-hmac-sha256': signature }, undefined],
  ])('rejects %s', (_name, candidate, headers, signingKey) => {
    expect(verifyWebhookSignature(candidate, headers as Record<string, unknown>, signingKey)).toBe(false);
  });
});
