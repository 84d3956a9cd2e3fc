// Syncs: one connection's syncs from GET /sync/status (status, last result, next run) with
// pause, start and trigger (with or without reset) through the /sync/* routes, and a records
// browser per model over GET /records (cursor paging, each record's JSON on a click). The table
// is read once GET /logs/stream for the connection is open (so activity just after the read is on
// the stream), again when the connection shows activity there (a run's calls, a run ending), at
// most every ACTIVITY_REFRESH_MS, and when the stream reconnects, rather than polled: an idle page
// sends nothing. A stream refused for good falls back to reading every STATUS_POLL_MS.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, toQuery } from './api.js';
import { formatTime } from './format.js';
import { hrefOf, navigate } from './router.js';
import { followLogStream, IntegrationLimitNote, IntegrationOptions, LoadOlder, useCursorList, useIntegrationChoices } from './widgets.js';

const STATUS_TONES = { SUCCESS: 'good', RUNNING: 'info', PAUSED: 'warn', ERROR: 'bad', STOPPED: 'info' };
// Connections offered in the picker; a longer list is narrowed by typing the id.
const CONNECTION_CHOICES = 100;
const RECORDS_PAGE = 50;
const ACTIVITY_REFRESH_MS = 1000;
const STATUS_POLL_MS = 2000;

export function SyncStatus({ status }) {
  return html`<span class=${`pill ${STATUS_TONES[status] ?? 'info'}`}>${status}</span>`;
}

function modelsOf(fn) {
  return Array.isArray(fn?.config?.models) ? fn.config.models : Object.keys(fn?.config?.models ?? {});
}

function Counts({ result }) {
  const models = result?.models;
  if (!models || Object.keys(models).length === 0) return html`<span class="muted">—</span>`;
  return Object.entries(models).map(([model, c]) => html`<span class="tag">${model}: +${c.added} ~${c.updated} −${c.deleted}</span> `);
}

/** Integration and connection pickers whose choice is kept in the URL. */
function ScopePicker({ route, params }) {
  const integrations = useIntegrationChoices();
  const [connections, setConnections] = useState([]);
  useEffect(() => {
    if (!params.integration) return setConnections([]);
    api(`/connections${toQuery({ integrationId: params.integration, limit: CONNECTION_CHOICES })}`).then((r) => setConnections(r.connections), () => undefined);
  }, [params.integration]);
  return html`
    <div class="filters card">
      <label>Integration<select value=${params.integration ?? ''} onChange=${(e) => navigate(route, { integration: e.currentTarget.value })}>
        <option value="">choose…</option><${IntegrationOptions} choices=${integrations} chosen=${params.integration} />
      </select></label>
      <label class="grow">Connection<input list="connection-choices" value=${params.connection ?? ''} maxlength="255" placeholder="connection id"
        onChange=${(e) => navigate(route, { ...params, connection: e.currentTarget.value.trim(), model: undefined })} /></label>
      <datalist id="connection-choices">${connections.map((c) => html`<option value=${c.connection_id} />`)}</datalist>
    </div>
    <${IntegrationLimitNote} choices=${integrations} />`;
}

/** The sync's frequency for this connection: the deployed one, or an override set here (PUT /sync/update-connection-frequency). */
function FrequencyCell({ sync, deployedFrequency, onSave }) {
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState(null);
  const save = async (frequency) => {
    setError(null);
    try {
      await onSave(frequency);
      setEditing(false);
    } catch (e) {
      setError(e.message);
    }
  };
  const submit = (event) => {
    event.preventDefault();
    save(String(new FormData(event.currentTarget).get('frequency') ?? '').trim());
  };
  if (!editing) {
    return html`<span>${sync.frequency ?? deployedFrequency ?? '—'}</span>${sync.frequency ? html` <span class="tag">override</span>` : null}
      <button type="button" class="link" onClick=${() => setEditing(true)} aria-label=${`Change the frequency of ${sync.name}`}>change</button>`;
  }
  return html`
    <form class="row" onSubmit=${submit} aria-label=${`Frequency of ${sync.name}`}>
      <input name="frequency" required maxlength="100" value=${sync.frequency ?? deployedFrequency ?? ''} placeholder="every 30 minutes" aria-label="Frequency" />
      <button type="submit" class="primary">Save</button>
      ${sync.frequency && html`<button type="button" onClick=${() => save(null)}>Use deployed</button>`}
      <button type="button" class="ghost" onClick=${() => (setEditing(false), setError(null))}>Cancel</button>
      ${error && html`<span class="form-error" role="alert">${error}</span>`}
    </form>`;
}

export function SyncsPage({ params }) {
  const [syncs, setSyncs] = useState(null);
  const [deployed, setDeployed] = useState([]);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const scope = { provider_config_key: params.integration, connection_id: params.connection };
  const ready = Boolean(params.integration && params.connection);
  const load = () =>
    api(`/sync/status${toQuery({ syncs: '*', ...scope })}`).then((r) => (setSyncs(r.syncs), setError(null)), (e) => setError(e.message));
  useEffect(() => {
    setDeployed([]);
    if (!params.integration) return;
    api(`/functions${toQuery({ kind: 'sync', integration_key: params.integration, limit: 500 })}`).then((r) => setDeployed(r.functions), () => undefined);
  }, [params.integration]);
  useEffect(() => {
    setSyncs(null);
    if (!ready) return undefined;
    // A run changes state on the runner: its calls and its end are log operations of this
    // connection, so the table is read again when one appears (once per burst). The first read
    // waits for the stream to be open: activity between a read and the subscription would
    // otherwise go unseen until a reload.
    let timer = null;
    const stop = followLogStream(scope, {
      read: () => load(),
      onOperation: () => {
        if (timer === null) timer = setTimeout(() => ((timer = null), load()), ACTIVITY_REFRESH_MS);
      },
      pollMs: STATUS_POLL_MS,
    });
    return () => {
      stop();
      if (timer !== null) clearTimeout(timer);
    };
  }, [params.integration, params.connection]);

  const act = async (label, route, body, method = 'POST') => {
    setNotice(null);
    try {
      await api(route, { method, body: { ...scope, ...body } });
      setNotice(label);
      await load();
    } catch (e) {
      setError(e.message);
    }
  };
  const setFrequency = async (sync, frequency) => {
    setNotice(null);
    await api('/sync/update-connection-frequency', {
      method: 'PUT',
      body: { ...scope, sync_name: sync.name, ...(sync.variant === 'base' ? {} : { sync_variant: sync.variant }), frequency },
    });
    setNotice(frequency === null ? `${sync.name} runs at its deployed frequency again.` : `${sync.name} now runs ${frequency}.`);
    await load();
  };
  const names = new Set((syncs ?? []).map((s) => s.name));
  const rows = [
    ...(syncs ?? []),
    // Deployed syncs with no schedule or run for this connection yet.
    ...deployed.filter((f) => f.integration_key === params.integration && !names.has(f.name)).map((f) => ({ name: f.name, variant: 'base', status: 'STOPPED', finishedAt: null, nextScheduledSyncAt: null, latestResult: null, error: null })),
  ];
  return html`
    <section>
      <div class="page-head"><h1>Syncs</h1></div>
      <${ScopePicker} route=${['syncs']} params=${params} />
      ${error && html`<p class="banner bad" role="alert">${error}</p>`}
      ${notice && html`<p class="banner good" role="status">${notice}</p>`}
      ${!ready && html`<p class="empty card">Choose an integration and a connection to see its syncs.</p>`}
      ${ready && html`
        <div class="card table-card">
          <table aria-label="Syncs">
            <thead><tr><th>Sync</th><th>Status</th><th>Last result</th><th>Last run</th><th>Next run</th><th>Frequency</th><th>Models</th><th></th></tr></thead>
            <tbody>${rows.map((sync) => {
              const fn = deployed.find((f) => f.integration_key === params.integration && f.name === sync.name);
              const target = { syncs: [sync.variant === 'base' ? sync.name : { name: sync.name, variant: sync.variant }] };
              return html`<tr key=${`${sync.name}/${sync.variant}`}>
                <td class="mono">${sync.name}${sync.variant === 'base' ? '' : `::${sync.variant}`}</td>
                <td><${SyncStatus} status=${sync.status} /></td>
                <td>${sync.error ? html`<span class="form-error">${sync.error.code}</span>` : html`<${Counts} result=${sync.latestResult} />`}</td>
                <td class="nowrap">${formatTime(sync.finishedAt)}</td>
                <td class="nowrap">${sync.nextScheduledSyncAt ? formatTime(sync.nextScheduledSyncAt) : '—'}</td>
                <td><${FrequencyCell} sync=${sync} deployedFrequency=${fn?.config?.frequency} onSave=${(frequency) => setFrequency(sync, frequency)} /></td>
                <td>${modelsOf(fn).map((model) => html`<a class="tag" href=${hrefOf(['records'], { integration: params.integration, connection: params.connection, model })}>${model}</a> `)}</td>
                <td class="actions">
                  ${sync.status === 'PAUSED'
                    ? html`<button type="button" onClick=${() => act(`Started ${sync.name}.`, '/sync/start', target)}>Start</button>`
                    : html`<button type="button" onClick=${() => act(`Paused ${sync.name}.`, '/sync/pause', target)}>Pause</button>`}
                  <button type="button" onClick=${() => act(`Triggered ${sync.name}.`, '/sync/trigger', target)}>Trigger</button>
                  <button type="button" title="Forget the checkpoint and fetch everything again" onClick=${() => act(`Triggered ${sync.name} with a reset.`, '/sync/trigger', { ...target, opts: { reset: true } })}>Trigger with reset</button>
                </td>
              </tr>`;
            })}</tbody>
          </table>
          ${syncs !== null && rows.length === 0 && html`<p class="empty">No sync is deployed for ${params.integration}.</p>`}
          ${syncs === null && !error && html`<p class="empty" aria-busy="true">Loading…</p>`}
        </div>`}
    </section>`;
}

export function RecordsPage({ params }) {
  const [open, setOpen] = useState(null);
  const ready = Boolean(params.integration && params.connection && params.model);
  const headers = { 'provider-config-key': params.integration ?? '', 'connection-id': params.connection ?? '' };
  const list = useCursorList(
    (cursor) => (ready ? api(`/records${toQuery({ model: params.model, limit: RECORDS_PAGE, cursor })}`, { headers }).then((r) => ({ data: r.records, next_cursor: r.next_cursor })) : Promise.resolve({ data: [], next_cursor: null })),
    JSON.stringify([params.integration, params.connection, params.model]),
  );
  return html`
    <section>
      <a class="back" href=${hrefOf(['syncs'], { integration: params.integration, connection: params.connection })}>← Syncs</a>
      <div class="page-head"><h1>Records</h1>${params.model && html`<span class="tag">${params.model}</span>`}</div>
      <${ScopePicker} route=${['records']} params=${params} />
      ${list.error && html`<p class="banner bad" role="alert">${list.error}</p>`}
      ${!ready && html`<p class="empty card">Choose a connection and open a model from the Syncs page.</p>`}
      ${ready && html`
        <div class="card table-card">
          <table aria-label="Records">
            <thead><tr><th>Id</th><th>Last change</th><th>Modified</th><th>Fields</th></tr></thead>
            <tbody>${list.items.map((record) => html`
              <tr key=${record.id} class="clickable" onClick=${() => setOpen(open === record.id ? null : record.id)}>
                <td class="mono"><button type="button" class="link" aria-expanded=${open === record.id}>${record.id}</button></td>
                <td><span class="tag">${record._nango_metadata.last_action}</span></td>
                <td class="nowrap">${formatTime(record._nango_metadata.last_modified_at)}</td>
                <td class="muted">${Object.keys(record).filter((k) => k !== '_nango_metadata' && k !== 'id').slice(0, 6).join(', ')}</td>
              </tr>
              ${open === record.id && html`<tr class="expanded"><td colspan="4"><pre class="json" aria-label=${`Record ${record.id}`}>${JSON.stringify(record, null, 2)}</pre></td></tr>`}`)}
            </tbody>
          </table>
          ${!list.loading && list.items.length === 0 && html`<p class="empty">No records for this model yet.</p>`}
          <${LoadOlder} list=${list} label="Load more" />
        </div>`}
    </section>`;
}
