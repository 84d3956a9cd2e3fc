// Pieces several pages share: a list read page by page through an opaque cursor, the log stream
// followed in step with reads of what is stored, every integration for a filter's choices, a
// button that asks before it deletes, a JSON editor, and the state pill of a run.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, toQuery } from './api.js';

/**
 * GET /logs/stream with `query` (GET /logs' filters), and what is stored read in step with it so
 * that nothing is missed whatever the timing. `read(first)` is called once the stream is open
 * (first = true): the server subscribes before it answers, so an operation stored before that read
 * is in it and one stored after arrives on the stream (some in both: merge by id). It is called
 * again (first = false) each time the stream reconnects, for what was stored while it was down,
 * and, once the stream is refused for good (too many streams, signed out: the browser does not try
 * again), at once and then every `pollMs`. `onOperation(op)` gets each streamed operation;
 * `onState` is told 'live', 'reconnecting' or 'polling'. Answers a function that stops it all.
 */
export function followLogStream(query, { read, onOperation = () => undefined, onState = () => undefined, pollMs = 1000 }) {
  let stopped = false;
  let opens = 0;
  let poll = null;
  const source = new EventSource(`/logs/stream${toQuery(query)}`);
  source.addEventListener('operation', (event) => {
    if (!stopped) onOperation(JSON.parse(event.data));
  });
  source.addEventListener('open', () => {
    if (stopped) return;
    onState('live');
    read(opens++ === 0);
  });
  source.addEventListener('error', () => {
    if (stopped || poll !== null) return;
    if (source.readyState !== EventSource.CLOSED) return onState('reconnecting');
    onState('polling');
    read(opens === 0);
    poll = setInterval(() => read(false), pollMs);
  });
  return () => {
    stopped = true;
    source.close();
    if (poll !== null) clearInterval(poll);
  };
}

// GET /integrations' largest page, and how many integrations a filter offers at most.
const INTEGRATIONS_PAGE = 500;
export const MAX_INTEGRATION_CHOICES = 10_000;

/**
 * Every integration (page after page of GET /integrations, up to MAX_INTEGRATION_CHOICES), for a
 * filter's choices: `{integrations, truncated}`, `truncated` when there are more than that.
 */
export function useIntegrationChoices() {
  const [state, setState] = useState({ integrations: [], truncated: false });
  useEffect(() => {
    let stopped = false;
    (async () => {
      const all = [];
      let cursor;
      do {
        const page = await api(`/integrations${toQuery({ limit: INTEGRATIONS_PAGE, cursor })}`);
        if (stopped) return;
        all.push(...(page.data ?? []));
        cursor = page.next_cursor ?? null;
        setState({ integrations: all.slice(0, MAX_INTEGRATION_CHOICES), truncated: cursor !== null && all.length >= MAX_INTEGRATION_CHOICES });
      } while (cursor !== null && all.length < MAX_INTEGRATION_CHOICES);
    })().catch(() => undefined);
    return () => {
      stopped = true;
    };
  }, []);
  return state;
}

/** The options of an integration filter: every integration, and the chosen one even when not listed. */
export function IntegrationOptions({ choices, chosen }) {
  const keys = choices.integrations.map((i) => i.unique_key);
  if (chosen && !keys.includes(chosen)) keys.unshift(chosen);
  return keys.map((key) => html`<option key=${key} value=${key}>${key}</option>`);
}

/**
 * A `<select>` of a filter form that is read when the form is sent: it starts at `chosen` (from
 * the address) and is the user's after that. Not `value=`: Preact puts a `value` back on every
 * render, and the page renders again when its list arrives or a live update comes, which undid a
 * choice made meanwhile. `options` are `[value, label]` pairs.
 */
export function FilterSelect({ name, chosen, options }) {
  const current = chosen ?? '';
  return html`<select name=${name}>${options.map(([value, label]) => html`<option key=${value} value=${value} selected=${value === current}>${label}</option>`)}</select>`;
}

/** Said under a filter whose choices stopped at MAX_INTEGRATION_CHOICES. */
export function IntegrationLimitNote({ choices }) {
  return choices.truncated
    ? html`<p class="muted" role="note">Only the first ${MAX_INTEGRATION_CHOICES.toLocaleString()} integrations are listed; choose another by its key in the address (<span class="mono">integration=its-key</span>).</p>`
    : null;
}

/**
 * Items of a cursor-paged endpoint: `load(cursor)` answers `{data, next_cursor}`. Starts over
 * whenever `key` changes; a `null` key waits (loading, nothing read) until it is given one;
 * `more()` appends the next page.
 */
export function useCursorList(load, key) {
  const [state, setState] = useState({ items: [], cursor: null, loading: true, error: null });
  useEffect(() => {
    let stopped = false;
    setState({ items: [], cursor: null, loading: true, error: null });
    if (key === null) return undefined;
    load(undefined).then(
      (page) => !stopped && setState({ items: page.data, cursor: page.next_cursor, loading: false, error: null }),
      (e) => !stopped && setState({ items: [], cursor: null, loading: false, error: e.message }),
    );
    return () => {
      stopped = true;
    };
  }, [key]);
  const more = async () => {
    setState((s) => ({ ...s, loading: true }));
    try {
      const page = await load(state.cursor);
      setState((s) => ({ items: [...s.items, ...page.data], cursor: page.next_cursor, loading: false, error: null }));
    } catch (e) {
      setState((s) => ({ ...s, loading: false, error: e.message }));
    }
  };
  return { ...state, more };
}

export function LoadOlder({ list, label = 'Load older' }) {
  return html`
    ${list.cursor && html`<div class="pager"><button type="button" onClick=${list.more} disabled=${list.loading}>${label}</button></div>`}
    ${list.loading && html`<p class="empty" aria-busy="true">Loading…</p>`}`;
}

/** A destructive button that asks first, in the page (an alert dialog with Cancel and the action). */
export function ConfirmButton({ label, question, confirmLabel = label, onConfirm }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  if (!asking) return html`<button type="button" class="danger" onClick=${() => setAsking(true)}>${label}</button>`;
  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      setAsking(false);
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <div class="confirm" role="alertdialog" aria-label=${question}>
      <p>${question}</p>
      ${error && html`<p class="form-error" role="alert">${error}</p>`}
      <div class="confirm-actions">
        <button type="button" onClick=${() => setAsking(false)} disabled=${busy}>Cancel</button>
        <button type="button" class="danger solid" onClick=${go} disabled=${busy}>${busy ? 'Working…' : confirmLabel}</button>
      </div>
    </div>`;
}

/** JSON text checked as it is typed; `onSave(value)` gets the parsed object. */
export function JsonEditor({ label, value, onSave, maxLength = 65536, saveLabel = 'Save' }) {
  const [text, setText] = useState(() => JSON.stringify(value ?? {}, null, 2));
  const [status, setStatus] = useState(null);
  useEffect(() => setText(JSON.stringify(value ?? {}, null, 2)), [JSON.stringify(value)]);
  let parsed;
  let problem = null;
  try {
    parsed = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) problem = 'Must be a JSON object.';
  } catch (e) {
    problem = `Not valid JSON: ${e.message}`;
  }
  const save = async (event) => {
    event.preventDefault();
    setStatus({ busy: true });
    try {
      await onSave(parsed);
      setStatus({ saved: true });
    } catch (e) {
      setStatus({ error: e.message });
    }
  };
  return html`
    <form class="json-editor" onSubmit=${save}>
      <label>${label}<textarea spellcheck="false" rows="8" maxlength=${maxLength} value=${text} onInput=${(e) => (setText(e.currentTarget.value), setStatus(null))}></textarea></label>
      <div class="row">
        <button class="primary" type="submit" disabled=${problem !== null || status?.busy}>${saveLabel}</button>
        ${problem && html`<span class="muted">${problem}</span>`}
        ${status?.saved && html`<span class="ok-text" role="status">Saved</span>`}
        ${status?.error && html`<span class="form-error" role="alert">${status.error}</span>`}
      </div>
    </form>`;
}

const RUN_TONES = { succeeded: 'good', failed: 'bad', interrupted: 'warn', running: 'info', queued: 'info' };

export function RunState({ state }) {
  return html`<span class=${`pill ${RUN_TONES[state] ?? 'info'}`}>${state}</span>`;
}
