// Logs: GET /logs with filters (kept in the URL, so a search can be shared), newest first, cursor
// paging, and live operations from GET /logs/stream (Server-Sent Events) while the page is open.
// The first page is read only once that stream is open (followLogStream): an operation stored
// just before it is in the page, one stored just after arrives on the stream; the newest page is
// read again when the stream reconnects, and every LOG_POLL_MS when it is refused for good.
// A search matching little answers after a bounded read: the page says how far back it got and
// continues (by itself a few times, then when asked).
// A call's page: GET /logs/:id — method, URL, redacted headers, attempts on a timeline, and its
// parent run; a run's page lists the calls made inside it (GET /logs?parent_id=).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, toQuery } from './api.js';
import { formatDuration, formatTime, statusTone } from './format.js';
import { hrefOf, navigate } from './router.js';
import { ChildCalls, LogLines } from './runs.js';
import { FilterSelect, followLogStream } from './widgets.js';

const PAGE_SIZE = 50;
// Live rows kept above the first page: an open tab on a busy proxy must not grow without end.
const MAX_ROWS = 500;
// A stream refused (too many open): the newest page is read this often instead.
const LOG_POLL_MS = 5000;
const TYPES = ['proxy', 'action', 'sync', 'auth', 'webhook'];
const TYPE_OPTIONS = [['', 'any'], ...TYPES.map((type) => [type, type])];
const STATE_OPTIONS = [['', 'any'], ['success', 'success'], ['failed', 'failed']];

/** The URL's search → GET /logs query parameters. */
function toApiFilter(params) {
  return {
    provider_config_key: params.integration,
    connection_id: params.connection,
    type: params.type,
    state: params.state,
    status: params.status,
    from: params.from,
    to: params.to,
  };
}

const localInput = (iso) => {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

function Filters({ params }) {
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = (name) => String(form.get(name) ?? '').trim();
    const iso = (name) => (value(name) === '' ? undefined : new Date(value(name)).toISOString());
    navigate(['logs'], { integration: value('integration'), connection: value('connection'), type: value('type'), state: value('state'), status: value('status'), from: iso('from'), to: iso('to') });
  };
  return html`
    <form class="filters card" onSubmit=${submit} key=${JSON.stringify(params)}>
      <label>Integration<input name="integration" defaultValue=${params.integration ?? ''} maxlength="255" placeholder="any" /></label>
      <label>Connection<input name="connection" defaultValue=${params.connection ?? ''} maxlength="255" placeholder="any" /></label>
      <label>Type<${FilterSelect} name="type" chosen=${params.type} options=${TYPE_OPTIONS} /></label>
      <label>State<${FilterSelect} name="state" chosen=${params.state} options=${STATE_OPTIONS} /></label>
      <label>Status<input name="status" type="number" min="100" max="599" defaultValue=${params.status ?? ''} placeholder="any" /></label>
      <label>From<input name="from" type="datetime-local" defaultValue=${localInput(params.from)} /></label>
      <label>To<input name="to" type="datetime-local" defaultValue=${localInput(params.to)} /></label>
      <div class="filter-actions"><button class="primary" type="submit">Apply</button><a class="button ghost" href="#/logs">Clear</a></div>
    </form>`;
}

function what(op) {
  if (op.type === 'proxy' || op.type === 'webhook' || (op.method && op.url)) return html`<span class="method">${op.method}</span> <span class="url">${op.url}</span>`;
  const fn = op.request?.function;
  return html`<span class="method">${op.action}</span> ${fn ? html`<span class="url">${fn}</span>` : null}`;
}

function LogRow({ op, fresh }) {
  return html`
    <tr class=${fresh ? 'fresh' : ''}>
      <td class="nowrap"><a href=${hrefOf(['logs', op.id])}>${formatTime(op.started_at)}</a></td>
      <td><span class="tag">${op.type}</span></td>
      <td class="what">${what(op)}</td>
      <td>${op.provider_config_key ?? '—'}</td>
      <td class="mono">${op.connection_id ?? '—'}</td>
      <td><span class=${`pill ${statusTone(op.status, op.state)}`}>${op.status ?? op.error?.code ?? op.state}</span></td>
      <td class="num">${formatDuration(op.duration_ms)}</td>
    </tr>`;
}

const LIVE_LABELS = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', polling: 'Not live: refreshing every few seconds' };

// A search reads a bounded stretch of the log per request (GET /logs answers `searched_back_to`
// when it stopped before a full page): the page asks again by itself this many times, showing how
// far back it got, then leaves it to the person to go on.
const AUTO_CONTINUE = 5;

export function LogsPage({ params }) {
  const filterKey = JSON.stringify(toApiFilter(params));
  const filter = useMemo(() => toApiFilter(params), [filterKey]);
  const [rows, setRows] = useState([]);
  const [fresh, setFresh] = useState(() => new Set());
  const [cursor, setCursor] = useState(null);
  const [searchedTo, setSearchedTo] = useState(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(null);
  const [live, setLive] = useState('connecting');
  const [run] = useState(() => ({ generation: 0 }));

  /** Pages from `from` on, continuing a search stopped early until a page's worth is found. */
  const search = async (from) => {
    const generation = run.generation;
    setLoading(true);
    setError(null);
    try {
      let next = from;
      let found = 0;
      for (let answers = 1; ; answers++) {
        const page = await api(`/logs${toQuery({ ...filter, limit: PAGE_SIZE, cursor: next })}`);
        if (generation !== run.generation) return;
        setRows((current) => mergeNewest(current, page.data));
        setCursor(page.next_cursor);
        setSearchedTo(page.searched_back_to ?? null);
        found += page.data.length;
        if (!page.searched_back_to || found >= PAGE_SIZE || answers >= AUTO_CONTINUE) break;
        next = page.next_cursor;
      }
    } catch (e) {
      if (generation === run.generation) setError(e.message);
    } finally {
      if (generation === run.generation) setLoading(false);
    }
  };

  useEffect(() => {
    run.generation++;
    setRows([]);
    setCursor(null);
    setSearchedTo(null);
    setLoading(true);
    setLive('connecting');
    /** The newest page again, merged (after a reconnection, or polling): what the stream missed. */
    const readNewest = () => {
      const generation = run.generation;
      api(`/logs${toQuery({ ...filter, limit: PAGE_SIZE })}`).then(
        (page) => generation === run.generation && setRows((current) => mergeNewest(page.data, current).slice(0, Math.max(MAX_ROWS, current.length))),
        () => undefined,
      );
    };
    const stop = followLogStream(filter, {
      read: (first) => (first ? search(undefined) : readNewest()),
      onOperation: (op) => {
        setRows((current) => mergeNewest([op], current).slice(0, MAX_ROWS));
        setFresh((current) => new Set(current).add(op.id));
      },
      onState: setLive,
      pollMs: LOG_POLL_MS,
    });
    return () => {
      run.generation++;
      stop();
    };
  }, [filterKey]);

  return html`
    <section>
      <div class="page-head"><h1>Logs</h1><span class=${`live-dot ${live}`} role="status">${LIVE_LABELS[live]}</span></div>
      <${Filters} params=${params} />
      ${error && html`<p class="banner bad" role="alert">${error}</p>`}
      <div class="card table-card">
        <table aria-label="Log operations">
          <thead><tr><th>Time</th><th>Type</th><th>Request</th><th>Integration</th><th>Connection</th><th>Status</th><th class="num">Duration</th></tr></thead>
          <tbody>${rows.map((op) => html`<${LogRow} key=${op.id} op=${op} fresh=${fresh.has(op.id)} />`)}</tbody>
        </table>
        ${!loading && rows.length === 0 && !searchedTo && html`<p class="empty">No operations match these filters yet. New ones appear here as they happen.</p>`}
        ${searchedTo
          ? html`<div class="pager searched"><span role="status" aria-label="Search progress">${loading ? 'Searching… ' : ''}Searched back to ${new Date(searchedTo).toLocaleString()}${rows.length === 0 ? ', no match yet' : ''}.</span>
              <button type="button" onClick=${() => search(cursor)} disabled=${loading}>Search older</button></div>`
          : cursor && html`<div class="pager"><button type="button" onClick=${() => search(cursor)} disabled=${loading}>Load older</button></div>`}
        ${loading && !searchedTo && html`<p class="empty" aria-busy="true">Loading…</p>`}
      </div>
    </section>`;
}

/** Rows newest first, each id once (a live row may also arrive in a page). */
function mergeNewest(first, second) {
  const seen = new Set();
  const all = [...first, ...second].filter((op) => !seen.has(op.id) && seen.add(op.id));
  return all.sort((a, b) => (a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : a.id < b.id ? 1 : -1));
}

function Headers({ title, headers }) {
  const entries = Object.entries(headers ?? {});
  return html`
    <div class="card">
      <h2>${title}</h2>
      ${entries.length === 0
        ? html`<p class="muted">Not kept: headers are stored for failed calls.</p>`
        : html`<table class="kv"><tbody>${entries.map(([name, value]) => html`<tr><th>${name}</th><td class="mono">${Array.isArray(value) ? value.join(', ') : value}</td></tr>`)}</tbody></table>`}
    </div>`;
}

function Attempts({ attempts }) {
  const total = Math.max(1, attempts.reduce((sum, a) => sum + (a.waited_ms ?? 0) + (a.duration_ms ?? 0), 0));
  return html`
    <div class="card">
      <h2>Attempts</h2>
      ${attempts.length === 0 ? html`<p class="muted">No attempt reached the provider.</p>` : null}
      <ol class="attempts" aria-label="Attempts">
        ${attempts.map((a) => html`
          <li>
            <span class="attempt-label">Attempt ${a.attempt + 1}</span>
            <span class=${`pill ${statusTone(a.status, a.error ? 'failed' : 'success')}`}>${a.status ?? a.error ?? '—'}</span>
            <span class="timeline">
              <span class="wait" style=${{ width: `${((a.waited_ms ?? 0) / total) * 100}%` }}></span>
              <span class="run" style=${{ width: `${Math.max(0.5, ((a.duration_ms ?? 0) / total) * 100)}%` }}></span>
            </span>
            <span class="muted nowrap">waited ${formatDuration(a.waited_ms)}, took ${formatDuration(a.duration_ms)}</span>
          </li>`)}
      </ol>
    </div>`;
}

/** The run a call was made in: its function, state and a link to the run's page. */
function ParentRun({ parentId }) {
  const [parent, setParent] = useState(null);
  useEffect(() => {
    api(`/logs/${encodeURIComponent(parentId)}`).then((r) => setParent(r.data), () => setParent(undefined));
  }, [parentId]);
  if (parent === undefined) return html`<div class="card"><h2>Parent run</h2><p class="muted">Its log operation is not stored (yet, or any more).</p></div>`;
  if (parent === null) return null;
  const runId = parent.request?.runId;
  return html`
    <div class="card parent-run" role="region" aria-label="Parent run">
      <h2>Parent run</h2>
      <p><span class="tag">${parent.type}</span> <span class="mono">${parent.request?.function ?? parent.action}</span>
        <span class=${`pill ${statusTone(parent.status, parent.state)}`}>${parent.state}</span>
        <span class="muted">${formatTime(parent.started_at)} · ${formatDuration(parent.duration_ms)}</span>
        ${runId ? html` · <a href=${hrefOf(['runs', runId])}>Open the run</a>` : html` · <a href=${hrefOf(['logs', parent.id])}>Open its log</a>`}</p>
    </div>`;
}

export function LogDetailPage({ id }) {
  const [op, setOp] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setOp(null);
    api(`/logs/${encodeURIComponent(id)}`).then((r) => setOp(r.data), (e) => setError(e.message));
  }, [id]);
  if (error) return html`<p class="banner bad" role="alert">${error}</p>`;
  if (op === null) return html`<div class="loading" aria-busy="true">Loading…</div>`;
  return html`
    <section>
      <a class="back" href="#/logs">← Logs</a>
      <div class="page-head">
        <h1><span class="method">${op.method ?? op.action}</span> <span class="url">${op.url ?? op.request?.function ?? op.type}</span></h1>
        <span class=${`pill large ${statusTone(op.status, op.state)}`}>${op.status ?? op.state}</span>
      </div>
      <dl class="facts card">
        <div><dt>Type</dt><dd>${op.type} · ${op.action}</dd></div>
        <div><dt>State</dt><dd>${op.state}</dd></div>
        <div><dt>Integration</dt><dd>${op.provider_config_key ?? '—'}</dd></div>
        <div><dt>Connection</dt><dd>${op.provider_config_key && op.connection_id ? html`<a href=${hrefOf(['connections', op.provider_config_key, op.connection_id])}>${op.connection_id}</a>` : '—'}</dd></div>
        <div><dt>Started</dt><dd>${new Date(op.started_at).toLocaleString()}</dd></div>
        <div><dt>Duration</dt><dd>${formatDuration(op.duration_ms)}</dd></div>
        ${op.request?.runId && html`<div><dt>Run</dt><dd><a href=${hrefOf(['runs', op.request.runId])}>${op.request.runId}</a></dd></div>`}
      </dl>
      ${op.parent_id && html`<${ParentRun} parentId=${op.parent_id} />`}
      ${op.error && html`<div class="banner bad"><strong>${op.error.code}</strong> ${op.error.message}</div>`}
      ${op.attempts.length > 0 || op.type === 'proxy' ? html`<${Attempts} attempts=${op.attempts} />` : null}
      ${op.type === 'proxy' ? html`<div class="two"><${Headers} title="Request headers" headers=${op.request?.headers} /><${Headers} title="Response headers" headers=${op.response?.headers} /></div>` : null}
      <${LogLines} messages=${op.messages} />
      ${(op.type === 'action' || op.type === 'sync') && op.action === 'run' ? html`<${ChildCalls} logId=${op.id} />` : null}
      ${op.type !== 'proxy' && op.request ? html`<div class="card"><h2>Details</h2><pre class="json">${JSON.stringify(op.request, null, 2)}</pre></div>` : null}
    </section>`;
}
