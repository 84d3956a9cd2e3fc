// Connections: GET /connections (search over ids, end users and tags; integration and refresh
// status filters; paged on the server) and a connection's page from
// GET /connections/:id/summary, which never carries a credential value: its end user, tags and
// metadata edited (PATCH /connections/:id), its syncs, recent runs and calls, and deletion
// after a confirmation.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, toQuery } from './api.js';
import { formatDuration, formatTime, statusTone } from './format.js';
import { hrefOf, navigate } from './router.js';
import { SyncStatus } from './syncs.js';
import { ConfirmButton, IntegrationLimitNote, IntegrationOptions, JsonEditor, RunState, useIntegrationChoices } from './widgets.js';

const PAGE_SIZE = 50;
// Typing pauses this long before the list is asked for again.
const SEARCH_DEBOUNCE_MS = 250;
const STATUS_LABELS = { ok: 'OK', failing: 'Refresh failing', exhausted: 'Exhausted' };

function StatusPill({ status }) {
  const tone = status === 'ok' ? 'good' : status === 'failing' ? 'warn' : 'bad';
  return html`<span class=${`pill ${tone}`}>${STATUS_LABELS[status] ?? status}</span>`;
}

function endUserOf(connection) {
  const user = connection.end_user;
  if (!user) return '—';
  return user.display_name || user.email || user.id;
}

export function ConnectionsPage({ params }) {
  const [search, setSearch] = useState(params.search ?? '');
  // The filter's choices: every integration (GET /integrations, page after page).
  const integrations = useIntegrationChoices();
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const page = Number(params.page ?? 0) || 0;
  const paramsKey = JSON.stringify(params);

  useEffect(() => setSearch(params.search ?? ''), [params.search]);
  useEffect(() => {
    let stopped = false;
    setError(null);
    const query = toQuery({ search: params.search, integrationId: params.integration, refreshStatus: params.status, limit: PAGE_SIZE, page });
    api(`/connections${query}`).then((r) => !stopped && setRows(r.connections), (e) => !stopped && setError(e.message));
    return () => {
      stopped = true;
    };
  }, [paramsKey]);

  const update = (changes) => navigate(['connections'], { ...params, page: undefined, ...changes }, { replace: true });
  useEffect(() => {
    if (search === (params.search ?? '')) return undefined;
    const timer = setTimeout(() => update({ search }), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [search]);

  return html`
    <section>
      <div class="page-head"><h1>Connections</h1></div>
      <div class="filters card">
        <label class="grow">Search<input type="search" value=${search} maxlength="255" placeholder="Connection id, end user or tag" onInput=${(e) => setSearch(e.currentTarget.value)} /></label>
        <label>Integration<select value=${params.integration ?? ''} onChange=${(e) => update({ integration: e.currentTarget.value })}>
          <option value="">all</option>
          <${IntegrationOptions} choices=${integrations} chosen=${params.integration} />
        </select></label>
        <label>Status<select value=${params.status ?? ''} onChange=${(e) => update({ status: e.currentTarget.value })}>
          <option value="">all</option>
          ${Object.entries(STATUS_LABELS).map(([value, label]) => html`<option value=${value}>${label}</option>`)}
        </select></label>
      </div>
      <${IntegrationLimitNote} choices=${integrations} />
      ${error && html`<p class="banner bad" role="alert">${error}</p>`}
      <div class="card table-card">
        <table aria-label="Connections">
          <thead><tr><th>Connection</th><th>Integration</th><th>End user</th><th>Tags</th><th>Status</th><th>Created</th></tr></thead>
          <tbody>
            ${(rows ?? []).map((c) => html`
              <tr key=${`${c.provider_config_key}/${c.connection_id}`}>
                <td class="mono"><a href=${hrefOf(['connections', c.provider_config_key, c.connection_id])}>${c.connection_id}</a></td>
                <td>${c.provider_config_key}</td>
                <td>${endUserOf(c)}</td>
                <td>${Object.entries(c.tags ?? {}).map(([k, v]) => html`<span class="tag">${k}: ${v}</span> `)}</td>
                <td><${StatusPill} status=${c.refresh_status} /></td>
                <td class="nowrap">${formatTime(c.created)}</td>
              </tr>`)}
          </tbody>
        </table>
        ${rows !== null && rows.length === 0 && html`<p class="empty">No connection matches.</p>`}
        ${rows === null && !error && html`<p class="empty" aria-busy="true">Loading…</p>`}
        <div class="pager">
          <button type="button" disabled=${page === 0} onClick=${() => navigate(['connections'], { ...params, page: page - 1 || undefined })}>Previous</button>
          <span class="muted">Page ${page + 1}</span>
          <button type="button" disabled=${rows === null || rows.length < PAGE_SIZE} onClick=${() => navigate(['connections'], { ...params, page: page + 1 })}>Next</button>
        </div>
      </div>
    </section>`;
}

/**
 * The end user's id, name and email; a PATCH replaces the end user, so its tags and organization go back as they are.
 * Uncontrolled inputs (`defaultValue`): a `value` would be written back into the field whenever the page re-renders
 * (its calls, runs and syncs arrive after it shows), wiping what was typed.
 */
function EndUserForm({ user, onSave }) {
  const [status, setStatus] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = (name) => String(form.get(name) ?? '').trim();
    setStatus({ busy: true });
    try {
      await onSave({
        id: value('id'),
        display_name: value('display_name') || null,
        email: value('email') || null,
        ...(user?.tags ? { tags: user.tags } : {}),
        ...(user?.organization ? { organization: user.organization } : {}),
      });
      setStatus({ saved: true });
    } catch (e) {
      setStatus({ error: e.message });
    }
  };
  return html`
    <form class="stack" aria-label="End user" onSubmit=${submit} onInput=${() => setStatus(null)}>
      <div class="form-grid">
        <label>End user id<input name="id" required maxlength="255" defaultValue=${user?.id ?? ''} /></label>
        <label>Name<input name="display_name" maxlength="255" defaultValue=${user?.display_name ?? ''} /></label>
        <label>Email<input name="email" type="email" maxlength="255" defaultValue=${user?.email ?? ''} /></label>
      </div>
      ${user?.organization && html`<p class="muted">Organization: ${user.organization.display_name ?? user.organization.id}</p>`}
      <div class="row">
        <button class="primary" type="submit" disabled=${status?.busy}>Save end user</button>
        ${status?.saved && html`<span class="ok-text" role="status">Saved</span>`}
        ${status?.error && html`<span class="form-error" role="alert">${status.error}</span>`}
      </div>
    </form>`;
}

export function ConnectionDetailPage({ integration, connectionId }) {
  const [connection, setConnection] = useState(null);
  const [calls, setCalls] = useState([]);
  const [runs, setRuns] = useState([]);
  const [syncs, setSyncs] = useState([]);
  const [error, setError] = useState(null);
  const key = toQuery({ provider_config_key: integration });
  const path = `/connections/${encodeURIComponent(connectionId)}`;
  const load = () => api(`${path}/summary${key}`).then(setConnection, (e) => setError(e.message));
  useEffect(() => {
    setConnection(null);
    load();
    const scope = { provider_config_key: integration, connection_id: connectionId, limit: 10 };
    api(`/logs${toQuery({ ...scope, type: 'proxy' })}`).then((r) => setCalls(r.data), () => undefined);
    api(`/runs${toQuery(scope)}`).then((r) => setRuns(r.data), () => undefined);
    api(`/sync/status${toQuery({ syncs: '*', provider_config_key: integration, connection_id: connectionId })}`).then((r) => setSyncs(r.syncs), () => undefined);
  }, [integration, connectionId]);
  if (error) return html`<p class="banner bad" role="alert">${error}</p>`;
  if (connection === null) return html`<div class="loading" aria-busy="true">Loading…</div>`;
  const user = connection.end_user;
  const saveMetadata = async (metadata) => {
    const updated = await api(`${path}${key}`, { method: 'PATCH', body: { metadata } });
    setConnection((current) => ({ ...current, metadata: updated.metadata }));
  };
  const saveEndUser = async (endUser) => {
    await api(`${path}${key}`, { method: 'PATCH', body: { end_user: endUser } });
    await load();
  };
  const saveTags = async (tags) => {
    await api(`${path}${key}`, { method: 'PATCH', body: { tags } });
    await load();
  };
  const remove = async () => {
    await api(`${path}${key}`, { method: 'DELETE' });
    navigate(['connections'], { integration });
  };
  return html`
    <section>
      <a class="back" href="#/connections">← Connections</a>
      <div class="page-head"><h1 class="mono">${connection.connection_id}</h1><${StatusPill} status=${connection.refresh.status} /></div>
      <dl class="facts card" aria-label="Credentials">
        <div><dt>Integration</dt><dd><a href=${hrefOf(['integrations', connection.provider_config_key])}>${connection.provider_config_key}</a> (${connection.provider})</dd></div>
        <div><dt>Credentials</dt><dd>${connection.credentials.type}</dd></div>
        <div><dt>Expires</dt><dd>${connection.credentials.expires_at ? new Date(connection.credentials.expires_at).toLocaleString() : 'never'}</dd></div>
        <div><dt>Last refresh</dt><dd>${connection.refresh.last_success ? formatTime(connection.refresh.last_success) : '—'}</dd></div>
        <div><dt>Last refresh failure</dt><dd>${connection.refresh.last_failure ? formatTime(connection.refresh.last_failure) : '—'}</dd></div>
        <div><dt>Failed refreshes</dt><dd>${connection.refresh.attempts ?? 0}</dd></div>
        <div><dt>Created</dt><dd>${new Date(connection.created_at).toLocaleString()}</dd></div>
        <div><dt>Last read by the app</dt><dd>${connection.last_fetched_at ? formatTime(connection.last_fetched_at) : 'never'}</dd></div>
      </dl>
      <div class="two">
        <div class="card">
          <h2>End user</h2>
          ${!user && html`<p class="muted">Imported without an end user.</p>`}
          <${EndUserForm} user=${user} onSave=${saveEndUser} />
          <h2>Tags</h2>
          <p>${Object.keys(connection.tags ?? {}).length === 0 ? html`<span class="muted">none</span>` : Object.entries(connection.tags).map(([k, v]) => html`<span class="tag">${k}: ${v}</span> `)}</p>
          <${JsonEditor} label="Tags (JSON)" value=${connection.tags ?? {}} onSave=${saveTags} maxLength=${8192} saveLabel="Save tags" />
        </div>
        <div class="card"><h2>Metadata</h2><${JsonEditor} label="Metadata (JSON)" value=${connection.metadata} onSave=${saveMetadata} saveLabel="Save metadata" /></div>
      </div>
      <div class="card table-card">
        <div class="card-head"><h2>Syncs</h2><a href=${hrefOf(['syncs'], { integration, connection: connectionId })}>Manage syncs →</a></div>
        <table aria-label="Syncs of this connection">
          <tbody>${syncs.map((sync) => html`<tr key=${`${sync.name}/${sync.variant}`}>
            <td class="mono">${sync.name}${sync.variant === 'base' ? '' : `::${sync.variant}`}</td>
            <td><${SyncStatus} status=${sync.status} /></td>
            <td class="muted">last ${formatTime(sync.finishedAt)}</td>
            <td class="muted">next ${sync.nextScheduledSyncAt ? formatTime(sync.nextScheduledSyncAt) : '—'}</td>
          </tr>`)}</tbody>
        </table>
        ${syncs.length === 0 && html`<p class="empty">No sync runs or schedules for this connection.</p>`}
      </div>
      <div class="card table-card">
        <div class="card-head"><h2>Recent runs</h2><a href=${hrefOf(['runs'], { integration, connection: connectionId })}>All runs →</a></div>
        <table aria-label="Recent runs">
          <tbody>${runs.map((run) => html`<tr key=${run.id}>
            <td class="nowrap"><a href=${hrefOf(['runs', run.id])}>${formatTime(run.created_at)}</a></td>
            <td><span class="tag">${run.kind}</span></td>
            <td class="mono">${run.function}</td>
            <td><${RunState} state=${run.state} /></td>
            <td class="num">${formatDuration(run.duration_ms)}</td>
          </tr>`)}</tbody>
        </table>
        ${runs.length === 0 && html`<p class="empty">No runs for this connection.</p>`}
      </div>
      <div class="card table-card">
        <div class="card-head"><h2>Recent calls</h2><a href=${hrefOf(['logs'], { integration, connection: connectionId })}>All in Logs →</a></div>
        <table aria-label="Recent calls">
          <tbody>${calls.map((op) => html`<tr key=${op.id}>
            <td class="nowrap"><a href=${hrefOf(['logs', op.id])}>${formatTime(op.started_at)}</a></td>
            <td class="what"><span class="method">${op.method}</span> <span class="url">${op.url ?? ''}</span></td>
            <td><span class=${`pill ${statusTone(op.status, op.state)}`}>${op.status ?? op.state}</span></td>
            <td class="num">${formatDuration(op.duration_ms)}</td>
          </tr>`)}</tbody>
        </table>
        ${calls.length === 0 && html`<p class="empty">No calls logged for this connection.</p>`}
      </div>
      <div class="card danger-zone">
        <h2>Delete</h2>
        <p class="muted">Its credentials are deleted with it; the app must connect the account again.</p>
        <${ConfirmButton} label="Delete connection" question=${`Delete connection ${connection.connection_id}?`} onConfirm=${remove} />
      </div>
    </section>`;
}
