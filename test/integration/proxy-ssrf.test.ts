import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

describe('proxy: the endpoint can never change the upstream host', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  const headers = { 'provider-config-key': 'github', 'connection-id': 'c1' };

  beforeAll(async () => {
    upstream = await startUpstream();
    patchbay = await startPatchbay({ label: 'proxy-ssrf', providers: { github: { proxy: { base_url: `${upstream.url}/api` } } } });
    await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } });
    await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'github', connection_id: 'c1', credentials: { type: 'OAUTH2', access_token: 'secret-token-xyz' } },
    });
  });
  beforeEach(() => upstream.clear());
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
  });

  it.each([
    '/http://evil.example/steal',
    '/https:%2F%2Fevil.example',
    '/../admin',
    '/repos/../../admin',
    '/%2e%2e/admin',
    '/%252e%252e/admin',
    '/repos/%2E%2E%2F%2E%2E%2Fadmin',
    '/a\\..\\b',
  ])('refuses %s with 400 invalid_endpoint and sends nothing', async (endpoint) => {
    const res = await patchbay.request('GET', `/proxy${endpoint}`, { headers });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_endpoint');
    expect(upstream.requests).toHaveLength(0);
  });

  it.each(['//evil.example/steal', '///evil.example', '/@evil.example/x'])('keeps %s on the provider host', async (endpoint) => {
    const res = await patchbay.request('GET', `/proxy${endpoint}`, { headers });
    expect(res.status).toBe(200);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]?.path.startsWith('/api/')).toBe(true);
  });
});

describe('proxy: Base-Url-Override refuses private and metadata addresses', () => {
  let patchbay: TestPatchbay;
  const headers = { 'provider-config-key': 'github', 'connection-id': 'c1' };

  beforeAll(async () => {
    // The production default: PATCHBAY_ALLOW_PRIVATE_EGRESS unset (false).
    patchbay = await startPatchbay({ label: 'proxy-ssrf-strict', env: { PATCHBAY_ALLOW_PRIVATE_EGRESS: 'false' } });
    await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } });
    await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'github', connection_id: 'c1', credentials: { type: 'OAUTH2', access_token: 'secret-token-xyz' } },
    });
  });
  afterAll(() => patchbay?.stop());

  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://127.0.0.1:22/',
    'http://localhost:5432/',
    'http://10.0.0.5/',
    'http://192.168.1.1/',
    'http://172.16.0.1/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[fd00::1]/',
    'http://0.0.0.0/',
  ])('refuses %s with 400 base_url_override_not_allowed', async (override) => {
    const res = await patchbay.request('GET', '/proxy/x', { headers: { ...headers, 'base-url-override': override } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('base_url_override_not_allowed');
  });

  it('refuses a public name that resolves to a private address (checked at DNS time)', async () => {
    // localtest.me-style names are not reachable here; "localhost." with a trailing dot is a name
    // that skips the literal check and must be refused by the resolver guard.
    const res = await patchbay.request('GET', '/proxy/x', { headers: { ...headers, 'base-url-override': 'http://localhost./' } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(['base_url_override_not_allowed', 'egress_denied']).toContain(res.json.error.code);
  });

  it('refuses a non-http override as invalid_headers', async () => {
    const res = await patchbay.request('GET', '/proxy/x', { headers: { ...headers, 'base-url-override': 'file:///etc/passwd' } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_headers');
  });
});
