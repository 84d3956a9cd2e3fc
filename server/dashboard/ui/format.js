// Formatting shared by the pages: times, durations, statuses.
export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return today ? time : `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function statusTone(status, state) {
  if (state === 'failed' || (status !== null && status >= 500)) return 'bad';
  if (status !== null && status >= 400) return 'warn';
  return 'good';
}

export function formatCount(value) {
  return value === null || value === undefined ? '—' : value.toLocaleString();
}
