import { Nango } from '@nangohq/node';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../sdk/webhooks.js';
import { createLogStore } from '../../server/store/logs.js';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, reset, startUpstream, type ReceivedRequest, type Upstream } from '../harness/upstream.js';

// `seen` changes on every run, so every run after the first updates both records.
const FUNCTIONS = {
  'github/syncs/issues.ts': `
    import { createSync } from 'patchbay';
    import * as z from 'zod';
    const Issue = z.object({ id: z.string(), title: z.string(), seen: z.number() });
    export default createSync({
      description: 'Two issues',
      frequency: 'every day',
      autoStart: false,
      models: { Issue },
      exec: async (nango) => {
        const seen = Date.now();
        await nango.batchSave([{ id: '1', title: 'one', seen }, { id: '2', title: 'two', seen }], 'Issue');
      },
    });`,
  'github/syncs/broken.ts': `
    import { createSync } from 'patchbay';
    import * as z from 'zod';
    const Label = z.object({ id: z.string() });
    export default createSync({
      description: 'Always fails before saving anything',
      frequency: 'every day',
      autoStart: false,
      models: { Label },
      exec: async () => { throw new Error('the provider is down'); },
    });`,
  'github/syncs/slow.ts': `
    import { createSync } from 'patchbay';
    import * as z from 'zod';
    const Comment = z.object({ id: z.string() });
    export default createSync({
      description: 'Saves one record, then outlives its time limit',
      frequency: 'every day',
      autoStart: false,
      models: { Comment },
      limits: { timeoutMs: 300 },
      exec: async (nango) => {
        await nango.batchSave([{ id: 'c1' }], 'Comment');
        await new Promise((resolve) => setTimeout(resolve, 5000));
      },
    });`,
  'github/actions/ping.ts': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Answers pong',
      exec: async () => ({ pong: true }),
    });`,
};

const MAX_ATTEMPTS = 4;

describe('webhooks to the app', () => {
  let receiver: Upstream;
  let patchbay: TestPatchbay;
  let functions: FunctionsFolder;
  let db: pg.Client;

  const waitFor = async <T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const syncRuns = async (syncName: string, connectionId: string) =>
    (await db.query(`SELECT id, state, log_id FROM function_runs WHERE kind = 'sync' AND function_name = $1 AND connection_id = $2 ORDER BY created_at`, [syncName, connectionId]))
      .rows as { id: string; state: string; log_id: string }[];
  /** Triggers a sync and returns its run once finished. */
  const runSync = async (syncName: string, connectionId = 'gh-1') => {
    const before = (await syncRuns(syncName, connectionId)).length;
    const res = await patchbay.request('POST', '/sync/trigger', { body: { syncs: [syncName], provider_config_key: 'github', connection_id: connectionId } });
    expect(res.json).toEqual({ success: true });
    return waitFor(async () => {
      const run = (await syncRuns(syncName, connectionId))[before];
      return run !== undefined && !['queued', 'running'].includes(run.state) && run;
    }, `the ${syncName} run`);
  };
  const deliveries = async (runId: string) =>
    (await db.query(`SELECT state, attempts, last_status FROM webhook_deliveries WHERE run_id = $1`, [runId])).rows as { state: string; attempts: number; last_status: number | null }[];
  const settled = (runId: string, count = 1) =>
    waitFor(async () => {
      const rows = await deliveries(runId);
      return rows.length >= count && rows.every((row) => row.state !== 'pending') && rows;
    }, 'the deliveries to settle');
  const webhookLogs = (parentId: string, count: number) =>
    waitFor(async () => {
      const rows = (await createLogStore(db).list({ type: 'webhook', parentId, limit: 1000 })).reverse();
      return rows.length >= count && (rows as { state: string; status: number | null; url: string; request: Record<string, unknown>; error: { code: string } | null }[]);
    }, `${count} webhook log operations`);
  const json = (request: ReceivedRequest) => JSON.parse(request.body.toString('utf8')) as Record<string, any>;

  beforeAll(async () => {
    receiver = await startUpstream();
    functions = await writeFunctions(FUNCTIONS);
    patchbay = await startPatchbay({
      label: 'webhooks',
      functionsDir: functions.dir,
      env: {
        PATCHBAY_WEBHOOK_URL: `${receiver.url}/hooks?token=app-side-token`,
        PATCHBAY_WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
        PATCHBAY_WEBHOOK_RETRY_BASE_MS: '50',
        PATCHBAY_WEBHOOK_TIMEOUT_MS: '2000',
      },
    });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
    for (const body of [
      { provider_config_key: 'github', connection_id: 'gh-1', credentials: { type: 'OAUTH2', access_token: 'token-one' } },
      { provider_config_key: 'github', connection_id: 'gh-2', credentials: { type: 'OAUTH2', access_token: 'token-two' }, webhook_url_override: `${receiver.url}/override` },
    ]) {
      expect((await patchbay.request('POST', '/connections', { body })).status).toBe(201);
    }
    db = new pg.Client({ connectionString: patchbay.database.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await patchbay?.stop();
    await receiver?.close();
    await functions?.remove();
  });
  beforeEach(() => receiver.clear());

  it('retries 500, 429 and a reset, then delivers a body @nangohq/node verifies; the sync succeeded meanwhile', async () => {
    receiver.script(reply(500), reply(429, {}, { 'retry-after': '0' }), reset(), reply(200));
    const run = await runSync('issues');
    expect(run.state).toBe('succeeded');
    const [delivery] = await settled(run.id);
    expect(delivery).toEqual({ state: 'delivered', attempts: 4, last_status: 200 });

    expect(receiver.requests).toHaveLength(4);
    // The run was stored as finished before the endpoint was first tried: it never waited on it.
    const { rows } = await db.query(`SELECT finished_at FROM function_runs WHERE id = $1`, [run.id]);
    expect((rows[0] as { finished_at: Date }).finished_at.getTime()).toBeLessThanOrEqual((receiver.requests[0] as ReceivedRequest).at);
    const bodies = new Set(receiver.requests.map((request) => request.body.toString('utf8')));
    expect(bodies.size).toBe(1); // every retry is byte-identical
    const last = receiver.requests.at(-1) as ReceivedRequest;
    expect(last.path).toBe('/hooks');
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.headers['user-agent']).toBe('Patchbay-Webhooks');
    const raw = last.body.toString('utf8');
    // The app verifies with its Nango client: the secret key is the default signing key.
    const nango = new Nango({ host: patchbay.url, secretKey: patchbay.secretKey });
    expect(nango.verifyIncomingWebhookRequest(raw, last.headers as Record<string, unknown>)).toBe(true);
    expect(new Nango({ host: patchbay.url, apiKey: patchbay.secretKey, webhookSigningKey: patchbay.secretKey }).verifyIncomingWebhookRequest(raw, last.headers as Record<string, unknown>)).toBe(true);
    expect(verifyWebhookSignature(raw, last.headers as Record<string, unknown>, patchbay.secretKey)).toBe(true);
    expect(new Nango({ host: patchbay.url, secretKey: 'another-secret-key-000' }).verifyIncomingWebhookRequest(raw, last.headers as Record<string, unknown>)).toBe(false);

    const body = json(last);
    expect(body).toEqual({
      from: 'nango',
      type: 'sync',
      connectionId: 'gh-1',
      providerConfigKey: 'github',
      syncName: 'issues',
      syncVariant: 'base',
      model: 'Issue',
      syncType: 'INITIAL',
      startedAt: expect.any(String),
      success: true,
      responseResults: { added: 2, updated: 0, deleted: 0 },
      modifiedAfter: body.startedAt,
      queryTimeStamp: null,
    });
    // modifiedAfter fetches exactly what the run changed.
    const page = await nango.listRecords({ providerConfigKey: 'github', connectionId: 'gh-1', model: 'Issue', modifiedAfter: body.modifiedAfter });
    expect(page.records.map((record) => record.id).sort()).toEqual(['1', '2']);

    // Each attempt is a log operation under the run's, without the URL's query or the signature.
    const logs = await webhookLogs(run.log_id, 4);
    expect(logs.map((log) => [log.state, log.status])).toEqual([
      ['failed', 500],
      ['failed', 429],
      ['failed', null],
      ['success', 200],
    ]);
    expect(logs[0]?.url).toBe(`${receiver.url}/hooks`);
    expect(logs[0]?.error?.code).toBe('webhook_retry');
    expect(JSON.stringify(logs)).not.toContain(last.headers['x-nango-hmac-sha256'] as string);
    expect(JSON.stringify(logs)).not.toContain('app-side-token');
  });

  it('sends a failure webhook for a sync whose runner died (taken back by the reaper)', async () => {
    const { rows } = await db.query(
      `INSERT INTO function_runs (id, kind, integration_key, connection_id, provider, function_name, bundle_hash, state, is_async, max_retries,
         log_id, attempt, runner_id, started_at, heartbeat_at)
       SELECT gen_random_uuid(), 'sync', 'github', 'gh-1', 'github', 'issues', bundle_hash, 'running', true, 0, gen_random_uuid(), 1, 'ghost',
         now() - interval '1 hour', now() - interval '1 hour'
       FROM functions WHERE name = 'issues' RETURNING id`,
    );
    const runId = (rows[0] as { id: string }).id;
    await settled(runId);
    const body = json(receiver.requests.at(-1) as ReceivedRequest);
    expect(body).toMatchObject({ type: 'sync', syncName: 'issues', success: false, error: { type: 'runner_lost' } });
  });

  it('sends an INCREMENTAL webhook with the updates of the next run', async () => {
    const run = await runSync('issues');
    await settled(run.id);
    expect(receiver.requests).toHaveLength(1);
    expect(json(receiver.requests[0] as ReceivedRequest)).toMatchObject({ syncType: 'INCREMENTAL', responseResults: { added: 0, updated: 2, deleted: 0 }, queryTimeStamp: expect.any(String) });
  });

  it('gives up on an endpoint that keeps failing after the configured attempts, and the sync still succeeded', async () => {
    receiver.setFallback(reply(503, 'down for maintenance'));
    const run = await runSync('issues');
    expect(run.state).toBe('succeeded');
    expect(await settled(run.id)).toEqual([{ state: 'failed', attempts: MAX_ATTEMPTS, last_status: 503 }]);
    expect(receiver.requests).toHaveLength(MAX_ATTEMPTS);
    const logs = await webhookLogs(run.log_id, MAX_ATTEMPTS);
    expect(logs.at(-1)?.error?.code).toBe('webhook_failed');
    // The next sync runs as usual.
    receiver.setFallback(reply(200));
    expect((await runSync('issues')).state).toBe('succeeded');
  });

  it('never retries a 4xx other than 429', async () => {
    receiver.script(reply(400, { error: 'bad payload' }));
    const run = await runSync('issues');
    expect(await settled(run.id)).toEqual([{ state: 'failed', attempts: 1, last_status: 400 }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.requests).toHaveLength(1);
  });

  it('sends one failure webhook for a failed sync, naming its models', async () => {
    receiver.setFallback(reply(200));
    const run = await runSync('broken');
    expect(run.state).toBe('failed');
    await settled(run.id);
    expect(receiver.requests).toHaveLength(1);
    expect(json(receiver.requests[0] as ReceivedRequest)).toMatchObject({
      type: 'sync',
      syncName: 'broken',
      model: 'Label',
      success: false,
      error: { type: expect.any(String), description: expect.any(String) },
      startedAt: expect.any(String),
      failedAt: expect.any(String),
    });
  });

  it('says an interrupted sync is no success, with what it saved (nango#7159)', async () => {
    receiver.setFallback(reply(200));
    const run = await runSync('slow');
    expect(run.state).toBe('interrupted');
    await settled(run.id);
    expect(receiver.requests).toHaveLength(1);
    expect(json(receiver.requests[0] as ReceivedRequest)).toMatchObject({
      syncName: 'slow',
      model: 'Comment',
      success: false,
      error: { type: 'interrupted', description: expect.stringContaining('execution_timeout') },
      responseResults: { added: 1, updated: 0, deleted: 0 },
      modifiedAfter: expect.any(String),
    });
  });

  it("uses the connection's webhook_url_override when it has one", async () => {
    receiver.setFallback(reply(204));
    const run = await runSync('issues', 'gh-2');
    await settled(run.id);
    expect(receiver.requests.map((request) => request.path)).toEqual(['/override']);
    expect(json(receiver.requests[0] as ReceivedRequest)).toMatchObject({ connectionId: 'gh-2', model: 'Issue' });
  });

  it('sends the async_action webhook when an async action finishes, and none for a synchronous one', async () => {
    receiver.setFallback(reply(200));
    const headers = { 'provider-config-key': 'github', 'connection-id': 'gh-1' };
    const sync = await patchbay.request('POST', '/action/trigger', { headers, body: { action_name: 'ping', input: {} } });
    expect(sync.json).toEqual({ pong: true });
    const res = await patchbay.request('POST', '/action/trigger', { headers: { ...headers, 'x-async': 'true' }, body: { action_name: 'ping', input: {} } });
    expect(res.status).toBe(202);
    const { id, statusUrl } = res.json as { id: string; statusUrl: string };
    await settled(id);
    expect(receiver.requests).toHaveLength(1);
    const last = receiver.requests[0] as ReceivedRequest;
    expect(json(last)).toEqual({ from: 'nango', type: 'async_action', connectionId: 'gh-1', providerConfigKey: 'github', payload: { id, statusUrl } });
    const nango = new Nango({ host: patchbay.url, secretKey: patchbay.secretKey });
    expect(nango.verifyIncomingWebhookRequest(last.body.toString('utf8'), last.headers as Record<string, unknown>)).toBe(true);
    expect(await nango.getAsyncActionResult({ statusUrl })).toEqual({ pong: true });
  });
  it('leaves the database alone while nothing is pending (the sender sleeps until a delivery is written or due)', async () => {
    receiver.setFallback(reply(200));
    const run = await runSync('issues');
    await settled(run.id);
    // With nothing pending, the sender reads webhook_deliveries once a minute. PostgreSQL
    // publishes a backend's counters late (up to 10 s when it goes idle), so scans of the earlier
    // tests can land in the window; a sender that spins between passes scans the table some 200
    // times a second (660 here when it did).
    const reads = async () => {
      await db.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await db.query(`SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS n FROM pg_stat_user_tables WHERE relname = 'webhook_deliveries'`);
      return Number((rows[0] as { n: string }).n);
    };
    const before = await reads();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await reads()) - before).toBeLessThan(100);
  });
});
