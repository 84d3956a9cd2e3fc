// The dashboard's one way to the server: the same HTTP API users call, authenticated by the
// session cookie (HttpOnly: this script never sees it) plus the CSRF token, kept in memory only.
let csrfToken = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called with no argument when the session ends (logout, expiry, revocation elsewhere). */
export function onSessionLost(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export async function api(path, { method = 'GET', body, headers: extra = {} } = {}) {
  const headers = { accept: 'application/json', ...extra };
  if (csrfToken !== null) headers['x-patchbay-csrf'] = csrfToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  const json = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, json?.error?.code ?? 'http_error', json?.error?.message ?? `The server answered ${response.status}.`);
    error.retryAfterMs = json?.error?.retry_after_ms;
    if (response.status === 401 && path !== '/dashboard/login') {
      csrfToken = null;
      for (const listener of listeners) listener();
    }
    throw error;
  }
  return json;
}

/** True when the cookie names a live session (the token for state-changing calls is kept). */
export async function resumeSession() {
  try {
    csrfToken = (await api('/dashboard/session')).csrf_token;
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return false;
    throw error;
  }
}

export async function login(secretKey) {
  csrfToken = (await api('/dashboard/login', { method: 'POST', body: { secret_key: secretKey } })).csrf_token;
}

export async function logout() {
  try {
    await api('/dashboard/logout', { method: 'POST' });
  } finally {
    csrfToken = null;
  }
}

/** A query string of the defined, non-empty values. */
export function toQuery(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
