// Integrations: GET /integrations, a provider picker over GET /providers (search by name, filter
// by auth mode, paged on the server), create (POST), edit (PATCH) and delete (DELETE). A client
// secret is typed, sent and never shown back: the page reads an outline of the credentials.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, toQuery } from './api.js';
import { formatTime } from './format.js';
import { hrefOf, navigate } from './router.js';
import { ConfirmButton, LoadOlder, useCursorList } from './widgets.js';

const PICKER_PAGE = 12;
const SEARCH_DEBOUNCE_MS = 200;
const AUTH_MODES = ['OAUTH2', 'OAUTH2_CC', 'OAUTH1', 'API_KEY', 'BASIC', 'APP', 'TBA', 'NONE'];
/** Auth modes whose integration holds an OAuth client (the others keep their secrets per connection). */
const CLIENT_MODES = new Set(['OAUTH2', 'OAUTH1', 'TBA']);

const PAGE_SIZE = 50;

export function IntegrationsPage() {
  const list = useCursorList((cursor) => api(`/integrations${toQuery({ limit: PAGE_SIZE, cursor })}`), 'integrations');
  return html`
    <section>
      <div class="page-head"><h1>Integrations</h1><a class="button primary" href="#/integrations/new">New integration</a></div>
      ${list.error && html`<p class="banner bad" role="alert">${list.error}</p>`}
      <div class="card table-card">
        <table aria-label="Integrations">
          <thead><tr><th>Unique key</th><th>Name</th><th>Provider</th><th>Functions read credentials</th><th>Created</th></tr></thead>
          <tbody>${list.items.map((i) => html`
            <tr key=${i.unique_key}>
              <td class="mono"><a href=${hrefOf(['integrations', i.unique_key])}>${i.unique_key}</a></td>
              <td>${i.display_name}</td>
              <td><span class="tag">${i.provider}</span></td>
              <td>${i.functions_can_read_credentials ? 'yes' : 'no'}</td>
              <td class="nowrap">${formatTime(i.created_at)}</td>
            </tr>`)}</tbody>
        </table>
        ${!list.loading && !list.error && list.items.length === 0 && html`<p class="empty">No integration yet. Create one to connect accounts.</p>`}
        <${LoadOlder} list=${list} label="Load more" />
      </div>
    </section>`;
}

function ProviderPicker({ selected, onSelect }) {
  const [search, setSearch] = useState('');
  const [authMode, setAuthMode] = useState('');
  const [page, setPage] = useState(0);
  const [result, setResult] = useState({ data: [], total: 0 });
  useEffect(() => {
    let stopped = false;
    const timer = setTimeout(() => {
      api(`/providers${toQuery({ search, auth_mode: authMode, limit: PICKER_PAGE, page })}`).then((r) => !stopped && setResult(r), () => undefined);
    }, SEARCH_DEBOUNCE_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [search, authMode, page]);
  const pages = Math.max(1, Math.ceil(result.total / PICKER_PAGE));
  return html`
    <fieldset class="picker">
      <legend>Provider</legend>
      <div class="filters">
        <label class="grow">Search providers<input type="search" value=${search} maxlength="255" placeholder="GitHub, Slack, Notion…" onInput=${(e) => (setSearch(e.currentTarget.value), setPage(0))} /></label>
        <label>Auth mode<select value=${authMode} onChange=${(e) => (setAuthMode(e.currentTarget.value), setPage(0))}>
          <option value="">any</option>${AUTH_MODES.map((m) => html`<option value=${m}>${m}</option>`)}
        </select></label>
      </div>
      <ul class="provider-grid" role="listbox" aria-label="Providers">
        ${result.data.map((p) => html`
          <li key=${p.name} role="option" aria-selected=${selected?.name === p.name} class=${selected?.name === p.name ? 'selected' : ''}
            tabindex="0" onClick=${() => onSelect(p)} onKeyDown=${(e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), onSelect(p))}>
            <strong>${p.display_name}</strong><span class="mono muted">${p.name}</span><span class="tag">${p.auth_mode}</span>
          </li>`)}
      </ul>
      ${result.total === 0 && html`<p class="empty">No provider matches.</p>`}
      <div class="pager">
        <button type="button" disabled=${page === 0} onClick=${() => setPage(page - 1)}>Previous</button>
        <span class="muted">${result.total} providers · page ${page + 1} of ${pages}</span>
        <button type="button" disabled=${page + 1 >= pages} onClick=${() => setPage(page + 1)}>Next</button>
      </div>
    </fieldset>`;
}

/** Client id, secret and scopes: the secret field is always empty (it is never read back). */
function ClientFields({ outline }) {
  return html`
    <div class="form-grid">
      <label>Client ID<input name="client_id" maxlength="4096" autocomplete="off" value=${outline?.client_id ?? ''} /></label>
      <label>Client secret<input name="client_secret" type="password" maxlength="4096" autocomplete="new-password"
        placeholder=${outline?.client_secret_set ? 'Set — type a new one to replace it' : ''} /></label>
      <label class="wide">Scopes<input name="scopes" maxlength="4096" placeholder="comma-separated" value=${outline?.scopes ?? ''} /></label>
    </div>`;
}

function readForm(form) {
  const data = new FormData(form);
  const value = (name) => String(data.get(name) ?? '').trim();
  return { value, checked: (name) => data.get(name) === 'on' };
}

export function NewIntegrationPage() {
  const [provider, setProvider] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const { value, checked } = readForm(event.currentTarget);
    const body = { provider: provider.name, unique_key: value('unique_key') || provider.name, functions_can_read_credentials: checked('functions_can_read_credentials') };
    if (value('display_name') !== '') body.display_name = value('display_name');
    if (CLIENT_MODES.has(provider.auth_mode) && (value('client_id') !== '' || value('client_secret') !== '')) {
      body.credentials = { type: provider.auth_mode, client_id: value('client_id'), client_secret: value('client_secret'), ...(value('scopes') ? { scopes: value('scopes') } : {}) };
    }
    setBusy(true);
    setError(null);
    try {
      const created = await api('/integrations', { method: 'POST', body });
      navigate(['integrations', created.data.unique_key], {});
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section>
      <a class="back" href="#/integrations">← Integrations</a>
      <div class="page-head"><h1>New integration</h1></div>
      <form class="card stack" onSubmit=${submit}>
        <${ProviderPicker} selected=${provider} onSelect=${setProvider} />
        ${provider && html`
          <p>Provider: <strong>${provider.display_name}</strong> <span class="tag">${provider.auth_mode}</span>
            ${provider.docs && html` · <a href=${provider.docs} target="_blank" rel="noopener noreferrer">docs</a>`}</p>
          <div class="form-grid">
            <label>Unique key<input name="unique_key" required maxlength="255" pattern="[a-zA-Z0-9~:.@ _\\-]+" value=${provider.name} /></label>
            <label>Display name<input name="display_name" maxlength="255" placeholder=${provider.display_name} /></label>
          </div>
          ${CLIENT_MODES.has(provider.auth_mode) ? html`<${ClientFields} />` : html`<p class="muted">${provider.auth_mode} keeps its credentials on each connection: nothing to set here.</p>`}
          <label class="check"><input type="checkbox" name="functions_can_read_credentials" /> Functions may read this integration's connection credentials</label>`}
        ${error && html`<p class="form-error" role="alert">${error}</p>`}
        <div class="row"><button class="primary" type="submit" disabled=${provider === null || busy}>Create integration</button></div>
      </form>
    </section>`;
}

export function IntegrationPage({ uniqueKey }) {
  const [integration, setIntegration] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [providerMode, setProviderMode] = useState(null);
  const load = () => api(`/integrations/${encodeURIComponent(uniqueKey)}?include=credentials`).then((r) => setIntegration(r.data), (e) => setError(e.message));
  useEffect(() => {
    setIntegration(null);
    load();
  }, [uniqueKey]);
  useEffect(() => {
    if (integration === null) return;
    api(`/providers${toQuery({ search: integration.provider, limit: 50 })}`).then((r) => setProviderMode(r.data.find((p) => p.name === integration.provider)?.auth_mode ?? null), () => undefined);
  }, [integration?.provider]);
  if (error && integration === null) return html`<p class="banner bad" role="alert">${error}</p>`;
  if (integration === null) return html`<div class="loading" aria-busy="true">Loading…</div>`;
  const outline = integration.credentials;
  const submit = async (event) => {
    event.preventDefault();
    const { value, checked } = readForm(event.currentTarget);
    const body = { display_name: value('display_name') || undefined, functions_can_read_credentials: checked('functions_can_read_credentials') };
    const mode = outline?.type ?? providerMode;
    if (CLIENT_MODES.has(mode)) {
      const changed = value('client_id') !== (outline?.client_id ?? '') || value('scopes') !== (outline?.scopes ?? '');
      if (value('client_secret') !== '') body.credentials = { type: mode, client_id: value('client_id'), client_secret: value('client_secret'), ...(value('scopes') ? { scopes: value('scopes') } : {}) };
      else if (changed) return setNotice({ error: 'Type the client secret again to change the client ID or scopes.' });
    }
    setNotice(null);
    try {
      const updated = await api(`/integrations/${encodeURIComponent(uniqueKey)}`, { method: 'PATCH', body });
      setNotice({ saved: true });
      await load();
      if (updated.data.unique_key !== uniqueKey) navigate(['integrations', updated.data.unique_key], {});
    } catch (e) {
      setNotice({ error: e.message });
    }
  };
  const remove = async () => {
    await api(`/integrations/${encodeURIComponent(uniqueKey)}`, { method: 'DELETE' });
    navigate(['integrations'], {});
  };
  return html`
    <section>
      <a class="back" href="#/integrations">← Integrations</a>
      <div class="page-head"><h1 class="mono">${integration.unique_key}</h1><span class="tag">${integration.provider}</span></div>
      <form class="card stack" onSubmit=${submit} key=${integration.updated_at}>
        <div class="form-grid">
          <label>Display name<input name="display_name" maxlength="255" value=${integration.display_name} /></label>
        </div>
        ${CLIENT_MODES.has(outline?.type ?? providerMode) && html`<h2>OAuth client</h2><${ClientFields} outline=${outline} />`}
        <label class="check"><input type="checkbox" name="functions_can_read_credentials" checked=${integration.functions_can_read_credentials} /> Functions may read this integration's connection credentials</label>
        <div class="row">
          <button class="primary" type="submit">Save changes</button>
          ${notice?.saved && html`<span class="ok-text" role="status">Saved</span>`}
          ${notice?.error && html`<span class="form-error" role="alert">${notice.error}</span>`}
        </div>
      </form>
      <div class="card">
        <div class="card-head"><h2>Connections</h2><a href=${hrefOf(['connections'], { integration: integration.unique_key })}>Its connections →</a></div>
        <p class="muted">Created ${new Date(integration.created_at).toLocaleString()}, updated ${new Date(integration.updated_at).toLocaleString()}.</p>
      </div>
      <div class="card danger-zone">
        <h2>Delete</h2>
        <p class="muted">Deleting the integration deletes its connections and their credentials.</p>
        <${ConfirmButton} label="Delete integration" question=${`Delete ${integration.unique_key} and all its connections?`} onConfirm=${remove} />
      </div>
    </section>`;
}
