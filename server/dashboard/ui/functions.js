// Functions: what is deployed (GET /functions: integration, kind, version hash, deploy time,
// frequency, build errors) and an action run from the page: JSON input against a chosen
// connection through POST /action/trigger, then its output or error and its log lines.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, ApiError, toQuery } from './api.js';
import { formatTime } from './format.js';
import { hrefOf } from './router.js';
import { LoadOlder, useCursorList } from './widgets.js';

const CONNECTION_CHOICES = 100;
// Action input travels in the request body; the server bounds it, the form keeps typing sane.
const MAX_INPUT_CHARS = 1_000_000;

// A run's log operation is written in a batch just after its answer: asked for at once, it may
// not be stored yet. Tried again this often, this many times.
const LOG_RETRY_MS = 300;
const LOG_RETRIES = 20;

async function readLogSoon(logId) {
  for (let attempt = 0; attempt < LOG_RETRIES; attempt++) {
    try {
      return (await api(`/logs/${logId}`)).data;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) return null;
      await new Promise((resolve) => setTimeout(resolve, LOG_RETRY_MS));
    }
  }
  return null;
}

function RunAction({ fn }) {
  const [connections, setConnections] = useState([]);
  const [connection, setConnection] = useState('');
  const [input, setInput] = useState('{}');
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api(`/connections${toQuery({ integrationId: fn.integration_key, limit: CONNECTION_CHOICES })}`).then((r) => {
      setConnections(r.connections);
      setConnection((current) => current || (r.connections[0]?.connection_id ?? ''));
    }, () => undefined);
  }, [fn.integration_key]);
  let parsed;
  let problem = null;
  try {
    parsed = JSON.parse(input);
  } catch (e) {
    problem = `Not valid JSON: ${e.message}`;
  }
  const run = async (event) => {
    event.preventDefault();
    setBusy(true);
    setResult(null);
    let outcome;
    try {
      const output = await api('/action/trigger', {
        method: 'POST',
        headers: { 'provider-config-key': fn.integration_key, 'connection-id': connection },
        body: { action_name: fn.name, input: parsed },
      });
      outcome = { output };
    } catch (e) {
      outcome = { error: e instanceof ApiError ? { code: e.code, message: e.message } : { code: 'network', message: e.message } };
    }
    // The run's log lines: its newest run on this connection.
    const runs = await api(`/runs${toQuery({ provider_config_key: fn.integration_key, connection_id: connection, function: fn.name, kind: 'action', limit: 1 })}`).catch(() => ({ data: [] }));
    const last = runs.data[0];
    setResult({ ...outcome, run: last, lines: null });
    setBusy(false);
    if (last) setResult({ ...outcome, run: last, lines: (await readLogSoon(last.log_id))?.messages ?? [] });
  };
  return html`
    <form class="run-action stack" onSubmit=${run} aria-label=${`Run ${fn.name}`}>
      <div class="form-grid">
        <label>Connection<select value=${connection} onChange=${(e) => setConnection(e.currentTarget.value)} required>
          ${connections.length === 0 && html`<option value="">no connection</option>`}
          ${connections.map((c) => html`<option value=${c.connection_id}>${c.connection_id}</option>`)}
        </select></label>
      </div>
      <label>Input (JSON)<textarea spellcheck="false" rows="5" maxlength=${MAX_INPUT_CHARS} value=${input} onInput=${(e) => setInput(e.currentTarget.value)}></textarea></label>
      <div class="row">
        <button class="primary" type="submit" disabled=${busy || problem !== null || connection === ''}>${busy ? 'Running…' : 'Run action'}</button>
        ${problem && html`<span class="muted">${problem}</span>`}
      </div>
      ${result && html`
        <div class="result" role="region" aria-label="Result">
          ${result.error
            ? html`<div class="banner bad"><strong>${result.error.code}</strong> ${result.error.message}</div>`
            : html`<h3>Output</h3><pre class="json" aria-label="Output">${JSON.stringify(result.output, null, 2)}</pre>`}
          ${result.lines === null && html`<p class="muted" aria-busy="true">Reading the run's log…</p>`}
          ${result.lines?.length > 0 && html`<h3>Log lines</h3><pre class="log-lines">${result.lines.map((m) => `${m.level ?? ''} ${m.message ?? JSON.stringify(m)}`).join('\n')}</pre>`}
          ${result.run && html`<p><a href=${hrefOf(['runs', result.run.id])}>Open this run →</a></p>`}
        </div>`}
    </form>`;
}

const PAGE_SIZE = 50;

export function FunctionsPage({ params }) {
  // Build errors come with the first page; next_cursor leads to the rest of the deployed set.
  const [errors, setErrors] = useState([]);
  const list = useCursorList(async (cursor) => {
    const page = await api(`/functions${toQuery({ limit: PAGE_SIZE, cursor })}`);
    if (cursor === undefined) setErrors(page.errors);
    return { data: page.functions, next_cursor: page.next_cursor };
  }, 'functions');
  if (list.error && list.items.length === 0) return html`<p class="banner bad" role="alert">${list.error}</p>`;
  if (list.loading && list.items.length === 0) return html`<div class="loading" aria-busy="true">Loading…</div>`;
  const open = params.run;
  return html`
    <section>
      <div class="page-head"><h1>Functions</h1><span class="muted">Deployed with <code>patchbay deploy</code> or at start</span></div>
      ${errors.length > 0 && html`
        <div class="card">
          <h2>Build errors</h2>
          <ul class="errors">${errors.map((e) => html`<li><span class="mono">${e.source_path}:${e.line}</span> ${e.message}</li>`)}</ul>
        </div>`}
      <div class="card table-card">
        <table aria-label="Functions">
          <thead><tr><th>Function</th><th>Kind</th><th>Integration</th><th>Version</th><th>Deployed</th><th>Frequency</th><th></th></tr></thead>
          <tbody>${list.items.map((fn) => {
            const id = `${fn.integration_key}/${fn.name}`;
            return html`
              <tr key=${id}>
                <td class="mono">${fn.name}${fn.error && html` <span class="pill warn" title=${fn.error.message}>build failing</span>`}</td>
                <td><span class="tag">${fn.kind}</span></td>
                <td><a href=${hrefOf(['integrations', fn.integration_key])}>${fn.integration_key}</a></td>
                <td class="mono" title=${fn.hash}>${fn.hash.slice(0, 12)}</td>
                <td class="nowrap">${formatTime(fn.deployed_at)}</td>
                <td>${fn.kind === 'sync' ? fn.config.frequency ?? '—' : '—'}</td>
                <td class="actions">${fn.kind === 'action'
                  ? html`<a class="button" href=${hrefOf(['functions'], open === id ? {} : { run: id })}>${open === id ? 'Close' : 'Run'}</a>`
                  : html`<a class="button" href=${hrefOf(['syncs'], { integration: fn.integration_key })}>Syncs</a>`}</td>
              </tr>
              ${open === id && html`<tr class="expanded"><td colspan="7"><${RunAction} fn=${fn} /></td></tr>`}`;
          })}</tbody>
        </table>
        ${!list.loading && list.items.length === 0 && html`<p class="empty">Nothing deployed. Put functions in <code>functions/</code> and run <code>patchbay deploy</code>.</p>`}
        ${list.error && html`<p class="banner bad" role="alert">${list.error}</p>`}
        <${LoadOlder} list=${list} label="Load more" />
      </div>
    </section>`;
}
