// Verifies the signature of a webhook Patchbay (or Nango) sent to an app: HMAC-SHA256 of the
// raw body with the signing key, hex, in `X-Nango-Hmac-Sha256`. Pure: no I/O, constant-time compare.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SIGNATURE_HEADER = 'x-nango-hmac-sha256';

/**
 * True when `headers` carry a valid `X-Nango-Hmac-Sha256` for `body` signed with `signingKey`.
 * `body` must be the raw bytes or text received, not a re-serialised object: any change in
 * spacing or key order changes the signature.
 *
 * @example
 * app.post('/webhooks/patchbay', express.raw({ type: '*\/*' }), (req, res) => {
 *   if (!verifyWebhookSignature(req.body, req.headers, WEBHOOK_SIGNING_KEY)) return res.sendStatus(401);
 *   ...
 * });
 */
export function verifyWebhookSignature(body: string | Uint8Array, headers: Record<string, unknown>, signingKey: string | undefined): boolean {
  if (signingKey === undefined || signingKey === '') return false;
  const name = Object.keys(headers).find((key) => key.toLowerCase() === WEBHOOK_SIGNATURE_HEADER);
  const received = name === undefined ? undefined : headers[name];
  if (typeof received !== 'string' || !/^[0-9a-fA-F]+$/.test(received)) return false;
  const expected = createHmac('sha256', signingKey).update(body).digest();
  const actual = Buffer.from(received, 'hex');
  // timingSafeEqual throws on a length mismatch; a wrong length is simply a wrong signature.
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
