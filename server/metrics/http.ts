// GET /metrics for a process without the HTTP API (`patchbay runner`): a bare node:http server
// on PATCHBAY_METRICS_PORT that answers that one route, from the same MetricsSource as the API's
// /metrics. The secret key is asked for as on the API, unless PATCHBAY_METRICS_PUBLIC is set.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERRORS, type ErrorCode } from '../errors.js';
import { isSameSecret } from '../plugins/auth.js';
import type { MetricsSource } from './index.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;
/** A scrape takes milliseconds; a client holding a socket longer is not a scraper. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface MetricsServer {
  /** http://host:port, once listening. */
  url: string;
  stop(): Promise<void>;
}

export interface MetricsServerOptions {
  metrics: MetricsSource;
  port: number;
  host: string;
  secretKey: string;
  /** No key asked (PATCHBAY_METRICS_PUBLIC). */
  isPublic: boolean;
  onError?: (error: unknown) => void;
}

function sendError(response: ServerResponse, code: ErrorCode): void {
  const { status, message } = ERRORS[code];
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: { code, message } }));
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const expected = Buffer.from(options.secretKey, 'utf8');
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) return sendError(response, 'not_found');
    if (!options.isPublic) {
      const header = request.headers.authorization;
      if (header === undefined || header === '') return sendError(response, 'missing_auth_header');
      const match = BEARER.exec(header);
      if (!match?.[1]) return sendError(response, 'malformed_auth_header');
      if (!isSameSecret(expected, match[1])) return sendError(response, 'unknown_account');
    }
    const { contentType, body } = await options.metrics.exposition();
    response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(request.method === 'HEAD' ? undefined : body);
  };
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS }, (request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.onError?.(error);
      if (!response.headersSent) sendError(response, 'generic_error_support');
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
