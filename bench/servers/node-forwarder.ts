// The floor of bench/proxy.ts, run as its own process: node:http serving GET /proxy/* by calling
// BENCH_UPSTREAM_URL + BENCH_UPSTREAM_PATH with undici's request() and writing its answer back,
// the upstream API key injected. No framework, no routing, no logging: what the HTTP stack alone
// costs, so that bench:proxy can tell Patchbay's own cost from the stack's.
//
// Announces itself with one JSON line on stdout: {"url": "http://127.0.0.1:<port>"}.
// Exits when its stdin closes (the orchestrator died) or on SIGTERM.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { closeServer, exitOnStop, required } from './child.js';

const origin = new URL(required('BENCH_UPSTREAM_URL')).origin;
const upstreamPath = required('BENCH_UPSTREAM_PATH');
const agent = new Agent({ keepAliveTimeout: 60_000 });
// Hop-by-hop headers stay on their own connection.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'host', 'transfer-encoding']);

function forwardedHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string' && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  out.authorization = 'Bearer k-0';
  return out;
}

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' || !req.url?.startsWith('/proxy/')) {
    res.writeHead(404).end();
    return;
  }
  agent.request({ origin, path: upstreamPath, method: 'GET', headers: forwardedHeaders(req.headers) }).then(
    (answer) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      res.writeHead(answer.statusCode, headers);
      answer.body.on('data', (chunk: Buffer) => res.write(chunk));
      answer.body.once('end', () => res.end());
      answer.body.once('error', (error) => res.destroy(error));
    },
    (error: Error) => res.writeHead(502, { 'content-type': 'text/plain' }).end(error.message),
  );
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});

exitOnStop(() => closeServer(server));
