import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, startUpstream, type Upstream } from '../harness/upstream.js';

const SECRETS = {
  token: 'gho_LogSecretAccessToken_987',
  apiKey: 'sk-LogSecretApiKey-555',
  password: 'LogSecretPassword!',
  clientSecret: 'LogSecretClientSecret',
};

describe('proxy: every call is logged, with secrets redacted', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;

  beforeAll(async () => {
    upstream = await startUpstream();
    patchbay = await startPatchbay({
      label: 'proxy-logs',
      providers: {
        github: { proxy: { base_url: upstream.url } },
        'query-key': { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, query: { key: '${apiKey}' } } },
        'plain-basic': { auth_mode: 'BASIC', proxy: { base_url: upstream.url } },
      },
    });
    await patchbay.request('POST', '/integrations', {
      body: { provider: 'github', unique_key: 'github', credentials: { type: 'OAUTH2', client_id: 'cid-123456', client_secret: SECRETS.clientSecret } },
    });
    await patchbay.request('POST', '/integrations', { body: { provider: 'query-key', unique_key: 'query-key' } });
    await patchbay.request('POST', '/integrations', { body: { provider: 'plain-basic', unique_key: 'plain-basic' } });
    await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'github', connection_id: 'g1', credentials: { type: 'OAUTH2', access_token: SECRETS.token } },
    });
    await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'query-key', connection_id: 'q1', credentials: { type: 'API_KEY', apiKey: SECRETS.apiKey } },
    });
    await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'plain-basic', connection_id: 'b1', credentials: { type: 'BASIC', username: 'ann', password: SECRETS.password } },
    });
  });
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
  });

  it('records method, redacted URL, status, duration and each attempt with its wait', async () => {
    upstream.script(reply(503));
    const res = await patchbay.request('GET', '/proxy/user/repos?per_page=5', {
      headers: { 'provider-config-key': 'github', 'connection-id': 'g1', retries: '1' },
    });
    expect(res.status).toBe(200);
    await patchbay.system.logs.flush();
    const logs = await patchbay.request('GET', '/logs?provider_config_key=github&connection_id=g1');
    expect(logs.status).toBe(200);
    const [op] = logs.json.data;
    expect(op).toMatchObject({
      type: 'proxy',
      action: 'call',
      state: 'success',
      method: 'GET',
      provider_config_key: 'github',
      connection_id: 'g1',
      status: 200,
      url: `${upstream.url}/user/repos?per_page=5`,
    });
    expect(op.duration_ms).toBeGreaterThanOrEqual(0);
    expect(op.attempts).toHaveLength(2);
    expect(op.attempts[0]).toMatchObject({ attempt: 0, status: 503 });
    expect(op.attempts[1]).toMatchObject({ attempt: 1, status: 200 });
    expect(op.attempts[1].waited_ms).toBeGreaterThan(0);
    expect(op.request).toBeNull(); // headers are kept for failed calls only
  });

  it('logs failures too, and filters by status and state', async () => {
    upstream.script(reply(404, { message: 'nope' }));
    await patchbay.request('GET', '/proxy/missing', { headers: { 'provider-config-key': 'github', 'connection-id': 'g1' } });
    await patchbay.request('GET', '/proxy/x', { headers: { 'provider-config-key': 'github', 'connection-id': 'ghost' } });
    await patchbay.system.logs.flush();
    const failed = await patchbay.request('GET', '/logs?status=404');
    expect(failed.json.data.map((op: { url: string }) => op.url)).toEqual([`${upstream.url}/missing`]);
    expect(failed.json.data[0].request.headers.authorization).toBe('REDACTED');
    expect(failed.json.data[0].response.headers['content-type']).toBe('application/json');
    const unknown = await patchbay.request('GET', '/logs?connection_id=ghost&state=failed');
    expect(unknown.json.data[0].error.code).toBe('unknown_connection');
  });

  it('pages with a cursor, newest first, without repeats', async () => {
    for (let i = 0; i < 7; i++) {
      await patchbay.request('GET', `/proxy/page/${i}`, { headers: { 'provider-config-key': 'plain-basic', 'connection-id': 'b1' } });
    }
    await patchbay.system.logs.flush();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/logs?provider_config_key=plain-basic&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await patchbay.request('GET', query);
      seen.push(...page.json.data.map((op: { url: string }) => op.url.split('/').pop()));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['6', '5', '4', '3', '2', '1', '0']);
    const bad = await patchbay.request('GET', '/logs?cursor=garbage');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('invalid_query_params');
  });

  it('stores no secret text in any log row', async () => {
    upstream.script(reply(401, { echo: `token ${SECRETS.token} rejected` }, { 'x-echo': SECRETS.token }));
    await patchbay.request('GET', '/proxy/a', { headers: { 'provider-config-key': 'github', 'connection-id': 'g1' } });
    await patchbay.request('GET', `/proxy/search?q=${encodeURIComponent(SECRETS.apiKey)}`, {
      headers: { 'provider-config-key': 'query-key', 'connection-id': 'q1' },
    });
    upstream.script(reply(200, {}, { 'set-cookie': `session=${SECRETS.password}` }));
    await patchbay.request('GET', '/proxy/b', { headers: { 'provider-config-key': 'plain-basic', 'connection-id': 'b1' } });
    await patchbay.system.logs.flush();
    const client = new pg.Client({ connectionString: patchbay.database.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT row_to_json(c)::text AS text, row_count FROM log_chunks c');
      expect(rows.reduce((sum: number, r: { row_count: number }) => sum + r.row_count, 0)).toBeGreaterThan(5);
      const dump = rows.map((r: { text: string }) => r.text).join('\n');
      for (const secret of [...Object.values(SECRETS), encodeURIComponent(SECRETS.apiKey), Buffer.from(`ann:${SECRETS.password}`).toString('base64')]) {
        expect(dump).not.toContain(secret);
      }
      expect(dump).toContain('REDACTED');
      expect(dump).toContain('key=REDACTED');
    } finally {
      await client.end();
    }
  });
});
