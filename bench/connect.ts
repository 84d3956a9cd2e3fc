// npm run bench:connect — Patchbay's own time in the OAuth2 callback of Connect: from the
// callback request leaving the browser's side to the `success` message on the frontend's
// WebSocket, minus the time the provider's token endpoint took (issue target: < 50 ms p50).
//
// `patchbay start` (compiled, embedded PostgreSQL) and, in this process, a fake OAuth2 server
// (test/harness/oauth-provider.ts) that answers at once. Each flow does what @nangohq/frontend
// and the popup do: open the WebSocket, GET /oauth/connect (302 to the provider), GET the
// provider's /authorize (302 back with a code), then the timed GET /oauth/callback.
import { request } from 'undici';
import WebSocket from 'ws';
import { startOAuthProvider } from '../test/harness/oauth-provider.js';
import { round } from './lib/load.js';
import { api, BenchSession, machineInfo, positiveNumber, type Patchbay } from './lib/session.js';

const FLOWS = Math.round(positiveNumber('BENCH_CONNECT_FLOWS', 200));
const WARMUP = 20;

const session = new BenchSession('connect');

async function get(url: string): Promise<{ status: number; location: string | undefined }> {
  const target = new URL(url);
  const response = await request(target, { method: 'GET' });
  await response.body.dump();
  return { status: response.statusCode, location: response.headers.location as string | undefined };
}

/** One flow; returns the callback-to-success time and the token endpoint's share of it. */
async function flow(patchbay: Patchbay, token: string, provider: Awaited<ReturnType<typeof startOAuthProvider>>) {
  const socket = new WebSocket(`${patchbay.url.replace('http', 'ws')}/`);
  let ack!: (id: string) => void;
  const acked = new Promise<string>((resolve) => (ack = resolve));
  let succeeded!: (at: number) => void;
  const success = new Promise<number>((resolve) => (succeeded = resolve));
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { message_type: string; ws_client_id?: string };
    if (message.message_type === 'connection_ack') ack(message.ws_client_id as string);
    else if (message.message_type === 'success') succeeded(performance.now());
    else throw new Error(`flow failed: ${String(data)}`);
  });
  const wsClientId = await acked;
  const started = await get(`${patchbay.url}/oauth/connect/fake?connect_session_token=${token}&ws_client_id=${wsClientId}`);
  const authorized = await get(started.location as string);
  const callback = new URL(authorized.location as string);
  const sent = performance.now();
  const answered = await get(`${patchbay.url}${callback.pathname}${callback.search}`);
  const done = await success;
  socket.close();
  if (answered.status !== 200) throw new Error(`callback answered ${answered.status}`);
  const tokenRequest = provider.tokenRequests.at(-1);
  const tokenMs = tokenRequest === undefined ? 0 : tokenRequest.answeredAtMs - tokenRequest.receivedAtMs;
  return { totalMs: done - sent, tokenMs };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

await session.run(async () => {
  const provider = await startOAuthProvider();
  session.onCleanup(() => provider.close());
  const patchbay = await session.startPatchbay({
    providers: {
      'fake-oauth': provider.catalogEntry(),
    },
  });
  await api(patchbay, 'POST', '/integrations', { provider: 'fake-oauth', unique_key: 'fake', credentials: { type: 'OAUTH2', client_id: 'c', client_secret: 's' } });
  const samples: { totalMs: number; tokenMs: number }[] = [];
  for (let i = 0; i < WARMUP + FLOWS; i++) {
    // A session per end user, as an app creates them.
    const created = (await api(patchbay, 'POST', '/connect/sessions', { end_user: { id: `user-${i}` } })) as { data: { token: string } };
    const sample = await flow(patchbay, created.data.token, provider);
    if (i >= WARMUP) samples.push(sample);
  }
  const own = samples.map((s) => s.totalMs - s.tokenMs).sort((a, b) => a - b);
  const token = samples.map((s) => s.tokenMs).sort((a, b) => a - b);
  const result = {
    date: new Date().toISOString(),
    machine: machineInfo(),
    flows: FLOWS,
    callbackToSuccessMs: { p50: round(percentile(own, 50), 2), p90: round(percentile(own, 90), 2), p99: round(percentile(own, 99), 2), max: round(own.at(-1) ?? NaN, 2) },
    tokenEndpointMs: { p50: round(percentile(token, 50), 3) },
    target: { callbackToSuccessP50Ms: '< 50', ok: percentile(own, 50) < 50 },
  };
  session.log(`callback → success, Patchbay's own time: p50 ${result.callbackToSuccessMs.p50} ms, p99 ${result.callbackToSuccessMs.p99} ms`);
  return result;
});
