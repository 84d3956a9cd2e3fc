// Pieces several pages share: a list read page by page through an opaque cursor, a button that
// asks before it deletes, a JSON editor, and the state pill of a run.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';

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
