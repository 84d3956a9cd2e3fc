// The dashboard's door, over plain HTTP: the page's security headers, the secret key traded for
// a session cookie, the cookie authenticating API calls (with its CSRF header), logout revoking
// it on the server, and repeated wrong keys slowed down, per client address behind a reverse
// proxy only when PATCHBAY_TRUST_PROXY says whose X-Forwarded-For to believe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join('\n') : (value ?? ''));

describe('dashboard sessions', () => {
  let patchbay: TestPatchbay;

  beforeAll(async () => {
    patchbay = await startPatchbay({ label: 'dashboard-auth' });
  });
  afterAll(async () => {
    await patchbay?.stop();
  });

  /** Logs in from `address` (X-Forwarded-For is not trusted: every test client is 127.0.0.1). */
  const login = (key: string) => patchbay.request('POST', '/dashboard/login', { auth: false, body: { secret_key: key } });
  const session = async () => {
    const res = await login(patchbay.secretKey);
    expect(res.status).toBe(200);
    const cookie = header(res.headers['set-cookie']).split(';')[0] as string;
    return { cookie, csrf: res.json.csrf_token as string };
  };

  it('serves the page with a strict CSP: no inline script at all, never framed', async () => {
    const res = await patchbay.request('GET', '/', { auth: false });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = header(res.headers['content-security-policy']);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers['x-frame-options']).toBe('DENY');
    // Every script tag loads a file; none has a body.
    expect(res.text.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull();
    const src = /<script type="module" src="([^"]+)"><\/script>/.exec(res.text)?.[1];
    expect(src).toBe('/dashboard/ui/app.bundle.js');
    // The bundled script (Preact included, nothing fetched from elsewhere) carries the same policy.
    const app = await patchbay.request('GET', src as string, { auth: false });
    expect(app.status).toBe(200);
    expect(header(app.headers['content-type'])).toContain('text/javascript');
    expect(header(app.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
    expect(app.text).not.toMatch(/\bfrom\s*["'](preact|htm)/);
    expect(app.text).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    // The modules are not served one by one.
    expect((await patchbay.request('GET', '/dashboard/ui/app.js', { auth: false })).status).toBe(404);
  });

  it('leaves the Connect UI frameable', async () => {
    const res = await patchbay.request('GET', '/connect/', { auth: false });
    expect(res.status).toBe(200);
    expect(header(res.headers['content-security-policy'])).toContain('frame-ancestors *');
    expect(res.headers['x-frame-options']).toBeUndefined();
  });

  it('refuses a wrong key with a message and no cookie', async () => {
    const res = await login('definitely-not-the-key-0000');
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('unknown_account');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.text).not.toContain(patchbay.secretKey);
  });

  it('trades the right key for a signed, HttpOnly, SameSite=Strict, expiring cookie that is not the key', async () => {
    const res = await login(patchbay.secretKey);
    expect(res.status).toBe(200);
    const cookie = header(res.headers['set-cookie']);
    expect(cookie).toMatch(/^patchbay_session=[A-Za-z0-9_-]{43}\.[^;]+;/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Max-Age=43200/);
    expect(cookie).toMatch(/; Path=\//);
    // Served over plain http here: a Secure cookie would never come back.
    expect(cookie).not.toMatch(/; Secure/);
    expect(cookie).not.toContain(patchbay.secretKey);
    expect(res.text).not.toContain(patchbay.secretKey);
    expect(res.json.csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('authenticates API calls with the cookie, and state-changing ones only with the CSRF header', async () => {
    const { cookie, csrf } = await session();
    const list = await patchbay.request('GET', '/connections', { auth: false, headers: { cookie } });
    expect(list.status).toBe(200);

    const body = { provider: 'github', unique_key: 'csrf-check' };
    const forged = await patchbay.request('POST', '/integrations', { auth: false, headers: { cookie }, body });
    expect(forged.status).toBe(403);
    expect(forged.json.error.code).toBe('csrf_check_failed');
    const wrongToken = await patchbay.request('POST', '/integrations', { auth: false, headers: { cookie, 'x-patchbay-csrf': `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}` }, body });
    expect(wrongToken.status).toBe(403);
    const crossSite = await patchbay.request('POST', '/integrations', { auth: false, headers: { cookie, 'x-patchbay-csrf': csrf, 'sec-fetch-site': 'cross-site' }, body });
    expect(crossSite.status).toBe(403);
    expect((await patchbay.request('GET', '/integrations/csrf-check')).status).toBe(404);

    const made = await patchbay.request('POST', '/integrations', { auth: false, headers: { cookie, 'x-patchbay-csrf': csrf }, body });
    expect(made.status).toBe(200);
  });

  it('refuses a cookie that was tampered with', async () => {
    const { cookie } = await session();
    const [name, value] = cookie.split('=') as [string, string];
    const tampered = `${name}=${value.startsWith('A') ? 'B' : 'A'}${value.slice(1)}`;
    const res = await patchbay.request('GET', '/connections', { auth: false, headers: { cookie: tampered } });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('invalid_session');
  });

  it('logout revokes the session on the server: the old cookie authenticates nothing', async () => {
    const { cookie, csrf } = await session();
    const out = await patchbay.request('POST', '/dashboard/logout', { auth: false, headers: { cookie, 'x-patchbay-csrf': csrf } });
    expect(out.status).toBe(200);
    expect(header(out.headers['set-cookie'])).toMatch(/^patchbay_session=; Max-Age=0/);
    // A client that kept the cookie (not the browser, which dropped it) gets nowhere.
    const after = await patchbay.request('GET', '/connections', { auth: false, headers: { cookie } });
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('invalid_session');
    expect((await patchbay.request('GET', '/dashboard/session', { auth: false, headers: { cookie } })).status).toBe(401);
  });

  it('a forged logout (no CSRF header) ends nothing', async () => {
    const { cookie } = await session();
    expect((await patchbay.request('POST', '/dashboard/logout', { auth: false, headers: { cookie } })).status).toBe(403);
    expect((await patchbay.request('GET', '/connections', { auth: false, headers: { cookie } })).status).toBe(200);
  });

  it('slows down repeated wrong keys from one address, even when the right key comes next', async () => {
    let locked: Awaited<ReturnType<typeof login>> | undefined;
    for (let attempt = 0; attempt < 10 && locked === undefined; attempt++) {
      const res = await login(`wrong-key-number-${attempt}-000000`);
      if (res.status === 429) locked = res;
      else expect(res.status).toBe(401);
    }
    expect(locked?.json.error.code).toBe('too_many_login_attempts');
    expect(locked?.json.error.retry_after_ms).toBeGreaterThan(0);
    expect(Number(locked?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // While locked, even the right key is not looked at: guessing gains nothing.
    const right = await login(patchbay.secretKey);
    expect(right.status).toBe(429);
    expect(right.headers['set-cookie']).toBeUndefined();
  });
});

describe('the login throttle behind a reverse proxy', () => {
  let direct: TestPatchbay;
  let proxied: TestPatchbay;

  beforeAll(async () => {
    // Off (the default): X-Forwarded-For is anyone's to write. On: the test client (127.0.0.1) is the proxy.
    [direct, proxied] = await Promise.all([
      startPatchbay({ label: 'dashboard-auth-direct' }),
      startPatchbay({ label: 'dashboard-auth-proxied', env: { PATCHBAY_TRUST_PROXY: '127.0.0.1' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([direct?.stop(), proxied?.stop()]);
  });

  const loginAs = (patchbay: TestPatchbay, forwardedFor: string, key: string) =>
    patchbay.request('POST', '/dashboard/login', { auth: false, headers: { 'x-forwarded-for': forwardedFor }, body: { secret_key: key } });
  /** Wrong keys from `forwardedFor` until one is answered 429 (at most 10). */
  const lockOut = async (patchbay: TestPatchbay, forwardedFor: (attempt: number) => string) => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const res = await loginAs(patchbay, forwardedFor(attempt), `wrong-key-number-${attempt}-000000`);
      if (res.status === 429) return res;
      expect(res.status).toBe(401);
    }
    throw new Error('never throttled');
  };

  it('with PATCHBAY_TRUST_PROXY off, a new X-Forwarded-For on every try does not dodge the throttle', async () => {
    const locked = await lockOut(direct, (attempt) => `203.0.113.${attempt + 1}`);
    expect(locked.json.error.code).toBe('too_many_login_attempts');
    const right = await loginAs(direct, '198.51.100.250', direct.secretKey);
    expect([right.status, right.json.error.code]).toEqual([429, 'too_many_login_attempts']);
  });

  it('with PATCHBAY_TRUST_PROXY on, two clients behind the proxy are throttled separately', async () => {
    await lockOut(proxied, () => '203.0.113.7');
    // The locked client, even with the right key, and with an address of its choosing put in front.
    expect((await loginAs(proxied, '203.0.113.7', proxied.secretKey)).status).toBe(429);
    expect((await loginAs(proxied, '198.51.100.1, 203.0.113.7', proxied.secretKey)).status).toBe(429);
    // Another client behind the same proxy is not held back by the first one's mistakes.
    const other = await loginAs(proxied, '198.51.100.9', proxied.secretKey);
    expect(other.status).toBe(200);
    expect(other.json.csrf_token).toEqual(expect.any(String));
  });
});
