// Credential injection per auth mode: the default Authorization header, and the values the
// provider's header/query/base-URL templates may use. Pure: no I/O.
import type { TemplateValues } from '../providers/template.js';
import type { Connection, Integration } from '../store/index.js';

/** What injection reads of a connection: a stored one, or one being created (credential verification). */
export type CredentialsSource = Pick<Connection, 'credentials' | 'connectionConfig'>;

/** The Authorization header a connection gets before provider headers are applied, as Nango's proxy sets it. */
export function defaultAuthorization(connection: CredentialsSource): string | undefined {
  const credentials = connection.credentials;
  switch (credentials.type) {
    case 'OAUTH2':
      return `Bearer ${credentials.access_token}`;
    case 'OAUTH2_CC':
      return `Bearer ${credentials.token}`;
    case 'BASIC':
      return `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64')}`;
    case 'API_KEY': // no default: the provider's headers or query place the key
    case 'NONE':
      return undefined;
  }
}

/** Values for `${...}` in the provider's templates: credentials spread, plus named shortcuts. */
export function buildTemplateValues(connection: CredentialsSource, integration: Integration | undefined): TemplateValues {
  const credentials = connection.credentials as Record<string, unknown>;
  const values: TemplateValues = {
    ...credentials,
    credentials,
    connectionConfig: connection.connectionConfig,
  };
  if (connection.credentials.type === 'OAUTH2') values.accessToken = connection.credentials.access_token;
  if (connection.credentials.type === 'OAUTH2_CC') values.accessToken = connection.credentials.token;
  const app = integration?.credentials;
  if (app && 'client_id' in app) {
    values.clientId = app.client_id;
    values.clientSecret = app.client_secret;
  }
  return values;
}

/**
 * Fields that hold secrets, wherever they appear in credentials (the token response in `raw`
 * included). Named, not guessed: `token_type: "Bearer"` or a scope list must not turn every
 * "Bearer" in the logs into REDACTED.
 */
const SECRET_FIELDS = new Set([
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'apiKey',
  'api_key',
  'password',
  'client_secret',
  'private_key',
  'webhook_secret',
  'oauth_token',
  'oauth_token_secret',
  'token_secret',
]);

/** Every secret string of a connection and its integration, for redaction in logs. */
export function secretValuesOf(connection: CredentialsSource, integration: Integration | undefined): string[] {
  const secrets = new Set<string>();
  const collect = (value: unknown, key: string | undefined) => {
    if (typeof value === 'string') {
      // Very short strings would redact unrelated text and protect nothing.
      if (key !== undefined && SECRET_FIELDS.has(key) && value.length >= 6) secrets.add(value);
    } else if (typeof value === 'object' && value !== null) {
      for (const [innerKey, inner] of Object.entries(value)) collect(inner, innerKey);
    }
  };
  collect(connection.credentials, undefined);
  if (connection.credentials.type === 'BASIC') {
    const { username, password } = connection.credentials;
    if (password.length >= 6) secrets.add(password);
    secrets.add(Buffer.from(`${username}:${password}`).toString('base64'));
  }
  if (integration?.credentials) collect(integration.credentials, undefined);
  return [...secrets];
}
