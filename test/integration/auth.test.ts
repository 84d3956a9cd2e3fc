import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';

describe('secret-key authentication', () => {
  let patchbay: TestPatchbay;
  beforeAll(async () => {
    patchbay = await startPatchbay({ label: 'auth' });
  });
  afterAll(() => patchbay?.stop());

  it('answers 401 missing_auth_header without an Authorization header', async () => {
    const res = await patchbay.request('GET', '/connections', { auth: false });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('missing_auth_header');
  });

  it('answers 401 malformed_auth_header for a non-Bearer header', async () => {
    const res = await patchbay.request('GET', '/integrations', { auth: false, headers: { authorization: 'Basic abc' } });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('malformed_auth_header');
  });

  it('answers 401 unknown_account for a wrong key', async () => {
    const res = await patchbay.request('GET', '/integrations', { auth: '00000000-0000-4000-8000-000000000000' });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: { code: 'unknown_account', message: expect.any(String) } });
  });

  it('lets the right key through', async () => {
    const res = await patchbay.request('GET', '/integrations');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ data: [] });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await patchbay.request('GET', '/nope');
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('not_found');
  });

  it('serves /health without a key', async () => {
    const res = await patchbay.request('GET', '/health', { auth: false });
    expect(res.status).toBe(200);
  });
});
