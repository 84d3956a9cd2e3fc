// Runs: action and sync runs from GET /runs (filters in the URL, newest first, cursor paging),
// and a run's page from GET /runs/:id — input and output (actions), records per model (syncs),
// its log lines (GET /logs/:log_id) and the proxy calls made inside it (GET /logs?parent_id=).
// A run still queued or running is followed live: its state from a short poll of GET /runs/:id
// (that one run, only while it runs), its calls as they happen from GET /logs/stream?parent_id=
// (and the stored ones, read once that stream is open: see ChildCalls), its log lines once it
// ends (they are stored with its log operation, at its end).
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, toQuery } from './api.js';
import { formatDuration, formatTime, statusTone } from './format.js';
import { hrefOf, navigate } from './router.js';
import { FilterSelect, followLogStream, LoadOlder, RunState, useCursorList } from './widgets.js';

const PAGE_SIZE = 50;
const STATES = ['queued', 'running', 'succeeded', 'failed', 'interrupted'];
const KIND_OPTIONS = [['', 'any'], ['action', 'action'], ['sync', 'sync']];
const STATE_OPTIONS = [['', 'any'], ...STATES.map((state) => [state, state])];
const ACTIVE = new Set(['queued', 'running']);
const RUN_POLL_MS = 1000;
// A run's log operation is written in a batch just after the run ends.
// Asked again after 0.3 s, doubling up to 5 s: about a minute and a half in all, so a writer held
// up (the database slow or away for a moment) still shows the log lines and the last calls.
const LOG_TRIES = 20;
const LOG_RETRY_MS = 300;
const LOG_RETRY_MAX_MS = 5000;

function toApiFilter(params) {
  return { provider_config_key: params.integration, connection_id: params.connection, kind: params.kind, state: params.state, function: params.function };
}

function ModelCounts({ models }) {
  if (!models || Object.keys(models).length === 0) return html`<span class="muted">—</span>`;
  return Object.entries(models).map(([model, c]) => html`<span class="tag">${model}: +${c.added} ~${c.updated} −${c.deleted}</span> `);
}

export function RunsPage({ params }) {
  const filter = toApiFilter(params);
  const list = useCursorList((cursor) => api(`/runs${toQuery({ ...filter, limit: PAGE_SIZE, cursor })}`), JSON.stringify(filter));
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = (name) => String(form.get(name) ?? '').trim();
    navigate(['runs'], { integration: value('integration'), connection: value('connection'), function: value('function'), kind: value('kind'), state: value('state') });
  };
  return html`
    <section>
      <div class="page-head"><h1>Runs</h1></div>
      <form class="filters card" onSubmit=${submit} key=${JSON.stringify(params)}>
        <label>Integration<input name="integration" defaultValue=${params.integration ?? ''} maxlength="255" placeholder="any" /></label>
        <label>Connection<input name="connection" defaultValue=${params.connection ?? ''} maxlength="255" placeholder="any" /></label>
        <label>Function<input name="function" defaultValue=${params.function ?? ''} maxlength="255" placeholder="any" /></label>
        <label>Kind<${FilterSelect} name="kind" chosen=${params.kind} options=${KIND_OPTIONS} /></label>
        <label>State<${FilterSelect} name="state" chosen=${params.state} options=${STATE_OPTIONS} /></label>
        <div class="filter-actions"><button class="primary" type="submit">Apply</button><a class="button ghost" href="#/runs">Clear</a></div>
      </form>
      ${list.error && html`<p class="banner bad" role="alert">${list.error}</p>`}
      <div class="card table-card">
        <table aria-label="Runs">
          <thead><tr><th>Created</th><th>Kind</th><th>Function</th><th>Integration</th><th>Connection</th><th>State</th><th>Records</th><th class="num">Duration</th></tr></thead>
          <tbody>${list.items.map((run) => html`
            <tr key=${run.id}>
              <td class="nowrap"><a href=${hrefOf(['runs', run.id])}>${formatTime(run.created_at)}</a></td>
              <td><span class="tag">${run.kind}</span></td>
              <td class="mono">${run.function}</td>
              <td>${run.provider_config_key}</td>
              <td class="mono">${run.connection_id}</td>
              <td><${RunState} state=${run.state} />${run.error && html` <span class="muted">${run.error.code}</span>`}</td>
              <td>${run.kind === 'sync' ? html`<${ModelCounts} models=${run.models} />` : html`<span class="muted">—</span>`}</td>
              <td class="num">${formatDuration(run.duration_ms)}</td>
            </tr>`)}</tbody>
        </table>
        ${!list.loading && list.items.length === 0 && html`<p class="empty">No run matches these filters.</p>`}
        <${LoadOlder} list=${list} />
      </div>
    </section>`;
}

/** Calls newest first (as GET /logs answers them), each id once. */
function newestFirst(ops) {
  const seen = new Set();
  return ops
    .filter((op) => !seen.has(op.id) && seen.add(op.id))
    .sort((a, b) => (a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/**
 * The proxy calls a run made, newest first, paged: one table for the run page and a log's page.
 * While the run runs (`live`), new calls come from GET /logs/stream, and the stored ones are read
 * only once the stream is open: the server subscribes before it answers, so a call stored before
 * the read is in it and one stored after arrives on the stream (some in both, merged by id),
 * whatever the order of the answers. A reconnected stream reads the stored calls again (for what
 * was stored while it was down); a stream refused for good falls back to reading them each
 * second. They are read again when the run ends, and once more when they are all stored
 * (`settled`: the run's own log operation, written after them by the same writer, is readable).
 */
export function ChildCalls({ logId, live = false, settled = false }) {
  const streamKey = `${logId}:${live}`;
  const [openedFor, setOpenedFor] = useState(null);
  const list = useCursorList(
    (cursor) => api(`/logs${toQuery({ parent_id: logId, limit: PAGE_SIZE, cursor })}`),
    live && openedFor !== streamKey ? null : `${streamKey}:${settled}`,
  );
  const [arrived, setArrived] = useState([]);
  useEffect(() => setArrived([]), [logId]);
  useEffect(() => {
    if (!live) return undefined;
    let stopped = false;
    const merge = (ops) => !stopped && setArrived((current) => newestFirst([...ops, ...current]));
    const readStored = () => api(`/logs${toQuery({ parent_id: logId, limit: PAGE_SIZE })}`).then((page) => merge(page.data), () => undefined);
    const stop = followLogStream({ parent_id: logId }, {
      // The first read is the paged list's (its key is given once the stream is open).
      read: (first) => (first ? setOpenedFor(streamKey) : readStored()),
      onOperation: (op) => merge([op]),
      pollMs: RUN_POLL_MS,
    });
    return () => {
      stopped = true;
      stop();
    };
  }, [logId, live]);
  const items = newestFirst([...list.items, ...arrived]);
  return html`
    <div class="card table-card">
      <div class="card-head"><h2>Calls made by this run</h2>${live && html`<span class="live-dot live">Live</span>`}</div>
      <table aria-label="Calls made by this run">
        <tbody>${items.map((op) => html`
          <tr key=${op.id}>
            <td class="nowrap"><a href=${hrefOf(['logs', op.id])}>${formatTime(op.started_at)}</a></td>
            <td class="what"><span class="method">${op.method}</span> <span class="url">${op.url ?? ''}</span></td>
            <td><span class=${`pill ${statusTone(op.status, op.state)}`}>${op.status ?? op.error?.code ?? op.state}</span></td>
            <td class="num">${formatDuration(op.duration_ms)}</td>
          </tr>`)}</tbody>
      </table>
      ${!list.loading && items.length === 0 && html`<p class="empty">${live ? 'No proxy call yet.' : 'This run made no proxy call.'}</p>`}
      <${LoadOlder} list=${list} />
    </div>`;
}

export function LogLines({ messages }) {
  if (!messages || messages.length === 0) return null;
  return html`<div class="card"><h2>Log lines</h2><pre class="log-lines">${messages.map((m) => `${m.at ?? ''} ${m.level ?? ''} ${m.message ?? JSON.stringify(m)}`).join('\n')}</pre></div>`;
}

export function RunDetailPage({ id }) {
  const [run, setRun] = useState(null);
  const [log, setLog] = useState(null);
  const [error, setError] = useState(null);
  // Seen queued or running: its calls may still be on their way to the log when it ends.
  const [followed, setFollowed] = useState(false);
  useEffect(() => {
    let stopped = false;
    let timer = null;
    setRun(null);
    setLog(null);
    setError(null);
    setFollowed(false);
    const readLog = async (logId, tries) => {
      for (let attempt = 0; attempt < tries && !stopped; attempt++) {
        try {
          const l = await api(`/logs/${logId}`);
          if (!stopped) setLog(l.data);
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, Math.min(LOG_RETRY_MS * 2 ** attempt, LOG_RETRY_MAX_MS)));
        }
      }
    };
    const follow = async (first) => {
      try {
        const r = await api(`/runs/${encodeURIComponent(id)}`);
        if (stopped) return;
        setRun(r.data);
        if (ACTIVE.has(r.data.state)) {
          setFollowed(true);
          timer = setTimeout(() => follow(false), RUN_POLL_MS);
        }
        // A queued or running run has no log operation yet; one that just ended gets it shortly.
        else readLog(r.data.log_id, first ? 1 : LOG_TRIES);
      } catch (e) {
        if (!stopped) setError(e.message);
      }
    };
    follow(true);
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    };
  }, [id]);
  if (error) return html`<p class="banner bad" role="alert">${error}</p>`;
  if (run === null) return html`<div class="loading" aria-busy="true">Loading…</div>`;
  return html`
    <section>
      <a class="back" href="#/runs">← Runs</a>
      <div class="page-head"><h1 class="mono">${run.function}</h1><span class="tag">${run.kind}</span><${RunState} state=${run.state} /></div>
      <dl class="facts card">
        <div><dt>Integration</dt><dd>${run.provider_config_key}</dd></div>
        <div><dt>Connection</dt><dd><a href=${hrefOf(['connections', run.provider_config_key, run.connection_id])}>${run.connection_id}</a></dd></div>
        <div><dt>Created</dt><dd>${new Date(run.created_at).toLocaleString()}</dd></div>
        <div><dt>Duration</dt><dd>${ACTIVE.has(run.state) ? html`<span aria-busy="true">${run.state}…</span>` : formatDuration(run.duration_ms)}</dd></div>
        <div><dt>Attempt</dt><dd>${run.attempt}</dd></div>
        <div><dt>Log</dt><dd><a href=${hrefOf(['logs', run.log_id])}>operation</a></dd></div>
        ${run.kind === 'sync' && html`<div><dt>Variant</dt><dd>${run.variant}</dd></div>`}
      </dl>
      ${run.error && html`<div class="banner bad"><strong>${run.error.code}</strong> ${run.error.message}</div>`}
      ${run.kind === 'action'
        ? html`<div class="two">
            <div class="card"><h2>Input</h2><pre class="json" aria-label="Input">${JSON.stringify(run.input, null, 2)}</pre></div>
            <div class="card"><h2>Output</h2><pre class="json" aria-label="Output">${JSON.stringify(run.output, null, 2)}</pre></div>
          </div>`
        : html`<div class="card"><h2>Records per model</h2><p><${ModelCounts} models=${run.models} /></p></div>`}
      ${ACTIVE.has(run.state)
        ? html`<p class="banner" role="status">This run is ${run.state}: the page follows it. Its log lines appear when it ends.</p>`
        : html`<${LogLines} messages=${log?.messages} />`}
      <${ChildCalls} logId=${run.log_id} live=${ACTIVE.has(run.state)} settled=${followed && log !== null} />
    </section>`;
}
