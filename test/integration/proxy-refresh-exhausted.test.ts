// A connection whose refresh token the provider keeps refusing: each failed day counts once, and
// failures on EXHAUST_AFTER_DAYS (4) different days mark it exhausted, after which the proxy
// answers `connection_refresh_exhausted` without asking the token endpoint again.
// Which day a failure fell on is PostgreSQL's (`now()::date` in the connection store), so the
// test moves the stored failure back a day between attempts instead of waiting for one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../server/store/index.js';
import { startOAuthProvider, type OAuthProvider } from '../harness/oauth-provider.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';

describe('proxy: refresh failures on four different days exhaust a connection', () => {
  let provider: OAuthProvider;
  let patchbay: TestPatchbay;
  let pool: Pool;
  const proxy = (connectionId: string) => patchbay.request('GET', '/proxy/user', { headers: { 'provider-config-key': 'fake', 'connection-id': connectionId } });
  const tokenRequests = () => provider.tokenRequests.length;
  const refreshState = async (connectionId: string) => {
    const { rows } = await pool.query<{ refresh_attempts: number; refresh_exhausted: boolean }>(
      'SELECT refresh_attempts, refresh_exhausted FROM connections WHERE connection_id = $1',
      [connectionId],
    );
    return rows[0];
  };
  const refreshStatus = async (connectionId: string) => {
    const listed = await patchbay.request('GET', `/connections?connectionId=${connectionId}`);
    expect(listed.status).toBe(200);
    return listed.json.connections[0].refresh_status as string;
  };
  /** As if the last failure had happened a day earlier (which also ends its 30 s backoff). */
  const dayPasses = async (connectionId: string) => {
    const { rowCount } = await pool.query(
      "UPDATE connections SET last_refresh_failure = last_refresh_failure - interval '1 day' WHERE connection_id = $1 AND last_refresh_failure IS NOT NULL",
      [connectionId],
    );
    expect(rowCount).toBe(1);
  };

  beforeAll(async () => {
    provider = await startOAuthProvider();
    // The token endpoint refuses every refresh, as a provider does with a revoked refresh token.
    provider.behaviour.failWith = 400;
    patchbay = await startPatchbay({ label: 'proxy-refresh-exhausted', providers: { 'fake-oauth': provider.catalogEntry() } });
    pool = createPool({ connectionString: patchbay.database.url, max: 2 });
    const integration = await patchbay.request('POST', '/integrations', {
      body: { provider: 'fake-oauth', unique_key: 'fake', credentials: { type: 'OAUTH2', client_id: 'app-id', client_secret: 'app-secret' } },
    });
    expect(integration.status).toBe(200);
  });
  afterAll(async () => {
    await pool?.end();
    await patchbay?.stop();
    await provider?.close();
  });

  it('counts failures once a day, marks the connection exhausted on the fourth day, then answers connection_refresh_exhausted', async () => {
    const created = await patchbay.request('POST', '/connections', {
      body: {
        provider_config_key: 'fake',
        connection_id: 'revoked',
        credentials: { type: 'OAUTH2', access_token: 'dead', refresh_token: 'revoked-refresh', expires_at: new Date(Date.now() - 60_000).toISOString() },
      },
    });
    expect(created.status).toBe(201);
    expect(await refreshStatus('revoked')).toBe('ok');

    // Day 1: the refresh fails; a forced refresh the same day fails too, but the day counts once.
    let before = tokenRequests();
    const first = await proxy('revoked');
    expect(first.status).toBe(424);
    expect(first.json.error.code).toBe('refresh_token_external_error');
    const forced = await patchbay.request('GET', '/connections/revoked?provider_config_key=fake&force_refresh=true');
    expect(forced.json.error.code).toBe('refresh_token_external_error');
    expect(tokenRequests() - before).toBe(2);
    expect(await refreshState('revoked')).toEqual({ refresh_attempts: 1, refresh_exhausted: false });
    expect(await refreshStatus('revoked')).toBe('failing');
    // Within the backoff, the token endpoint is left alone.
    before = tokenRequests();
    expect((await proxy('revoked')).json.error.code).toBe('connection_refresh_backoff');
    expect(tokenRequests()).toBe(before);

    // Days 2 and 3: one more failed day each, not exhausted yet.
    for (const day of [2, 3]) {
      await dayPasses('revoked');
      before = tokenRequests();
      const again = await proxy('revoked');
      expect(again.status).toBe(424);
      expect(again.json.error.code).toBe('refresh_token_external_error');
      expect(tokenRequests() - before).toBe(1);
      expect(await refreshState('revoked')).toEqual({ refresh_attempts: day, refresh_exhausted: false });
    }

    // Day 4: the fourth failed day exhausts it; this call still reports the provider's refusal.
    await dayPasses('revoked');
    const fourth = await proxy('revoked');
    expect(fourth.status).toBe(424);
    expect(fourth.json.error.code).toBe('refresh_token_external_error');
    expect(await refreshState('revoked')).toEqual({ refresh_attempts: 4, refresh_exhausted: true });
    expect(await refreshStatus('revoked')).toBe('exhausted');

    // From now on, however much later: connection_refresh_exhausted, and no token request.
    before = tokenRequests();
    for (let i = 0; i < 2; i++) {
      const exhausted = await proxy('revoked');
      expect(exhausted.status).toBe(424);
      expect(exhausted.json.error).toMatchObject({
        code: 'connection_refresh_exhausted',
        message: 'Refreshing the credentials failed too many times; the connection must be re-authorized.',
      });
      await dayPasses('revoked');
    }
    expect(tokenRequests()).toBe(before);

    // Re-authorizing (new credentials for the connection) starts it over.
    provider.behaviour.failWith = undefined;
    const replaced = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'fake', connection_id: 'revoked', credentials: { type: 'OAUTH2', access_token: 'fresh-token', refresh_token: 'new-refresh' } },
    });
    expect(replaced.status).toBe(201);
    expect(await refreshStatus('revoked')).toBe('ok');
    const served = await proxy('revoked');
    expect(served.status).toBe(200);
    expect(served.json.authorization).toBe('Bearer fresh-token');
  });
});
