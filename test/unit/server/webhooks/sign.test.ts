import { Nango } from '@nangohq/node';
import { describe, expect, it } from 'vitest';
import { buildSignatureHeaders, HMAC_SIGNATURE_HEADER } from '../../../../server/webhooks/sign.js';
import { verifyWebhookSignature } from '../../../../sdk/webhooks.js';

const SECRET = 'a-webhook-signing-key-0123456789';
const BODY = JSON.stringify({ from: 'nango', type: 'sync', connectionId: 'c-1', providerConfigKey: 'github', model: 'Issue', responseResults: { added: 1, updated: 0, deleted: 0 } });

describe('webhook signing', () => {
  it('is accepted by @nangohq/node verifyIncomingWebhookRequest with the key as webhookSigningKey', () => {
    const nango = new Nango({ host: 'http://127.0.0.1:1', apiKey: 'unused', webhookSigningKey: SECRET });
    expect(nango.verifyIncomingWebhookRequest(BODY, buildSignatureHeaders(SECRET, BODY))).toBe(true);
  });

  it('is accepted by @nangohq/node when the client falls back to its secretKey', () => {
    const nango = new Nango({ host: 'http://127.0.0.1:1', secretKey: SECRET });
    expect(nango.verifyIncomingWebhookRequest(BODY, buildSignatureHeaders(SECRET, BODY))).toBe(true);
  });

  it("is accepted by Patchbay's SDK verifier, whatever the header's case", () => {
    const headers = buildSignatureHeaders(SECRET, BODY);
    expect(verifyWebhookSignature(BODY, headers, SECRET)).toBe(true);
    expect(verifyWebhookSignature(BODY, { 'X-Nango-Hmac-Sha256': headers[HMAC_SIGNATURE_HEADER] }, SECRET)).toBe(true);
  });

  it("keeps Nango's legacy X-Nango-Signature for the deprecated verifyWebhookSignature", () => {
    const nango = new Nango({ host: 'http://127.0.0.1:1', secretKey: SECRET });
    const headers = buildSignatureHeaders(SECRET, BODY);
    expect(nango.verifyWebhookSignature(headers['x-nango-signature'] as string, JSON.parse(BODY))).toBe(true);
  });

  it('is rejected for another key or a changed body', () => {
    const headers = buildSignatureHeaders(SECRET, BODY);
    const nango = new Nango({ host: 'http://127.0.0.1:1', apiKey: 'unused', webhookSigningKey: 'another-key-0123456789' });
    expect(nango.verifyIncomingWebhookRequest(BODY, headers)).toBe(false);
    expect(verifyWebhookSignature(`${BODY} `, headers, SECRET)).toBe(false);
  });

  it('never puts the secret itself in a header', () => {
    for (const value of Object.values(buildSignatureHeaders(SECRET, BODY))) expect(value).not.toContain(SECRET);
  });
});
