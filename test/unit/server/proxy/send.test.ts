// sendCall against a real HTTP upstream on 127.0.0.1, with the real target resolver (its store and
// credentials manager replaced by in-memory ones), the real pacer and an undici Agent. The clock
// is fixed and the jitter is 0, so every wait is known in advance; the waits themselves are real.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { CredentialsManager } from '../../../../server/credentials/refresh.js';
import { REDACTED } from '../../../../server/logs/redact.js';
import type { LogWriter } from '../../../../server/logs/writer.js';
import { loadCatalog } from '../../../../server/providers/catalog.js';
import { createPacer, pacePrefixOf } from '../../../../server/proxy/pacer.js';
import { sendCall, type SendDeps } from '../../../../server/proxy/send.js';
import { createTargetResolver, type Target, type TargetResolver } from '../../../../server/proxy/target.js';
import type { ProxyCall, ProxyResult } from '../../../../server/proxy/types.js';
import type { Connection, Integration, Store } from '../../../../server/store/index.js';
import type { LogOperation } from '../../../../server/store/logs.js';
import { echo, reply, startUpstream, type Step, type Upstream } from '../../../harness/upstream.js';
import { connectionFixture, integrationFixture } from '../../../harness/fixtures.js';

/** The fixed clock: one second before a whole second, so an HTTP-date can name a moment 250 ms ahead. */
const NOW = Date.parse('2024-01-01T00:00:01Z') - 250;
const BASE_BACKOFF_MS = 40;
const TOKEN = 'tok-first-0001';
const FRESH_TOKEN = 'tok-fresh-0002';

function connectionWith(token: string): Connection {
  return {
    ...connectionFixture({ type: 'OAUTH2', access_token: token, refresh_token: 'refresh-secret-0003', raw: {} }, { account: 'team 7' }),
    connectionId: 'c1',
    providerConfigKey: 'acme-key',
    provider: 'acme',
  };
}

const integration: Integration = { ...integrationFixture(null), uniqueKey: 'acme-key', provider: 'acme' };

/** Targets as the engine's cache shares them between calls, frozen: a call writing into one throws. */
function frozenTargets(resolver: TargetResolver): TargetResolver {
  const freeze = (target: Target) => Object.freeze(target);
  return {
    ...resolver,
    resolve(providerConfigKey, connectionId) {
      const found = resolver.resolve(providerConfigKey, connectionId);
      return found instanceof Promise ? found.then(freeze) : freeze(found);
    },
    forceRefresh: (target) => resolver.forceRefresh(target).then(freeze),
  };
}

async function readBody(result: ProxyResult): Promise<Buffer> {
  const chunks = (await (result.body as Readable).toArray()) as Buffer[];
  // The log is written when the body stream closes, a tick after its end.
  if (!result.body.closed) await new Promise((resolve) => result.body.once('close', resolve));
  return Buffer.concat(chunks);
}

function gzipped(text: string): Step {
  return (_req, res) => {
    const body = zlib.gzipSync(text);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': body.length });
    res.end(body);
  };
}

describe('sendCall', () => {
  let upstream: Upstream;
  let dir: string;
  let agent: Agent;
  let deps: SendDeps;
  let logs: LogOperation[];
  let refreshes: number;

  beforeAll(async () => {
    upstream = await startUpstream();
    dir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-send-'));
    const providersFile = path.join(dir, 'providers.yaml');
    writeFileSync(
      providersFile,
      YAML.stringify({
        acme: {
          display_name: 'Acme',
          auth_mode: 'OAUTH2',
          authorization_url: 'https://acme.example/oauth/authorize',
          token_url: 'https://acme.example/oauth/token',
          proxy: {
            base_url: `${upstream.url}/v1`,
            headers: { 'x-acme-token': '${accessToken}' },
            query: { account: '${connectionConfig.account}', access_token: '${accessToken}' },
          },
        },
      }),
    );
    const catalog = loadCatalog(providersFile);
    let current = connectionWith(TOKEN);
    const store = {
      integrations: { getByKey: async (key: string) => (key === integration.uniqueKey ? integration : undefined) },
      connections: { get: async (key: string, id: string) => (key === current.providerConfigKey && id === current.connectionId ? current : undefined) },
    } as unknown as Store;
    const credentials: CredentialsManager = {
      needsRefresh: () => false,
      canRefresh: () => true,
      fresh: async (connection, { force }) => {
        if (!force) return connection;
        refreshes++;
        current = connectionWith(FRESH_TOKEN);
        return current;
      },
    };
    agent = new Agent();
    const logWriter: LogWriter = {
      write: (operation) => void logs.push(operation),
      flush: async () => undefined,
      start: () => undefined,
      stop: async () => undefined,
      dropped: 0,
    };
    deps = {
      dispatcher: agent,
      targets: frozenTargets(createTargetResolver({ store, catalog, credentials })),
      pacer: createPacer({ maxEntries: 100, maxQueuePerConnection: 10 }),
      logs: logWriter,
      allowPrivateEgress: true,
      maxWaitMs: 5000,
      baseBackoffMs: BASE_BACKOFF_MS,
      maxBackoffMs: 1000,
      rateLimitRetries: 3,
      defaultConcurrency: 8,
      headersTimeoutMs: 5000,
      bodyTimeoutMs: 5000,
      now: () => NOW,
      random: () => 0,
    };
  });

  beforeEach(() => {
    upstream.clear();
    logs = [];
    refreshes = 0;
    // Each test starts with the first token and no pacing state.
    deps.targets.invalidate('acme-key', 'c1');
    deps.pacer.reset('');
  });

  afterAll(async () => {
    await agent?.close();
    await upstream?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const call = (overrides: Partial<ProxyCall> = {}, options: Partial<ProxyCall['options']> = {}): ProxyCall => ({
    method: 'get',
    endpoint: '/items?x=1',
    headers: { 'x-caller': 'yes' },
    providerConfigKey: 'acme-key',
    connectionId: 'c1',
    options: { retries: 0, retryOn: [], decompress: false, ...options },
    ...overrides,
  });

  it('builds the URL from the base, the endpoint and the provider query, and injects the credentials', async () => {
    const result = await sendCall(deps, call({ logParentId: 'run-1' }));
    const body = JSON.parse((await readBody(result)).toString('utf8')) as { method: string; path: string; query: Record<string, string>; headers: Record<string, string> };
    expect(result.status).toBe(200);
    expect(upstream.requests[0]?.url).toBe(`/v1/items?x=1&account=team%207&access_token=${TOKEN}`);
    expect(body.method).toBe('GET');
    expect(body.headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, 'x-acme-token': TOKEN, 'x-caller': 'yes' });
    expect(result.attempts).toEqual([{ attempt: 0, status: 200, error: null, durationMs: 0, waitedMs: 0 }]);

    // One log operation, its URL redacted; a success keeps no headers.
    expect(logs).toEqual([
      {
        id: result.logId,
        parentId: 'run-1',
        type: 'proxy',
        action: 'call',
        state: 'success',
        level: 'info',
        integrationKey: 'acme-key',
        connectionId: 'c1',
        method: 'GET',
        url: `${upstream.url}/v1/items?x=1&account=team%207&access_token=${REDACTED}`,
        status: 200,
        error: null,
        attempts: result.attempts,
        request: null,
        response: null,
        messages: [],
        startedAt: new Date(NOW),
        endedAt: new Date(NOW),
        durationMs: 0,
      },
    ]);
  });

  it('logs a failed answer with its request and response headers, every secret redacted', async () => {
    upstream.script(reply(500, { error: 'boom' }, { 'x-echo-token': TOKEN }));
    const result = await sendCall(deps, call());
    await readBody(result);
    expect(result.status).toBe(500);
    const [log] = logs;
    expect(log).toMatchObject({ state: 'failed', level: 'error', status: 500, error: null });
    expect(log?.url).not.toContain(TOKEN);
    expect(log?.request).toEqual({ headers: { authorization: REDACTED, 'x-acme-token': REDACTED, 'x-caller': 'yes' } });
    expect(log?.response?.headers).toMatchObject({ 'x-echo-token': REDACTED, 'content-type': 'application/json' });
    expect(JSON.stringify(log)).not.toContain(TOKEN);
  });

  it('answers a 401 with one forced refresh and one more try with the new token', async () => {
    upstream.script(reply(401, { error: 'expired' }));
    const result = await sendCall(deps, call());
    await readBody(result);
    expect(result.status).toBe(200);
    expect(refreshes).toBe(1);
    expect(upstream.requests.map((request) => request.headers.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${FRESH_TOKEN}`]);
    expect(upstream.requests[1]?.url).toContain(`access_token=${FRESH_TOKEN}`);
    expect(result.attempts.map(({ status, waitedMs }) => [status, waitedMs])).toEqual([
      [401, 0],
      [200, 0],
    ]);
    // Redacted with the secrets of the target the call ended with.
    expect(logs[0]?.url).toContain(`access_token=${REDACTED}`);
  });

  it('refreshes once only: a second 401 is the answer', async () => {
    upstream.script(reply(401), reply(401, { error: 'still no' }));
    const result = await sendCall(deps, call({}, { retries: 3 }));
    expect(JSON.parse((await readBody(result)).toString('utf8'))).toEqual({ error: 'still no' });
    expect(result.status).toBe(401);
    expect(refreshes).toBe(1);
    expect(upstream.requests).toHaveLength(2);
    expect(logs[0]).toMatchObject({ state: 'failed', level: 'warn', status: 401 });
  });

  it('retries 5xx with the exponential backoff, waiting each wait for real', async () => {
    upstream.script(reply(500), reply(502), reply(503));
    const started = performance.now();
    const result = await sendCall(deps, call({}, { retries: 3 }));
    await readBody(result);
    const elapsed = performance.now() - started;
    expect(result.status).toBe(200);
    // Jitter 0: half of 40, 80 and 160 ms.
    expect(result.attempts.map(({ status, waitedMs }) => [status, waitedMs])).toEqual([
      [500, 0],
      [502, BASE_BACKOFF_MS / 2],
      [503, BASE_BACKOFF_MS],
      [200, BASE_BACKOFF_MS * 2],
    ]);
    expect(elapsed).toBeGreaterThanOrEqual(BASE_BACKOFF_MS * 3.5 - 5);
  });

  it('stops retrying 5xx after `retries` and answers the last one', async () => {
    upstream.script(reply(503, { n: 1 }), reply(503, { n: 2 }));
    const result = await sendCall(deps, call({}, { retries: 1 }));
    expect(JSON.parse((await readBody(result)).toString('utf8'))).toEqual({ n: 2 });
    expect(result.attempts).toHaveLength(2);
  });

  it('waits out a 429 Retry-After given as an HTTP-date, even with no retries asked', async () => {
    upstream.script(reply(429, {}, { 'retry-after': new Date(NOW + 250).toUTCString() }));
    const started = performance.now();
    const result = await sendCall(deps, call());
    await readBody(result);
    expect(result.status).toBe(200);
    expect(result.attempts.map(({ status, waitedMs }) => [status, waitedMs])).toEqual([
      [429, 0],
      [200, 250],
    ]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(245);
  });

  it('waits out a 429 Retry-After in seconds (and the pacer holds the connection as long)', async () => {
    upstream.script(reply(429, {}, { 'retry-after': '1' }));
    const started = performance.now();
    const result = await sendCall(deps, call());
    await readBody(result);
    expect(result.status).toBe(200);
    expect(result.attempts[1]?.waitedMs).toBeGreaterThanOrEqual(1000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(995);
  });

  it('fails with rate_limited, and logs it, when a 429 asks for more than the maximum wait', async () => {
    upstream.script(reply(429, {}, { 'retry-after': '60' }));
    await expect(sendCall(deps, call())).rejects.toMatchObject({ code: 'rate_limited', fields: { retry_after_ms: 60_000 } });
    expect(upstream.requests).toHaveLength(1);
    expect(logs[0]).toMatchObject({ state: 'failed', level: 'error', status: null, error: { code: 'rate_limited' } });
    expect(logs[0]?.request).toEqual({ headers: { authorization: REDACTED, 'x-acme-token': REDACTED, 'x-caller': 'yes' } });
    expect(deps.pacer.inspect(pacePrefixOf('acme-key', 'c1'))[0]).toMatchObject({ inFlight: 0 });
  });

  it('decompresses a gzip body when asked, with headers that match the bytes', async () => {
    upstream.script(gzipped('hello, gzip'));
    const result = await sendCall(deps, call({}, { decompress: true }));
    expect((await readBody(result)).toString('utf8')).toBe('hello, gzip');
    expect(result.headers['content-encoding']).toBeUndefined();
    expect(result.headers['content-length']).toBeUndefined();
    expect(result.headers['content-type']).toBe('text/plain');
  });

  it('passes a gzip body through as is when not asked to decompress', async () => {
    upstream.script(gzipped('hello, gzip'));
    const result = await sendCall(deps, call());
    expect(zlib.gunzipSync(await readBody(result)).toString('utf8')).toBe('hello, gzip');
    expect(result.headers['content-encoding']).toBe('gzip');
  });

  it('passes an unknown encoding through, Object.prototype names included, and frees the slot', async () => {
    for (const encoding of ['constructor', '__proto__', 'toString']) {
      upstream.script((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': encoding, 'content-length': 5 });
        res.end('plain');
      });
      const result = await sendCall(deps, call({}, { decompress: true }));
      expect((await readBody(result)).toString('utf8'), encoding).toBe('plain');
      expect(result.headers['content-encoding']).toBe(encoding);
    }
    expect(deps.pacer.inspect(pacePrefixOf('acme-key', 'c1'))).toEqual([expect.objectContaining({ inFlight: 0 })]);
  });

  it('sends a Base-Url-Override call to the override, paced under its own host key', async () => {
    upstream.setFallback(echo());
    const viaBase = await sendCall(deps, call());
    await readBody(viaBase);
    const viaOverride = await sendCall(deps, call({}, { baseUrlOverride: `${upstream.url}/v2` }));
    await readBody(viaOverride);
    expect(upstream.requests.map((request) => request.path)).toEqual(['/v1/items', '/v2/items']);
    // Both reach 127.0.0.1: one pacing key, no call left holding a slot.
    expect(deps.pacer.inspect(pacePrefixOf('acme-key', 'c1'))).toEqual([expect.objectContaining({ inFlight: 0 })]);
  });

  it('logs a call that fails before any attempt (unknown connection) with the endpoint as its URL', async () => {
    await expect(sendCall(deps, call({ connectionId: 'nobody', endpoint: '/who' }))).rejects.toMatchObject({ code: 'unknown_connection' });
    expect(logs).toEqual([expect.objectContaining({ connectionId: 'nobody', url: '/who', status: null, state: 'failed', level: 'error', error: expect.objectContaining({ code: 'unknown_connection' }), attempts: [], request: { headers: {} }, response: null })]);
  });
});
