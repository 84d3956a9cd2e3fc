// Verifies API_KEY and BASIC credentials before a connection is stored (POST /connections, the
// Connect flow): calls the catalog's `proxy.verification` endpoints in order, with the credentials
// injected as the proxy injects them, through the guarded dispatcher, and accepts the first 2xx
// (as Nango's credentialsTest does). The provider's answer is never read: it may echo the key.
import type { Dispatcher } from 'undici';
import { isPatchbayError, PatchbayError } from '../errors.js';
import { createRedactor } from '../logs/redact.js';
import { newLogId, type LogWriter } from '../logs/writer.js';
import type { Provider, ProviderVerification } from '../providers/catalog.js';
import { renderTemplate, type TemplateValues } from '../providers/template.js';
import {
  assertHostAllowed,
  buildRequest,
  buildTemplateValues,
  defaultAuthorization,
  missingPlaceholders,
  networkCode,
  renderProviderUrl,
  resolveBaseUrl,
  secretValuesOf,
  type AttemptRecord,
} from '../proxy/index.js';
import type { ConnectionCredentials, Integration } from '../store/index.js';

// 10 s per endpoint, for the headers and again for the body: the caller's request waits on
// this, and a provider that needs longer to say whether a key is valid is down. Token requests
// have the same bound (refresh.ts).
const VERIFY_TIMEOUT_MS = 10_000;
// The answer is read only for its status. undici's dump() discards up to this much and then
// closes the socket, so a large body costs nothing.
const MAX_DISCARDED_BYTES = 64 * 1024;

export interface VerifyDeps {
  dispatcher: Dispatcher;
  allowPrivateEgress: boolean;
  logs: LogWriter;
  /** Per endpoint (default VERIFY_TIMEOUT_MS); tests shorten it. */
  timeoutMs?: number | undefined;
  now?: () => number;
}

export interface VerifyInput {
  provider: Provider;
  integration: Integration;
  /** The connection being created, for the log. */
  connectionId: string;
  connectionConfig: Record<string, unknown>;
  credentials: ConnectionCredentials;
}

export type VerifyResult = { tested: false } | { tested: true; status: number };

/** One endpoint's outcome, as it goes out in the error's payload: the endpoint's template, never the rendered URL. */
interface AttemptOutcome {
  endpoint: string;
  status: number | null;
  network_code?: string;
}

/** True when storing these credentials first calls the provider (its catalog entry has `proxy.verification`). */
export function hasVerification(provider: Provider, credentials: ConnectionCredentials): boolean {
  return (credentials.type === 'API_KEY' || credentials.type === 'BASIC') && provider.proxy.verification !== undefined;
}

/**
 * Resolves when the provider accepts the credentials (or has nothing to verify them with);
 * throws `connection_test_failed` with the provider's status (or the network code) when no
 * endpoint answers 2xx, and the proxy's own errors (`missing_api_url`, `egress_denied`…) when
 * the call cannot be made at all.
 */
export async function verifyCredentials(deps: VerifyDeps, input: VerifyInput): Promise<VerifyResult> {
  const verification = input.provider.proxy.verification;
  if (verification === undefined || !hasVerification(input.provider, input.credentials)) return { tested: false };
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? VERIFY_TIMEOUT_MS;
  const connection = { credentials: input.credentials, connectionConfig: input.connectionConfig };
  const values = buildTemplateValues(connection, input.integration);
  const redactor = createRedactor(secretValuesOf(connection, input.integration));
  const logId = newLogId();
  const startedAt = now();
  const attempts: AttemptRecord[] = [];
  const outcomes: AttemptOutcome[] = [];
  let url: string | null = null;
  let sentHeaders: Record<string, string> = {};

  const writeLog = (status: number | null, error: { code: string; message: string } | null) => {
    const endedAt = now();
    deps.logs.write({
      id: logId,
      parentId: null,
      type: 'auth',
      action: 'verify',
      state: error === null ? 'success' : 'failed',
      level: error === null ? 'info' : 'warn',
      integrationKey: input.integration.uniqueKey,
      connectionId: input.connectionId,
      method: verification.method,
      url: url === null ? null : redactor.text(url),
      status,
      error: error === null ? null : { code: error.code, message: redactor.text(error.message) },
      attempts,
      request: error === null ? null : { headers: redactor.headers(sentHeaders) },
      response: null,
      messages: [],
      startedAt: new Date(startedAt),
      endedAt: new Date(endedAt),
      durationMs: endedAt - startedAt,
    });
  };

  try {
    const base = verificationBase(input.provider, verification, values);
    const authorization = defaultAuthorization(connection);
    const headers = renderHeaders(verification.headers, values);
    const withBody = verification.data !== undefined && verification.method !== 'GET' && verification.method !== 'HEAD';
    const body = withBody ? JSON.stringify(verification.data) : undefined;
    if (withBody) headers['content-type'] ??= 'application/json';

    for (const [attempt, template] of verification.endpoints.entries()) {
      const endpoint = renderTemplate(template, values);
      if (!endpoint.complete) throw missingValues(`verification endpoint ${template}`, endpoint.text);
      const built = buildRequest({
        provider: input.provider,
        values,
        authorization,
        endpoint: endpoint.text,
        baseUrlOverride: undefined,
        resolvedBase: base,
        callerHeaders: headers,
      });
      url = built.url.href;
      sentHeaders = built.headers;
      assertHostAllowed(built.url.hostname, deps.allowPrivateEgress);

      const attemptStarted = now();
      const record: AttemptRecord = { attempt, status: null, error: null, durationMs: 0, waitedMs: 0 };
      attempts.push(record);
      let status: number;
      try {
        const response = await deps.dispatcher.request({
          origin: built.url.origin,
          path: built.url.path,
          method: verification.method as Dispatcher.HttpMethod,
          headers: built.headers,
          body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        status = response.statusCode;
        await response.body.dump({ limit: MAX_DISCARDED_BYTES }).catch(() => undefined);
      } catch (error) {
        const code = networkCode(error);
        record.error = code;
        record.durationMs = now() - attemptStarted;
        if (code === 'EGRESS_DENIED') throw new PatchbayError('egress_denied', { message: `Calls to ${built.url.hostname} are not allowed.` });
        outcomes.push({ endpoint: template, status: null, network_code: code });
        continue;
      }
      record.status = status;
      record.durationMs = now() - attemptStarted;
      if (status >= 200 && status < 300) {
        writeLog(status, null);
        return { tested: true, status };
      }
      outcomes.push({ endpoint: template, status });
    }
    throw testFailed(verification.method, outcomes);
  } catch (error) {
    const wire = isPatchbayError(error) ? { code: error.code, message: error.message } : { code: 'internal_error', message: 'the verification call failed' };
    writeLog(outcomes.at(-1)?.status ?? null, wire);
    throw error;
  }
}

/** The catalog's base URL for these credentials, or the verification's own (a template too, held to the same hosts). */
function verificationBase(provider: Provider, verification: ProviderVerification, values: TemplateValues): URL {
  const template = verification.baseUrlOverride;
  if (template === undefined || template === '') return resolveBaseUrl(provider, values, undefined);
  return renderProviderUrl(provider, template, values, "provider's verification base URL", 'missing_api_url');
}

/** The verification's headers, templates filled in; one missing a value is left out (as the proxy's are). */
function renderHeaders(templates: Record<string, string>, values: TemplateValues): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, template] of Object.entries(templates)) {
    const rendered = renderTemplate(template, values);
    if (rendered.complete) headers[name] = rendered.text;
  }
  return headers;
}

function missingValues(what: string, rendered: string): PatchbayError {
  return new PatchbayError('missing_api_url', { message: `The ${what} needs values the connection does not have: ${missingPlaceholders(rendered)}.` });
}

function testFailed(method: string, outcomes: AttemptOutcome[]): PatchbayError {
  const last = outcomes.at(-1) as AttemptOutcome;
  const message =
    last.status === null
      ? `The provider could not be reached to verify the credentials: ${method} ${last.endpoint} failed with ${last.network_code}.`
      : `The provider did not accept the credentials: ${method} ${last.endpoint} answered ${last.status}.`;
  return new PatchbayError('connection_test_failed', {
    message,
    payload: { status: last.status, ...(last.network_code === undefined ? {} : { network_code: last.network_code }), attempts: outcomes },
  });
}
