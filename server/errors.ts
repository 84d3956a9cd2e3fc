// The wire-error catalogue: every error a client can see, with its stable code and status.
// Codes follow Nango's public API where it has them; docs/errors.md lists every one, and a
// test keeps the two in step. Throw sites name a code from here and cannot invent one.

export const ERRORS = {
  // Authentication
  missing_auth_header: { status: 401, message: 'Authentication failed. The request is missing the Authorization header.' },
  malformed_auth_header: { status: 401, message: 'Authentication failed. The Authorization header is not of the form "Bearer <secret key>".' },
  invalid_connect_session_token: { status: 401, message: 'The connect session token is missing, malformed or unknown.' },
  expired_connect_session_token: { status: 401, message: 'The connect session has expired; create a new one.' },
  unknown_account: { status: 401, message: 'Authentication failed. The provided secret key does not match any account.' },
  invalid_session: { status: 401, message: 'The dashboard session is missing, expired or logged out; log in again.' },
  csrf_check_failed: { status: 403, message: 'A request authenticated by the dashboard cookie needs its X-Patchbay-CSRF header and must not come from another site.' },
  session_not_allowed: { status: 403, message: 'Credential values are answered to the secret key only, never to a dashboard session.' },
  too_many_login_attempts: { status: 429, message: 'Too many wrong keys from this address; wait before trying again.' },

  // Input validation
  invalid_headers: { status: 400, message: 'Invalid request headers.' },
  invalid_query_params: { status: 400, message: 'Invalid query parameters.' },
  invalid_body: { status: 400, message: 'Invalid request body.' },
  invalid_uri_params: { status: 400, message: 'Invalid path parameters.' },
  invalid_content_type: { status: 415, message: 'Unsupported Content-Type for this route.' },
  request_too_large: { status: 413, message: 'The request body is larger than this server accepts.' },
  request_headers_too_large: { status: 431, message: 'The request headers are larger than this server accepts.' },
  malformed_request: { status: 400, message: 'The request is not valid HTTP.' },
  request_timeout: { status: 408, message: 'The request was not received in time.' },

  // Lookups
  not_found: { status: 404, message: 'Not found.' },
  unknown_provider_config: { status: 404, message: 'Provider config not found for the given provider config key.' },
  unknown_connection: { status: 404, message: 'Provided ConnectionId and ProviderConfigKey does not match a valid connection.' },
  unknown_provider: { status: 400, message: 'The provider is not in the catalog.' },
  connection_test_failed: { status: 400, message: 'The credentials could not be verified with the provider.' },
  metadata_too_large: { status: 413, message: 'Connection metadata is limited to 64 KiB of JSON.' },

  // Credentials and their refresh
  connection_refresh_backoff: { status: 424, message: 'A recent refresh attempt failed. Backing off before retrying.' },
  connection_refresh_exhausted: { status: 424, message: 'Refreshing the credentials failed too many times; the connection must be re-authorized.' },
  refresh_token_external_error: { status: 424, message: 'The external API returned an error when trying to refresh the access token.' },
  invalid_credentials: { status: 424, message: 'The connection has no valid credentials.' },

  // Proxy
  missing_api_url: { status: 400, message: 'The provider has no proxy base URL and no Base-Url-Override was given.' },
  invalid_endpoint: { status: 400, message: 'The endpoint must be a path on the provider API.' },
  base_url_override_not_allowed: { status: 400, message: 'Base-Url-Override points to an address that is not allowed.' },
  invalid_connection_config: { status: 400, message: "The connection's configuration points the provider URL outside the provider's hosts." },
  egress_denied: { status: 403, message: 'The upstream address is not allowed.' },
  too_many_log_streams: { status: 429, message: 'Too many live log streams are open on this server.' },
  rate_limited: { status: 429, message: 'The provider asked to wait longer than the configured maximum.' },
  upstream_network_error: { status: 502, message: 'The provider could not be reached.' },

  // Functions and actions
  disabled_resource: { status: 404, message: 'The function is disabled.' },
  action_pending: { status: 404, message: 'The action has not finished yet.' },
  invalid_action_input: { status: 400, message: "The input does not match the action's input schema." },
  invalid_action_output: { status: 500, message: "The action returned a value that does not match its output schema." },
  action_output_too_large: { status: 500, message: 'The action returned more data than the output limit allows.' },
  action_script_runtime_error: { status: 500, message: 'The action threw an ActionError.' },
  script_http_error: { status: 424, message: 'An upstream API call made by the function failed.' },
  script_network_error: { status: 500, message: 'An upstream API called by the function could not be reached.' },
  script_internal_error: { status: 500, message: 'The function threw an error.' },
  script_aborted: { status: 410, message: 'The run was cancelled.' },
  execution_timeout: { status: 500, message: 'The function ran longer than its time limit.' },
  execution_cpu_limit: { status: 500, message: 'The function used more CPU time than its limit.' },
  execution_out_of_memory: { status: 500, message: 'The function used more memory than its limit.' },
  runner_lost: { status: 500, message: 'The runner executing the function stopped before it finished.' },
  runner_unavailable: { status: 503, message: 'No runner started the action in time.' },
  function_build_failed: { status: 400, message: 'The functions could not be built.' },
  integration_not_allowed: { status: 403, message: 'The integration is not allowed here (another integration than the function\'s, or one the connect session does not allow).' },
  missing_provider_config_key: { status: 400, message: 'A provider config key is required (body or Provider-Config-Key header).' },

  // Availability: the database is away (an outage, a restart); the request may be tried again.
  database_unavailable: { status: 503, message: 'The database is unreachable. Try again shortly.' },

  // Catch-all: the raw message of an unexpected error never leaves the process.
  generic_error_support: { status: 500, message: 'An error occurred. Please contact support with this unique id.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

const BRAND = Symbol.for('patchbay.error');

export interface ValidationIssue {
  code: string;
  message: string;
  path: (string | number)[];
}

export interface PatchbayErrorOptions {
  message?: string;
  payload?: unknown;
  /** Extra top-level fields of the wire error, e.g. `retry_after_ms` or `errors`. */
  fields?: Record<string, unknown>;
  cause?: unknown;
}

export class PatchbayError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  readonly status: number;
  readonly payload: unknown;
  readonly fields: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, options: PatchbayErrorOptions = {}) {
    super(options.message ?? ERRORS[code].message, { cause: options.cause });
    this.name = 'PatchbayError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.payload = options.payload;
    this.fields = options.fields;
  }
}

/** Recognises a PatchbayError by brand, so copies from another realm or bundle still match. */
export function isPatchbayError(value: unknown): value is PatchbayError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

export interface WireError {
  error: { code: string; message: string; payload?: unknown; [field: string]: unknown };
}

export function toWireError(error: PatchbayError): WireError {
  return {
    error: {
      message: error.message,
      code: error.code,
      ...(error.payload === undefined ? {} : { payload: error.payload }),
      ...error.fields,
    },
  };
}

export function validationError(
  code: 'invalid_headers' | 'invalid_query_params' | 'invalid_body' | 'invalid_uri_params',
  errors: ValidationIssue[],
): PatchbayError {
  const first = errors[0];
  const where = first && first.path.length > 0 ? `${first.path.join('.')}: ` : '';
  return new PatchbayError(code, {
    message: first ? `${ERRORS[code].message} ${where}${first.message}` : ERRORS[code].message,
    fields: { errors },
  });
}
