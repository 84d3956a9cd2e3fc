import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { spawnPatchbay, waitForStart, type PatchbayProcess } from '../harness/process.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

describe('connection caches across server processes', () => {
  let upstream: Upstream;
  let writer: TestPatchbay;
  let reader: PatchbayProcess;

  const callThroughReader = async (connectionId: string) => {
    const res = await request(`${reader.url}/proxy/me`, {
      headers: { authorization: `Bearer ${writer.secretKey}`, 'provider-config-key': 'api', 'connection-id': connectionId },
    });
    const body = (await res.body.json()) as Record<string, any>;
    return { status: res.statusCode, body };
  };
  const eventually = async <T>(probe: () => Promise<T>, done: (value: T) => boolean, withinMs: number): Promise<T> => {
    const deadline = Date.now() + withinMs;
    let value = await probe();
    while (!done(value) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      value = await probe();
    }
    return value;
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    writer = await startPatchbay({
      label: 'cache-invalidation',
      providers: { api: { auth_mode: 'API_KEY', proxy: { base_url: upstream.url, headers: { 'x-key': '${apiKey}' } } } },
    });
    reader = await waitForStart(spawnPatchbay('server', writer.env));
    await writer.request('POST', '/integrations', { body: { provider: 'api', unique_key: 'api' } });
    for (const id of ['k1', 'k2']) {
      await writer.request('POST', '/connections', {
        body: { provider_config_key: 'api', connection_id: id, credentials: { type: 'API_KEY', apiKey: `first-${id}` } },
      });
    }
  });
  afterAll(async () => {
    await reader?.stop();
    await writer?.stop();
    await upstream?.close();
  });

  it('uses new credentials in the other process at once, not after the cache TTL', async () => {
    expect((await callThroughReader('k1')).body.headers['x-key']).toBe('first-k1'); // now cached in the reader
    await writer.request('POST', '/connections', {
      body: { provider_config_key: 'api', connection_id: 'k1', credentials: { type: 'API_KEY', apiKey: 'second-k1' } },
    });
    const after = await eventually(() => callThroughReader('k1'), (r) => r.body.headers?.['x-key'] === 'second-k1', 2000);
    expect(after.body.headers['x-key']).toBe('second-k1');
  });

  it('makes up for a change published while its LISTEN connection was down', async () => {
    expect((await callThroughReader('k1')).body.headers['x-key']).toBe('second-k1'); // cached in the reader
    const admin = new pg.Client({ connectionString: writer.database.url });
    await admin.connect();
    try {
      // The reader's listener dies; the change below is published while nobody in it listens.
      const killed = await admin.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [
        `patchbay-listen ${reader.child.pid}`,
      ]);
      expect(killed.rows).toEqual([{ ok: true }]);
    } finally {
      await admin.end();
    }
    await writer.request('POST', '/connections', {
      body: { provider_config_key: 'api', connection_id: 'k1', credentials: { type: 'API_KEY', apiKey: 'third-k1' } },
    });
    // The listener is back about a second later; the cache TTL (minutes) is not what fixes it.
    const after = await eventually(() => callThroughReader('k1'), (r) => r.body.headers?.['x-key'] === 'third-k1', 5000);
    expect(after.body.headers['x-key']).toBe('third-k1');
  });

  it('stops serving a deleted connection in the other process at once', async () => {
    expect((await callThroughReader('k2')).status).toBe(200);
    await writer.request('DELETE', '/connections/k2?provider_config_key=api');
    const after = await eventually(() => callThroughReader('k2'), (r) => r.status === 404, 2000);
    expect(after.status).toBe(404);
    expect(after.body.error.code).toBe('unknown_connection');
  });

  it('stops serving the connections of a deleted integration', async () => {
    expect((await callThroughReader('k1')).status).toBe(200);
    await writer.request('DELETE', '/integrations/api');
    const after = await eventually(() => callThroughReader('k1'), (r) => r.status === 404, 2000);
    expect(after.body.error.code).toBe('unknown_provider_config');
  });
});
