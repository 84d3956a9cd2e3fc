import { describe, expect, it } from 'vitest';
import { toPublicCredentials } from '../../../server/connection-json.js';
import type { ConnectionCredentials } from '../../../server/store/index.js';

const oauth2: ConnectionCredentials = {
  type: 'OAUTH2',
  access_token: 'at-1',
  refresh_token: 'rt-secret',
  expires_at: '2030-01-01T00:00:00.000Z',
  raw: { access_token: 'at-1', refresh_token: 'rt-secret', token_type: 'bearer', nested: { refresh_token: 'rt-secret', other: 'rt-secret' } },
};

describe('toPublicCredentials', () => {
  it('leaves the refresh token nowhere without refresh_token=true, raw included', () => {
    const shown = toPublicCredentials(oauth2, false);
    expect(JSON.stringify(shown)).not.toContain('rt-secret');
    expect(shown).toEqual({
      type: 'OAUTH2',
      access_token: 'at-1',
      expires_at: '2030-01-01T00:00:00.000Z',
      raw: { access_token: 'at-1', token_type: 'bearer', nested: {} },
    });
  });

  it('gives everything with refresh_token=true', () => {
    expect(toPublicCredentials(oauth2, true)).toEqual(oauth2);
  });

  it('strips a refresh_token from a client-credentials token response', () => {
    const cc: ConnectionCredentials = { type: 'OAUTH2_CC', token: 't', client_id: 'id', client_secret: 's', raw: { access_token: 't', refresh_token: 'r' } };
    expect(toPublicCredentials(cc, false)).toEqual({ ...cc, raw: { access_token: 't' } });
  });

  it('keeps an empty string when there is no refresh token to hide', () => {
    const noRefresh: ConnectionCredentials = { type: 'OAUTH2', access_token: 'a', refresh_token: '', raw: { access_token: 'a', scope: '' } };
    expect(toPublicCredentials(noRefresh, false)).toEqual({ type: 'OAUTH2', access_token: 'a', raw: { access_token: 'a', scope: '' } });
  });
});
