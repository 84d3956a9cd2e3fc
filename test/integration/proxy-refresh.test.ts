import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startTokenServer, type TokenServer } from '../harness/oauth.js';
import { spawnPatchbay, waitForStart, type PatchbayProcess } from '../harness/process.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, startUpstream, type Upstream } from '../harness/upstream.js';

describe('proxy: OAuth2 refresh', () => {
  let upstream: Upstream;
  let tokens: TokenServer;
  let patchbay: TestPatchbay;
  let second: PatchbayProcess;
  const headers = (connection: string, key = 'github') => ({ 'provider-config-key': key, 'connection-id': connection });
  const expired = () => new Date(Date.now() - 60_000).toISOString();

  const importConnection = async (id: string, credentials: Record<string, unknown>, key = 'github') => {
    const res = await patchbay.request('POST', '/connections', { body: { provider_config_key: key, connection_id: id, credentials } });
    expect(res.status).toBe(201);
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    tokens = await startTokenServer();
    const providers = {
      github: { token_url: tokens.tokenUrl, proxy: { base_url: upstream.url } },
      'cc-api': { auth_mode: 'OAUTH2_CC', token_url: tokens.tokenUrl, proxy: { base_url: upstream.url } },
    };
    patchbay = await startPatchbay({ label: 'proxy-refresh', providers });
    // A second server, a separate OS process on the same database: the row lock must hold
    // where the in-process single flight cannot reach.
    second = await waitForStart(spawnPatchbay('server', { ...patchbay.env, LOG_LEVEL: 'warn' }));
    await patchbay.request('POST', '/integrations', {
      body: { provider: 'github', unique_key: 'github', credentials: { type: 'OAUTH2', client_id: 'app-id', client_secret: 'app-secret' } },
    });
    await patchbay.request('POST', '/integrations', { body: { provider: 'cc-api', unique_key: 'cc-api' } });
  });
  afterAll(async () => {
    await second?.stop();
    await patchbay?.stop();
    await upstream?.close();
    await tokens?.close();
  });

  it('makes exactly one refresh request for 100 concurrent calls on an expired token', async () => {
    await importConnection('race-1', { type: 'OAUTH2', access_token: 'old-token', refresh_token: 'refresh-0', expires_at: expired() });
    tokens.behaviour.latencyMs = 200;
    const before = tokens.refreshCount();
    upstream.clear();
    const results = await Promise.all(
      Array.from({ length: 100 }, () => patchbay.request('GET', '/proxy/user', { headers: headers('race-1') })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(tokens.refreshCount() - before).toBe(1);
    const fresh = tokens.lastIssued();
    expect(new Set(upstream.requests.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${fresh}`]));
    const request = tokens.requests.at(-1);
    expect(request?.params).toMatchObject({ grant_type: 'refresh_token', refresh_token: 'refresh-0', client_id: 'app-id', client_secret: 'app-secret' });
    // the rotated refresh token is kept for next time
    const stored = await patchbay.request('GET', '/connections/race-1?provider_config_key=github&refresh_token=true');
    expect(stored.json.credentials.refresh_token).toMatch(/^refresh-\d+$/);
    expect(stored.json.credentials.access_token).toBe(fresh);
  });

  it('makes exactly one refresh request for 100 concurrent calls spread over two server processes', async () => {
    await importConnection('race-2', { type: 'OAUTH2', access_token: 'old-token-2', refresh_token: 'refresh-x', expires_at: expired() });
    tokens.behaviour.latencyMs = 300;
    const before = tokens.refreshCount();
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        if (i % 2 === 0) return (await patchbay.request('GET', '/proxy/user', { headers: headers('race-2') })).status;
        const res = await request(`${second.url}/proxy/user`, {
          headers: { authorization: `Bearer ${patchbay.secretKey}`, ...headers('race-2') },
        });
        await res.body.dump();
        return res.statusCode;
      }),
    );
    expect(results).toEqual(Array(100).fill(200));
    expect(tokens.refreshCount() - before).toBe(1);
  });

  it('answers 424 when the refresh fails, then backs off without calling the token endpoint again', async () => {
    await importConnection('broken', { type: 'OAUTH2', access_token: 'dead', refresh_token: 'revoked', expires_at: expired() });
    tokens.behaviour.latencyMs = 0;
    tokens.behaviour.failWith = 400;
    try {
      const before = tokens.requests.length;
      const first = await patchbay.request('GET', '/proxy/user', { headers: headers('broken') });
      expect(first.status).toBe(424);
      expect(first.json.error.code).toBe('refresh_token_external_error');
      expect(first.json.error.payload).toEqual({ status: 400, error: 'invalid_grant', error_description: 'refresh token revoked revoked' });
      const again = await patchbay.request('GET', '/proxy/user', { headers: headers('broken') });
      expect(again.status).toBe(424);
      expect(again.json.error.code).toBe('connection_refresh_backoff');
      expect(tokens.requests.length - before).toBe(1);
    } finally {
      tokens.behaviour.failWith = undefined;
    }
  });

  it('answers 424, not a 502, when the token endpoint grants an access token no header can hold: the call never reaches the provider', async () => {
    await importConnection('unsafe-grant', { type: 'OAUTH2', access_token: 'before-refresh', refresh_token: 'refresh-u', expires_at: expired() });
    await importConnection('unsafe-cc', { type: 'OAUTH2_CC', client_id: 'cc-client', client_secret: 'cc-secret' }, 'cc-api');
    const message = 'The token endpoint answered an access token with characters that cannot be sent in an HTTP header (only printable ASCII, without spaces).';
    tokens.behaviour.accessToken = 'gho_16C7e42F292c6912E7710c8…';
    try {
      for (const [id, key] of [['unsafe-grant', 'github'], ['unsafe-cc', 'cc-api']] as const) {
        upstream.clear();
        const res = await patchbay.request('GET', '/proxy/user', { headers: headers(id, key) });
        expect(res.status).toBe(424);
        expect(res.json.error).toMatchObject({ code: 'refresh_token_external_error', message, payload: { status: 200, invalid: 'access_token' } });
        expect(res.text).not.toContain('gho_16C7e42F292c6912E7710c8');
        expect(upstream.requests).toEqual([]);
      }
    } finally {
      tokens.behaviour.accessToken = undefined;
    }
  });

  it('refreshes once and retries once when the provider answers 401 to a token we believed valid', async () => {
    await importConnection('revoked-early', {
      type: 'OAUTH2',
      access_token: 'looks-valid',
      refresh_token: 'refresh-y',
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const before = tokens.refreshCount();
    upstream.clear();
    upstream.script(reply(401, { message: 'Bad credentials' }));
    const res = await patchbay.request('GET', '/proxy/user', { headers: headers('revoked-early') });
    expect(res.status).toBe(200);
    expect(tokens.refreshCount() - before).toBe(1);
    expect(upstream.requests.map((r) => r.headers.authorization)).toEqual(['Bearer looks-valid', `Bearer ${tokens.lastIssued()}`]);
  });

  it('does not loop when the provider keeps answering 401: the second 401 goes back to the caller', async () => {
    upstream.clear();
    upstream.script(reply(401, { message: 'nope' }), reply(401, { message: 'still nope' }));
    const before = tokens.refreshCount();
    const res = await patchbay.request('GET', '/proxy/user', { headers: headers('revoked-early') });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ message: 'still nope' });
    expect(tokens.refreshCount() - before).toBe(1);
    expect(upstream.requests).toHaveLength(2);
  });

  it('fetches a client-credentials token once and reuses it until it expires', async () => {
    await importConnection('cc-1', { type: 'OAUTH2_CC', client_id: 'cc-client', client_secret: 'cc-secret' }, 'cc-api');
    upstream.clear();
    const before = tokens.requests.filter((r) => r.grantType === 'client_credentials').length;
    for (let i = 0; i < 3; i++) {
      const res = await patchbay.request('GET', '/proxy/data', { headers: headers('cc-1', 'cc-api') });
      expect(res.status).toBe(200);
    }
    const ccRequests = tokens.requests.filter((r) => r.grantType === 'client_credentials');
    expect(ccRequests.length - before).toBe(1);
    expect(ccRequests.at(-1)?.params).toMatchObject({ client_id: 'cc-client', client_secret: 'cc-secret' });
    expect(new Set(upstream.requests.map((r) => r.headers.authorization)).size).toBe(1);
  });

  it('refreshes on GET /connections/:id when expired, and on force_refresh=true', async () => {
    await importConnection('read-1', { type: 'OAUTH2', access_token: 'stale', refresh_token: 'refresh-z', expires_at: expired() });
    const read = await patchbay.request('GET', '/connections/read-1?provider_config_key=github');
    expect(read.json.credentials.access_token).toBe(tokens.lastIssued());
    const before = tokens.refreshCount();
    const forced = await patchbay.request('GET', '/connections/read-1?provider_config_key=github&force_refresh=true');
    expect(tokens.refreshCount() - before).toBe(1);
    expect(forced.json.credentials.access_token).toBe(tokens.lastIssued());
    expect(forced.json.credentials.access_token).not.toBe(read.json.credentials.access_token);
  });
});
