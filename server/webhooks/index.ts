// Webhooks to the user's app: sync completions and async-action results, signed like Nango's,
// delivered from an outbox with retries. See README.md.
export { createWebhookSender, type FinishedRun, type FinishedRunResult, type WebhookSender, type WebhookSenderOptions } from './sender.js';
export { buildAsyncActionWebhook, buildSyncWebhooks, INTERRUPTED_ERROR_TYPE, type AsyncActionWebhookBody, type SyncWebhookBody } from './payloads.js';
export { buildSignatureHeaders, HMAC_SIGNATURE_HEADER, LEGACY_SIGNATURE_HEADER } from './sign.js';
export { decideDelivery, MAX_RETRY_WAIT_MS, type AttemptOutcome, type DeliveryDecision, type DeliveryPolicy } from './retry-policy.js';
