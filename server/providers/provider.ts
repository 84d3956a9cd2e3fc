// One catalog entry: the fields Patchbay reads from a providers.yaml entry (Nango's names, as
// in @nangohq/providers) and their camelCase `Provider`. Pure: parses a plain value, no I/O.
// Fields Patchbay does not read are tolerated, so Nango's entries load as they are.
import { z } from 'zod';

export const AUTH_MODES = [
  'OAUTH2',
  'OAUTH2_CC',
  'API_KEY',
  'BASIC',
  'NONE',
  'OAUTH1',
  'APP',
  'CUSTOM',
  'JWT',
  'TWO_STEP',
  'SIGNATURE',
  'TBA',
  'BILL',
  'AWS_SIGV4',
  'MCP_OAUTH2',
] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** The auth modes Patchbay can import connections for and inject into proxied calls. */
export const SUPPORTED_AUTH_MODES: readonly AuthMode[] = ['OAUTH2', 'OAUTH2_CC', 'API_KEY', 'BASIC', 'NONE'];

export function isAuthMode(value: unknown): value is AuthMode {
  return typeof value === 'string' && (AUTH_MODES as readonly string[]).includes(value);
}

const stringList = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
// Nango writes a few parameters as YAML booleans or numbers (`force_verify: false`,
// `expiring: 1`); they go out as header, query or form text anyway.
const textMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

/** A value a user or the token response fills in: Nango's `connection_config` and `credentials` field definitions. */
const fieldSchema = z.looseObject({
  type: z.string().optional(),
  title: z.string().optional(),
  description: z.string().optional(),
  example: z.union([z.string(), z.number()]).transform(String).optional(),
  pattern: z.string().optional(),
  format: z.string().optional(),
  prefix: z.string().optional(),
  suffix: z.string().optional(),
  default_value: z.union([z.string(), z.number(), z.boolean()]).transform(String).optional(),
  enum: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
  optional: z.boolean().optional(),
  automated: z.boolean().optional(),
  hidden: z.boolean().optional(),
  secret: z.boolean().optional(),
  doc_section: z.string().optional(),
});

const providerSchema = z.looseObject({
  display_name: z.string().optional(),
  categories: z.array(z.string()).optional(),
  auth_mode: z.enum(AUTH_MODES),
  docs: z.string().optional(),
  authorization_url: z.string().optional(),
  authorization_params: textMap.optional(),
  // Applied to the finished authorization URL's text: providers that rename OAuth parameters
  // (TikTok's `client_key`, Printful's `redirect_url`).
  authorization_url_replacements: textMap.optional(),
  // One URL, or one per grant (`{OAUTH2: …, APP: …}` for github-app-oauth).
  token_url: z.union([z.string(), z.record(z.string(), z.string())]).optional(),
  refresh_url: z.string().optional(),
  token_params: textMap.optional(),
  refresh_params: textMap.optional(),
  // Client authentication at the token endpoint. Patchbay's bundled catalog writes
  // `authorization_method: header`; Nango's catalog mostly writes `token_request_auth_method:
  // basic` for the same thing. Nango's other values (`custom`, `private_key_jwt`) are token
  // requests Patchbay cannot make, so such an entry is refused rather than sent wrongly.
  authorization_method: z.enum(['body', 'header']).optional(),
  token_request_auth_method: z.enum(['basic']).optional(),
  body_format: z.enum(['form', 'json']).optional(),
  scope_separator: z.string().optional(),
  default_scopes: z.array(z.string()).optional(),
  disable_pkce: z.boolean().optional(),
  token_expiration_buffer: z.number().nonnegative().optional(),
  connection_config: z.record(z.string(), fieldSchema).optional(),
  credentials: z.record(z.string(), fieldSchema).optional(),
  token_response_metadata: z.array(z.string()).optional(),
  redirect_uri_metadata: z.array(z.string()).optional(),
  proxy: z
    .looseObject({
      base_url: z.string().optional(),
      headers: textMap.optional(),
      query: textMap.optional(),
      decompress: z.boolean().optional(),
      retry: z
        .looseObject({
          at: stringList.optional(),
          after: stringList.optional(),
          remaining: z.string().optional(),
          error_code: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
        })
        .optional(),
      max_concurrency: z.number().int().positive().optional(),
      allowed_hosts: z.array(z.string().min(1)).optional(),
      paginate: z.record(z.string(), z.unknown()).optional(),
      verification: z
        .looseObject({
          method: z.string().optional(),
          endpoints: z.array(z.string()).min(1),
          base_url_override: z.string().optional(),
          headers: textMap.optional(),
          data: z.unknown().optional(),
        })
        .optional(),
    })
    .optional(),
});

type RawProvider = z.infer<typeof providerSchema>;
type RawField = z.infer<typeof fieldSchema>;

export interface ProviderRetry {
  /** Headers holding a reset time (epoch s/ms or an HTTP date). */
  at: string[];
  /** Headers holding a number of seconds to wait. */
  after: string[];
  /** Header holding the remaining quota; '0' means exhausted. */
  remaining: string | undefined;
  /** Statuses this provider wants retried ('403', '5xx', '500-502'); undefined: the defaults. */
  errorCodes: string[] | undefined;
}

/** A value asked of the user (or read from the provider's answer, when `automated`). */
export interface FieldDefinition {
  type: string;
  title: string | undefined;
  description: string | undefined;
  example: string | undefined;
  /** A regular expression the value must match. */
  pattern: string | undefined;
  /** `hostname`, `uri`, `email`, `uuid`… */
  format: string | undefined;
  /** Shown around the input (`https://` … `.zendesk.com`); not part of the value. */
  prefix: string | undefined;
  suffix: string | undefined;
  defaultValue: string | undefined;
  enum: string[] | undefined;
  optional: boolean;
  /** Filled in from the token or callback response, never asked of the user. */
  automated: boolean;
  hidden: boolean;
  secret: boolean;
  docSection: string | undefined;
}

export interface ProviderVerification {
  method: string;
  /** Tried in order; the first 2xx verifies the credentials. Templates (`${credentials.username}`). */
  endpoints: string[];
  /** Another base URL (a template) for the verification call only. */
  baseUrlOverride: string | undefined;
  /** Sent with the verification call, names lower-case. */
  headers: Record<string, string>;
  /** A JSON body, for POST verifications. */
  data: unknown;
}

export interface Provider {
  key: string;
  displayName: string;
  authMode: AuthMode;
  categories: string[];
  docs: string | undefined;
  /** A template, with `A || B` alternatives (`https://${connectionConfig.hostname}/… || https://login…`). */
  authorizationUrl: string | undefined;
  authorizationParams: Record<string, string>;
  authorizationUrlReplacements: Record<string, string>;
  tokenUrl: string | undefined;
  refreshUrl: string | undefined;
  tokenParams: Record<string, string>;
  refreshParams: Record<string, string>;
  /** How the token endpoint authenticates the client: in the body, or as a Basic header. */
  authorizationMethod: 'body' | 'header';
  bodyFormat: 'form' | 'json';
  /** Joins scopes in the authorization URL (Nango's default: a space). */
  scopeSeparator: string;
  /** Asked for whatever scopes the integration configures. */
  defaultScopes: string[];
  /** PKCE (S256) is sent unless the provider refuses it. */
  disablePkce: boolean;
  tokenExpirationBufferSec: number | undefined;
  /** Values of `connection_config` the provider's templates use. */
  connectionConfig: Record<string, FieldDefinition>;
  /** The credentials a user enters (API_KEY: `apiKey`; BASIC: `username`, `password`). */
  credentialFields: Record<string, FieldDefinition>;
  /** Dotted paths in the token response copied into `connection_config` (Salesforce's `instance_url`). */
  tokenResponseMetadata: string[];
  /** Query parameters of the OAuth callback copied into `connection_config`. */
  redirectUriMetadata: string[];
  proxy: {
    baseUrl: string | undefined;
    headers: Record<string, string>;
    query: Record<string, string>;
    decompress: boolean;
    retry: ProviderRetry;
    maxConcurrency: number | undefined;
    /** Hosts besides the base URL's that may receive the credentials (`*.example.com` for subdomains). */
    allowedHosts: string[];
    paginate: Record<string, unknown> | undefined;
    verification: ProviderVerification | undefined;
  };
}

export type ParsedProvider = { ok: true; provider: Provider } | { ok: false; reason: string };

/** Validates one entry (aliases already resolved) and maps it; a failure names the first bad field. */
export function parseProvider(key: string, raw: unknown): ParsedProvider {
  const parsed = providerSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return { ok: false, reason: `${where}${issue?.message ?? 'bad definition'}` };
  }
  return { ok: true, provider: toProvider(key, parsed.data) };
}

function toProvider(key: string, p: RawProvider): Provider {
  const tokenUrl = typeof p.token_url === 'string' ? p.token_url : (p.token_url?.[p.auth_mode] ?? p.token_url?.OAUTH2);
  const verification = p.proxy?.verification;
  return {
    key,
    displayName: p.display_name ?? key,
    authMode: p.auth_mode,
    categories: p.categories ?? [],
    docs: p.docs,
    authorizationUrl: p.authorization_url,
    authorizationParams: p.authorization_params ?? {},
    authorizationUrlReplacements: p.authorization_url_replacements ?? {},
    tokenUrl,
    refreshUrl: p.refresh_url,
    tokenParams: p.token_params ?? {},
    refreshParams: p.refresh_params ?? {},
    authorizationMethod: p.authorization_method ?? (p.token_request_auth_method === 'basic' ? 'header' : 'body'),
    bodyFormat: p.body_format ?? 'form',
    scopeSeparator: p.scope_separator ?? ' ',
    defaultScopes: p.default_scopes ?? [],
    disablePkce: p.disable_pkce ?? false,
    tokenExpirationBufferSec: p.token_expiration_buffer,
    connectionConfig: toFields(p.connection_config),
    credentialFields: { ...defaultCredentialFields(p.auth_mode), ...toFields(p.credentials) },
    tokenResponseMetadata: p.token_response_metadata ?? [],
    redirectUriMetadata: p.redirect_uri_metadata ?? [],
    proxy: {
      baseUrl: p.proxy?.base_url,
      headers: lowerCaseKeys(p.proxy?.headers ?? {}),
      query: p.proxy?.query ?? {},
      decompress: p.proxy?.decompress ?? false,
      retry: {
        at: (p.proxy?.retry?.at ?? []).map((h) => h.toLowerCase()),
        after: (p.proxy?.retry?.after ?? []).map((h) => h.toLowerCase()),
        remaining: p.proxy?.retry?.remaining?.toLowerCase(),
        errorCodes: p.proxy?.retry?.error_code,
      },
      maxConcurrency: p.proxy?.max_concurrency,
      allowedHosts: p.proxy?.allowed_hosts ?? [],
      paginate: p.proxy?.paginate,
      verification: verification
        ? {
            method: (verification.method ?? 'GET').toUpperCase(),
            endpoints: verification.endpoints,
            baseUrlOverride: verification.base_url_override,
            headers: lowerCaseKeys(verification.headers ?? {}),
            data: verification.data,
          }
        : undefined,
    },
  };
}

/** What an end user types for these modes when the entry describes nothing more (Nango's field names). */
function defaultCredentialFields(mode: AuthMode): Record<string, FieldDefinition> {
  const field = (title: string, secret: boolean): FieldDefinition => ({
    type: 'string', title, description: undefined, example: undefined, pattern: undefined, format: undefined, prefix: undefined, suffix: undefined,
    defaultValue: undefined, enum: undefined, optional: false, automated: false, hidden: false, secret, docSection: undefined,
  });
  if (mode === 'API_KEY') return { apiKey: field('API key', true) };
  if (mode === 'BASIC') return { username: field('Username', false), password: field('Password', true) };
  return {};
}

function toFields(raw: Record<string, RawField> | undefined): Record<string, FieldDefinition> {
  const fields: Record<string, FieldDefinition> = {};
  for (const [name, field] of Object.entries(raw ?? {})) {
    fields[name] = {
      type: field.type ?? 'string',
      title: field.title,
      description: field.description,
      example: field.example,
      pattern: field.pattern,
      format: field.format,
      prefix: field.prefix,
      suffix: field.suffix,
      defaultValue: field.default_value,
      enum: field.enum,
      optional: field.optional ?? false,
      automated: field.automated ?? false,
      hidden: field.hidden ?? false,
      secret: field.secret ?? false,
      docSection: field.doc_section,
    };
  }
  return fields;
}

function lowerCaseKeys(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k.toLowerCase(), v]));
}
