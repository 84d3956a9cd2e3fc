// Signs a webhook body the way Nango does, so `@nangohq/node`'s verifiers and ours accept it.
// Pure: no I/O. The secret never leaves this function except as a digest.
import { createHash, createHmac } from 'node:crypto';

/** Checked by `verifyIncomingWebhookRequest` (@nangohq/node) and `verifyWebhookSignature` (sdk/webhooks.ts). */
export const HMAC_SIGNATURE_HEADER = 'x-nango-hmac-sha256';
/**
 * Nango's legacy header, sha256(secret + body), read by the deprecated `verifyWebhookSignature`
 * of @nangohq/node. Nango still sends it (packages/webhooks/lib/utils.ts), so apps written
 * against that method keep working; it is open to length extension, so new code checks the HMAC.
 */
export const LEGACY_SIGNATURE_HEADER = 'x-nango-signature';

/** The signature headers for `body`, the exact text sent (any re-serialisation breaks them). */
export function buildSignatureHeaders(secret: string, body: string): Record<string, string> {
  return {
    [HMAC_SIGNATURE_HEADER]: createHmac('sha256', secret).update(body).digest('hex'),
    [LEGACY_SIGNATURE_HEADER]: createHash('sha256').update(`${secret}${body}`).digest('hex'),
  };
}
