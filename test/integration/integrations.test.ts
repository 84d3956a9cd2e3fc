import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';

describe('integrations API', () => {
  let patchbay: TestPatchbay;
  beforeAll(async () => {
    patchbay = await startPatchbay({
      label: 'integrations',
      providers: { 'acme-internal': { display_name: 'Acme Internal', auth_mode: 'API_KEY', proxy: { base_url: 'https://acme.internal', headers: { 'x-api-key': '${apiKey}' } } } },
    });
  });
  afterAll(() => patchbay?.stop());

  it('creates, reads, lists, renames and deletes an integration', async () => {
    const created = await patchbay.request('POST', '/integrations', {
      body: { provider: 'github', unique_key: 'github-prod', credentials: { type: 'OAUTH2', client_id: 'cid', client_secret: 'csecret', scopes: 'repo,user' } },
    });
    expect(created.status).toBe(200);
    expect(created.json.data).toMatchObject({ unique_key: 'github-prod', provider: 'github', display_name: 'GitHub', forward_webhooks: true });
    expect(created.json.data.credentials).toBeUndefined();

    const read = await patchbay.request('GET', '/integrations/github-prod?include=credentials');
    expect(read.json.data.credentials).toEqual({ type: 'OAUTH2', client_id: 'cid', client_secret: 'csecret', scopes: 'repo,user', webhook_secret: null });

    const list = await patchbay.request('GET', '/integrations');
    expect(list.json.data.map((i: { unique_key: string }) => i.unique_key)).toContain('github-prod');
    expect(list.json.data[0].credentials).toBeUndefined();

    const patched = await patchbay.request('PATCH', '/integrations/github-prod', { body: { unique_key: 'github-main', display_name: 'Main GitHub' } });
    expect(patched.status).toBe(200);
    expect(patched.json.data).toMatchObject({ unique_key: 'github-main', display_name: 'Main GitHub' });
    expect((await patchbay.request('GET', '/integrations/github-prod')).status).toBe(404);

    const deleted = await patchbay.request('DELETE', '/integrations/github-main');
    expect(deleted.json).toEqual({ success: true });
    const again = await patchbay.request('DELETE', '/integrations/github-main');
    expect(again.status).toBe(404);
    expect(again.json.error).toMatchObject({ code: 'not_found', message: 'Integration does not exist' });
  });

  it('accepts providers added by PATCHBAY_PROVIDERS_FILE', async () => {
    const res = await patchbay.request('POST', '/integrations', { body: { provider: 'acme-internal', unique_key: 'acme' } });
    expect(res.status).toBe(200);
    expect(res.json.data.display_name).toBe('Acme Internal');
  });

  it('refuses a duplicate unique_key with invalid_body', async () => {
    await patchbay.request('POST', '/integrations', { body: { provider: 'slack', unique_key: 'dup' } });
    const res = await patchbay.request('POST', '/integrations', { body: { provider: 'slack', unique_key: 'dup' } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_body');
    expect(res.json.error.errors).toEqual([expect.objectContaining({ message: 'uniqueKey is already used', path: ['unique_key'] })]);
  });

  it.each([
    [{ provider: 'nope', unique_key: 'x1' }, ['provider']],
    [{ provider: 'github', unique_key: 'bad key!' }, ['unique_key']],
    [{ provider: 'github', unique_key: 'x2', surprise: 1 }, []],
    [{ provider: 'github', unique_key: 'x3', credentials: { type: 'OAUTH2', client_id: 'a' } }, ['credentials', 'client_secret']],
    [{ provider: 'github', unique_key: 'x4', credentials: { type: 'OAUTH1', client_id: 'a', client_secret: 'b' } }, ['credentials', 'type']],
  ])('answers 400 invalid_body naming the field for %j', async (body, path) => {
    const res = await patchbay.request('POST', '/integrations', { body });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_body');
    expect(res.json.error.errors[0].path).toEqual(path);
  });

  it('answers malformed JSON with invalid_body, not a stack trace', async () => {
    const res = await patchbay.request('POST', '/integrations', { body: '{"provider": "github",', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_body');
    expect(res.text).not.toMatch(/at .*\.js:\d+/);
  });

  it('refuses prototype poisoning', async () => {
    const res = await patchbay.request('POST', '/integrations', { body: '{"provider":"github","unique_key":"p","__proto__":{"x":1}}' });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_body');
  });
});
