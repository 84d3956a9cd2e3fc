import { describe, expect, it } from 'vitest';
import { defaultAuthorization, secretValuesOf } from '../../../../server/proxy/inject-credentials.js';
import type { ConnectionCredentials } from '../../../../server/store/index.js';
import { connectionFixture, integrationFixture } from '../../../harness/fixtures.js';

const connection = (credentials: ConnectionCredentials) => connectionFixture(credentials, { subdomain: 'acme-corp' });
const integration = integrationFixture;

const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('defaultAuthorization', () => {
  it.each<[string, ConnectionCredentials, string | undefined]>([
    ['OAUTH2', { type: 'OAUTH2', access_token: 'access-1', raw: {} }, 'Bearer access-1'],
    ['OAUTH2_CC', { type: 'OAUTH2_CC', token: 'cc-token-1', client_id: 'id', client_secret: 'secret', raw: {} }, 'Bearer cc-token-1'],
    ['BASIC', { type: 'BASIC', username: 'ann', password: 'p@ss:word' }, `Basic ${base64('ann:p@ss:word')}`],
    ['BASIC with an empty password', { type: 'BASIC', username: 'ann', password: '' }, `Basic ${base64('ann:')}`],
    ['API_KEY', { type: 'API_KEY', apiKey: 'key-1' }, undefined],
    ['NONE', { type: 'NONE' }, undefined],
  ])('%s', (_name, credentials, expected) => {
    expect(defaultAuthorization(connection(credentials))).toBe(expected);
  });
});

describe('secretValuesOf', () => {
  it('includes the OAuth2 tokens, the raw token response strings and a client secret override', () => {
    const secrets = secretValuesOf(
      connection({
        type: 'OAUTH2',
        access_token: 'gho_access_token_1',
        refresh_token: 'ghr_refresh_token_1',
        config_override: { client_secret: 'override-secret-1' },
        raw: { access_token: 'gho_access_token_1', id_token: 'eyJ.id.token' },
      }),
      undefined,
    );
    expect(secrets).toEqual(expect.arrayContaining(['gho_access_token_1', 'ghr_refresh_token_1', 'override-secret-1', 'eyJ.id.token']));
  });

  it('includes an API key', () => {
    expect(secretValuesOf(connection({ type: 'API_KEY', apiKey: 'sk-openai-key-1' }), undefined)).toContain('sk-openai-key-1');
  });

  it('includes a password and the base64 of user:password', () => {
    const secrets = secretValuesOf(connection({ type: 'BASIC', username: 'ann', password: 'hunter22' }), undefined);
    expect(secrets).toEqual(expect.arrayContaining(['hunter22', base64('ann:hunter22')]));
  });

  it('includes the client secret of OAuth2 client credentials', () => {
    const secrets = secretValuesOf(
      connection({ type: 'OAUTH2_CC', token: 'cc-token-1', client_id: 'client-id-1', client_secret: 'cc-client-secret', raw: {} }),
      undefined,
    );
    expect(secrets).toEqual(expect.arrayContaining(['cc-token-1', 'cc-client-secret']));
  });

  it("includes the integration's client secret and webhook secret", () => {
    const secrets = secretValuesOf(
      connection({ type: 'OAUTH2', access_token: 'gho_access_token_1', raw: {} }),
      integration({ type: 'OAUTH2', client_id: 'Iv1.client', client_secret: 'app-client-secret-1', scopes: 'repo,read:org', webhook_secret: 'whsec-123456' }),
    );
    expect(secrets).toEqual(expect.arrayContaining(['app-client-secret-1', 'whsec-123456']));
    expect(secrets).not.toContain('repo,read:org');
  });

  it("includes an app's private key", () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----';
    const secrets = secretValuesOf(
      connection({ type: 'NONE' }),
      integration({ type: 'APP', app_id: '12345', app_link: 'https://github.com/apps/acme', private_key: key }),
    );
    expect(secrets).toContain(key);
  });

  it('leaves out non-secret fields of the token response such as token_type "Bearer" and scopes', () => {
    const secrets = secretValuesOf(
      connection({ type: 'OAUTH2', access_token: 'gho_access_token_1', raw: { token_type: 'Bearer', scope: 'repo,user,admin', access_token: 'gho_access_token_1', id_token: 'eyJ-id-token' } }),
      undefined,
    );
    expect(secrets).toEqual(expect.arrayContaining(['gho_access_token_1', 'eyJ-id-token']));
    expect(secrets).not.toContain('Bearer');
    expect(secrets).not.toContain('repo,user,admin');
  });

  it('leaves out strings shorter than 6 characters', () => {
    const secrets = secretValuesOf(connection({ type: 'OAUTH2', access_token: 'abcde', raw: { token_type: 'bot', scope: 'repo' } }), undefined);
    expect(secrets).not.toContain('abcde');
    expect(secrets).not.toContain('bot');
    expect(secrets).not.toContain('repo');
  });

  it.each<[string, ConnectionCredentials]>([
    ['OAUTH2', { type: 'OAUTH2', access_token: 'gho_access_token_1', raw: {} }],
    ['OAUTH2_CC', { type: 'OAUTH2_CC', token: 'cc-token-1', client_id: 'client-id-1', client_secret: 'cc-client-secret', raw: {} }],
    ['API_KEY', { type: 'API_KEY', apiKey: 'sk-openai-key-1' }],
  ])('leaves out the %s type field', (type, credentials) => {
    const secrets = secretValuesOf(connection(credentials), integration({ type: 'OAUTH2', client_id: 'Iv1.client', client_secret: 'app-client-secret-1' }));
    expect(secrets).not.toContain(type);
    expect(secrets).not.toContain('OAUTH2');
  });

  it('does not treat the connection config as a secret', () => {
    expect(secretValuesOf(connection({ type: 'API_KEY', apiKey: 'sk-openai-key-1' }), undefined)).not.toContain('acme-corp');
  });
});
