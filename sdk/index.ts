// `patchbay/sdk`: the Node client (a drop-in for `@nangohq/node`'s `Nango` class, on undici), its
// errors and the public types it shares with functions. Re-exports only; no code of its own.
export { buildProxyHeaders, buildProxyUrl, buildUserAgent, DEFAULT_HOST, Nango, SDK_VERSION } from './client.js';
export type { NangoAdminProps, NangoProps, NangoProxyConfiguration } from './client.js';
export { isNangoHttpError, NangoHttpError } from './errors.js';
export type { ErrorResponse, RequestConfig } from './errors.js';
export { serializeParams } from './params.js';
export type { HttpResponse } from './http.js';
export { verifyWebhookSignature } from './webhooks.js';
export type * from './types.js';
