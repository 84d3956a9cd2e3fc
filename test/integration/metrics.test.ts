// GET /metrics: Prometheus text of the proxy's calls, latency, retries, runs and queue depth,
// behind the secret key (or public with PATCHBAY_METRICS_PUBLIC), with the runner thread's
// counters merged in as `patchbay start` runs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { addConnection, startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { reply, startUpstream, type Upstream } from '../harness/upstream.js';

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const found = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (wanted.every(([key, value]) => found[key] === value)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('GET /metrics', () => {
  let upstream: Upstream;
  let functions: FunctionsFolder;
  let patchbay: TestPatchbay;

  beforeAll(async () => {
    upstream = await startUpstream();
    functions = await writeFunctions({
      'metered/actions/ping.ts': `
        import { createAction } from 'patchbay';
        export default createAction({
          description: 'One proxy call',
          exec: async (nango) => (await nango.get({ endpoint: '/ping' })).data,
        });`,
    });
    // The runner on its own thread, as `patchbay start` runs it: its counters cross the thread.
    patchbay = await startPatchbay({
      label: 'metrics',
      providers: { metered: { display_name: 'Metered', auth_mode: 'OAUTH2', proxy: { base_url: upstream.url } } },
      functionsDir: functions.dir,
      runnerThread: true,
    });
    await addConnection(patchbay, { provider: 'metered', providerConfigKey: 'metered', connectionId: 'm-1', accessToken: 'tok-metrics-1' });
  });
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  const proxy = (path: string, headers: Record<string, string> = {}) =>
    patchbay.request('GET', `/proxy${path}`, { headers: { 'provider-config-key': 'metered', 'connection-id': 'm-1', ...headers } });

  it('needs the secret key', async () => {
    const missing = await patchbay.request('GET', '/metrics', { auth: false });
    expect(missing.status).toBe(401);
    expect(missing.json.error.code).toBe('missing_auth_header');
    const wrong = await patchbay.request('GET', '/metrics', { auth: 'not-the-key-0123456789' });
    expect(wrong.status).toBe(401);
  });

  it('counts a proxy call made through /proxy by integration and status, with its latency', async () => {
    const before = (await patchbay.request('GET', '/metrics')).text;
    expect((await proxy('/a')).status).toBe(200);
    upstream.script(reply(503));
    expect((await proxy('/b')).status).toBe(503);

    const res = await patchbay.request('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const ok = sample(res.text, 'patchbay_proxy_calls_total', { integration: 'metered', status: '200' }) ?? 0;
    expect(ok - (sample(before, 'patchbay_proxy_calls_total', { integration: 'metered', status: '200' }) ?? 0)).toBe(1);
    expect(sample(res.text, 'patchbay_proxy_calls_total', { integration: 'metered', status: '503' })).toBe(1);
    expect(sample(res.text, 'patchbay_proxy_duration_seconds_count', { integration: 'metered' })).toBeGreaterThanOrEqual(2);
    expect(sample(res.text, 'patchbay_proxy_duration_seconds_bucket', { integration: 'metered', le: '+Inf' })).toBeGreaterThanOrEqual(2);
  });

  it('counts retries', async () => {
    upstream.script(reply(502), reply(502));
    expect((await proxy('/retried', { retries: '3' })).status).toBe(200);
    const res = await patchbay.request('GET', '/metrics');
    expect(sample(res.text, 'patchbay_proxy_retries_total', { integration: 'metered' })).toBe(2);
  });

  it("merges the runner thread's runs and the proxy calls its functions made", async () => {
    const before = (await patchbay.request('GET', '/metrics')).text;
    const run = await patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'metered', 'connection-id': 'm-1' },
      body: { action_name: 'ping' },
    });
    expect(run.status).toBe(200);
    const calls = (text: string) => sample(text, 'patchbay_proxy_calls_total', { integration: 'metered', status: '200' }) ?? 0;
    // The run's counters are recorded on the runner thread as its log is written, just before it answers.
    await expect
      .poll(async () => {
        const text = (await patchbay.request('GET', '/metrics')).text;
        return { runs: sample(text, 'patchbay_runs_total', { kind: 'action', integration: 'metered', outcome: 'success' }), calls: calls(text) - calls(before) };
      }, { timeout: 20_000, interval: 200 })
      .toEqual({ runs: 1, calls: 1 });
    const text = (await patchbay.request('GET', '/metrics')).text;
    expect(sample(text, 'patchbay_run_duration_seconds_count', { kind: 'action', outcome: 'success' })).toBe(1);
  });

  it('reports the queue depth from the database', async () => {
    const text = (await patchbay.request('GET', '/metrics')).text;
    expect(sample(text, 'patchbay_queue_depth', { kind: 'action', state: 'queued' })).toBe(0);
    expect(sample(text, 'patchbay_queue_depth', { kind: 'sync', state: 'running' })).toBe(0);
  });

  it('gives the overview the same counts as /metrics', async () => {
    const metrics = (await patchbay.request('GET', '/metrics')).text;
    const overview = await patchbay.request('GET', '/overview');
    expect(overview.status).toBe(200);
    const total = ['200', '502', '503']
      .map((status) => sample(metrics, 'patchbay_proxy_calls_total', { integration: 'metered', status }) ?? 0)
      .reduce((a, b) => a + b, 0);
    expect(overview.json.calls).toBe(total);
    expect(overview.json.errors).toBe(1); // the 503; the retried call ended 200
    expect(overview.json.runs).toBe(1);
    expect(overview.json.minutes).toHaveLength(60);
    expect(overview.json.p50_ms).toBeGreaterThanOrEqual(0);
    expect(overview.json.p99_ms).toBeGreaterThanOrEqual(overview.json.p50_ms);
    expect(overview.json.connections_refresh_failing).toBe(0);
  });

  it('is served without the key only when PATCHBAY_METRICS_PUBLIC=true', async () => {
    const open = await startPatchbay({ label: 'metrics-public', env: { PATCHBAY_METRICS_PUBLIC: 'true' }, database: patchbay.database, encryptionKey: patchbay.encryptionKey });
    try {
      const res = await open.request('GET', '/metrics', { auth: false });
      expect(res.status).toBe(200);
      expect(res.text).toContain('# TYPE patchbay_proxy_calls_total counter');
      // Only /metrics: the rest of the API still needs the key.
      expect((await open.request('GET', '/overview', { auth: false })).status).toBe(401);
    } finally {
      await open.stop();
    }
  });
});
