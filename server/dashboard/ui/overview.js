// Overview: the last hour at a glance, from GET /overview (the counters /metrics serves).
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api } from './api.js';
import { formatCount, formatDuration } from './format.js';
import { hrefOf } from './router.js';

// The figures move with traffic: read again while the page is open.
const REFRESH_MS = 10_000;

function Stat({ label, value, hint, href, tone }) {
  const body = html`<span class="stat-label">${label}</span><span class=${`stat-value ${tone ?? ''}`}>${value}</span>${hint && html`<span class="stat-hint">${hint}</span>`}`;
  return href ? html`<a class="stat card" href=${href}>${body}</a>` : html`<div class="stat card">${body}</div>`;
}

function MinuteChart({ minutes }) {
  const width = 720;
  const height = 160;
  const max = Math.max(1, ...minutes.map((m) => m.calls));
  const step = width / minutes.length;
  const bar = Math.max(2, step - 3);
  return html`
    <svg class="chart" viewBox=${`0 0 ${width} ${height + 18}`} role="img" aria-label="Calls and errors per minute, last hour">
      <line x1="0" x2=${width} y1=${height} y2=${height} class="axis" />
      ${minutes.map((m, i) => {
        const callsHeight = (m.calls / max) * (height - 8);
        const errorsHeight = (m.errors / max) * (height - 8);
        const x = i * step + 1;
        return html`<g>
          <title>${new Date(m.minute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}: ${m.calls} calls, ${m.errors} errors</title>
          <rect class="bar-calls" x=${x} y=${height - callsHeight} width=${bar} height=${callsHeight} rx="1.5" />
          <rect class="bar-errors" x=${x} y=${height - errorsHeight} width=${bar} height=${errorsHeight} rx="1.5" />
        </g>`;
      })}
      <text x="0" y=${height + 14} class="tick">60 min ago</text>
      <text x=${width} y=${height + 14} class="tick" text-anchor="end">now</text>
    </svg>`;
}

export function OverviewPage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stopped = false;
    const load = () => api('/overview').then((d) => !stopped && (setData(d), setError(null)), (e) => !stopped && setError(e.message));
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  if (error) return html`<p class="banner bad" role="alert">${error}</p>`;
  if (data === null) return html`<div class="loading" aria-busy="true">Loading…</div>`;
  const failing = data.connections_refresh_failing + data.connections_refresh_exhausted;
  return html`
    <section>
      <div class="page-head"><h1>Overview</h1><span class="muted">Last hour, this server</span></div>
      <div class="stats">
        <${Stat} label="Proxy calls" value=${formatCount(data.calls)} hint="through /proxy and functions" href=${hrefOf(['logs'], { type: 'proxy' })} />
        <${Stat} label="Errors" value=${formatCount(data.errors)} tone=${data.errors > 0 ? 'bad' : ''} hint=${data.calls > 0 ? `${((data.errors / data.calls) * 100).toFixed(1)}% of calls` : 'no calls yet'} href=${hrefOf(['logs'], { type: 'proxy', state: 'failed' })} />
        <${Stat} label="Latency p50" value=${formatDuration(data.p50_ms)} hint="proxy calls, waits included" />
        <${Stat} label="Latency p99" value=${formatDuration(data.p99_ms)} hint="proxy calls, waits included" />
        <${Stat} label="Runs failed" value=${formatCount(data.runs_failed)} tone=${data.runs_failed > 0 ? 'bad' : ''} hint=${`of ${formatCount(data.runs)} runs`} href=${hrefOf(['logs'], { state: 'failed', type: 'action' })} />
        <${Stat} label="Refresh failing" value=${formatCount(failing)} tone=${failing > 0 ? 'warn' : ''} hint=${`${data.connections_refresh_exhausted} given up`} href=${hrefOf(['connections'], { status: 'failing' })} />
      </div>
      <div class="card">
        <div class="card-head"><h2>Calls per minute</h2><span class="legend"><i class="swatch calls"></i>calls <i class="swatch errors"></i>errors</span></div>
        <${MinuteChart} minutes=${data.minutes} />
      </div>
    </section>`;
}
