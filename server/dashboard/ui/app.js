// The dashboard's entry: session check, login form, navigation bar and the page for the URL.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { ApiError, login, logout, onSessionLost, resumeSession } from './api.js';
import { useRoute } from './router.js';
import { OverviewPage } from './overview.js';
import { LogsPage, LogDetailPage } from './logs.js';
import { ConnectionsPage, ConnectionDetailPage } from './connections.js';
import { IntegrationsPage, IntegrationPage, NewIntegrationPage } from './integrations.js';
import { FunctionsPage } from './functions.js';
import { RunsPage, RunDetailPage } from './runs.js';
import { RecordsPage, SyncsPage } from './syncs.js';

const NAV = [
  ['overview', 'Overview'],
  ['integrations', 'Integrations'],
  ['connections', 'Connections'],
  ['logs', 'Logs'],
  ['functions', 'Functions'],
  ['runs', 'Runs'],
  ['syncs', 'Syncs'],
];

function LoginPage({ onLoggedIn }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(key);
      setKey('');
      onLoggedIn();
    } catch (failure) {
      setError(failure instanceof ApiError && failure.code === 'too_many_login_attempts'
        ? `Too many wrong keys. Try again in ${Math.max(1, Math.ceil((failure.retryAfterMs ?? 1000) / 1000))} s.`
        : failure instanceof ApiError && failure.status === 401 ? 'That key is not the secret key of this Patchbay.' : failure.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="login">
      <form class="login-card" onSubmit=${submit}>
        <div class="brand brand-large"><span class="brand-mark" aria-hidden="true"></span>Patchbay</div>
        <p class="muted">Sign in with the secret key <code>npm start</code> printed.</p>
        <label for="secret-key">Secret key</label>
        <input id="secret-key" type="password" autocomplete="current-password" required maxlength="256" value=${key} onInput=${(e) => setKey(e.currentTarget.value)} />
        ${error && html`<p class="form-error" role="alert">${error}</p>`}
        <button class="primary" type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>`;
}

function Shell({ onLoggedOut }) {
  const route = useRoute();
  const [section, ...rest] = route.segments;
  let page;
  if (section === 'logs' && rest.length > 0) page = html`<${LogDetailPage} id=${rest[0]} />`;
  else if (section === 'logs') page = html`<${LogsPage} params=${route.params} />`;
  else if (section === 'connections' && rest.length >= 2) page = html`<${ConnectionDetailPage} integration=${rest[0]} connectionId=${rest[1]} />`;
  else if (section === 'connections') page = html`<${ConnectionsPage} params=${route.params} />`;
  else if (section === 'integrations' && rest[0] === 'new') page = html`<${NewIntegrationPage} />`;
  else if (section === 'integrations' && rest.length > 0) page = html`<${IntegrationPage} uniqueKey=${rest[0]} />`;
  else if (section === 'integrations') page = html`<${IntegrationsPage} />`;
  else if (section === 'functions') page = html`<${FunctionsPage} params=${route.params} />`;
  else if (section === 'runs' && rest.length > 0) page = html`<${RunDetailPage} id=${rest[0]} />`;
  else if (section === 'runs') page = html`<${RunsPage} params=${route.params} />`;
  else if (section === 'syncs') page = html`<${SyncsPage} params=${route.params} />`;
  else if (section === 'records') page = html`<${RecordsPage} params=${route.params} />`;
  else page = html`<${OverviewPage} />`;
  // Records are browsed from the Syncs page: its link stays lit.
  const current = section === 'records' ? 'syncs' : (section ?? 'overview');
  const signOut = async () => {
    await logout().catch(() => undefined);
    onLoggedOut();
  };
  return html`
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/overview"><span class="brand-mark" aria-hidden="true"></span>Patchbay</a>
        <nav aria-label="Main">
          ${NAV.map(([id, label]) => html`<a href=${`#/${id}`} class=${current === id ? 'active' : ''} aria-current=${current === id ? 'page' : undefined}>${label}</a>`)}
        </nav>
        <button class="ghost" type="button" onClick=${signOut}>Log out</button>
      </header>
      <main class="content">${page}</main>
    </div>`;
}

function App() {
  const [state, setState] = useState('checking');
  useEffect(() => {
    resumeSession().then((ok) => setState(ok ? 'in' : 'out'), () => setState('out'));
    return onSessionLost(() => setState('out'));
  }, []);
  if (state === 'checking') return html`<div class="loading" aria-busy="true">Loading…</div>`;
  if (state === 'out') return html`<${LoginPage} onLoggedIn=${() => setState('in')} />`;
  return html`<${Shell} onLoggedOut=${() => setState('out')} />`;
}

render(html`<${App} />`, document.getElementById('app'));
