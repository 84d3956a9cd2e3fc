// The upstream API of bench/proxy.ts, run as its own process: node:http on a loopback port,
// answering a fixed ~1 KB JSON body to any request carrying `Authorization: Bearer k-<i>` (401
// otherwise, which autocannon counts as non-2xx and fails the run).
//
// Announces itself with one JSON line on stdout: {"url": "http://127.0.0.1:<port>", "bodyBytes": n}.
// Control endpoints, for the orchestrator only:
//   GET  /__body   the body the API answers, for the exact-body check
//   GET  /__keys   the distinct `authorization` values seen since the last reset (JSON array)
//   POST /__reset  forget them
// Exits when its stdin closes (the orchestrator died) or on SIGTERM.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, exitOnStop } from './child.js';

/** A fixed JSON body of about 1 KB. */
function upstreamBody(): Buffer {
  const items: { id: number; name: string; active: boolean }[] = [];
  let body = '';
  for (let id = 1; Buffer.byteLength(body) < 1000; id++) {
    items.push({ id, name: `item-${String(id).padStart(4, '0')}`, active: id % 2 === 0 });
    body = JSON.stringify({ items, next_cursor: null });
  }
  return Buffer.from(body);
}

const body = upstreamBody();
const keys = new Set<string>();
const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) };

function control(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method === 'GET' && req.url === '/__body') {
    res.writeHead(200, headers).end(body);
  } else if (req.method === 'GET' && req.url === '/__keys') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([...keys]));
  } else if (req.method === 'POST' && req.url === '/__reset') {
    keys.clear();
    res.writeHead(204).end();
  } else {
    res.writeHead(404).end();
  }
}

const server = http.createServer((req, res) => {
  if (req.url?.startsWith('/__')) {
    req.resume();
    control(req, res);
    return;
  }
  const authorization = req.headers.authorization;
  if (authorization === undefined || !authorization.startsWith('Bearer k-')) {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
    return;
  }
  keys.add(authorization);
  res.writeHead(200, headers).end(body);
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, bodyBytes: body.length })}\n`);
});

exitOnStop(() => closeServer(server));
