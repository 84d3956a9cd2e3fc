// A fake provider API: a real node:http server on 127.0.0.1:0, scripted per test. Each request
// takes the next scripted step (reply, reset, hang, slow or huge body…); with none left it
// echoes the request as JSON. Every request is recorded for assertions.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export type Step = (req: http.IncomingMessage, res: http.ServerResponse, received: ReceivedRequest) => void | Promise<void>;

export interface Upstream {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Queue steps, used by the next requests in order. */
  script(...steps: Step[]): void;
  /** Used when no scripted step is left (default: echo). */
  setFallback(step: Step): void;
  /** Remaining scripted steps. */
  pending(): number;
  clear(): void;
  close(): Promise<void>;
}

export function echo(extraHeaders: Record<string, string> = {}): Step {
  return (_req, res, received) => {
    const body = JSON.stringify({
      method: received.method,
      path: received.path,
      query: Object.fromEntries(received.query),
      headers: received.headers,
      body: received.body.toString('utf8'),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extraHeaders });
    res.end(body);
  };
}

export function reply(status: number, body: unknown = {}, headers: Record<string, string> = {}): Step {
  return (_req, res) => {
    const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const type = typeof body === 'string' || Buffer.isBuffer(body) ? 'text/plain' : 'application/json';
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
}

export function delayed(ms: number, step: Step): Step {
  return async (req, res, received) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    await step(req, res, received);
  };
}

/** Destroys the socket without an answer: the client sees ECONNRESET / socket closed. */
export function reset(): Step {
  return (req) => {
    req.socket.destroy();
  };
}

/** Never answers (until the server closes). */
export function hang(): Step {
  return () => undefined;
}

/** A body of `bytes` bytes sent in chunks at about `bytesPerSec`. */
export function slowBody(bytes: number, bytesPerSec: number): Step {
  return async (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
    const chunk = Math.max(1, Math.floor(bytesPerSec / 20));
    for (let sent = 0; sent < bytes; sent += chunk) {
      if (res.destroyed) return;
      res.write(Buffer.alloc(Math.min(chunk, bytes - sent), 0x61));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    res.end();
  };
}

/** A large body generated on the fly (never held in memory): deterministic bytes, chunked. */
export function hugeBody(bytes: number, chunkBytes = 64 * 1024): Step {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
    const chunk = Buffer.alloc(chunkBytes);
    for (let i = 0; i < chunkBytes; i++) chunk[i] = i % 251;
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const size = Math.min(chunkBytes, bytes - sent);
        sent += size;
        if (!res.write(size === chunkBytes ? chunk : chunk.subarray(0, size))) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  };
}

/** `host`: another loopback address (127.0.0.2…) plays another machine, e.g. an attacker's. */
export async function startUpstream(options: { host?: string } = {}): Promise<Upstream> {
  const host = options.host ?? '127.0.0.1';
  const steps: Step[] = [];
  const requests: ReceivedRequest[] = [];
  let fallback: Step = echo();
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const parsed = new URL(req.url ?? '/', 'http://upstream');
      const received: ReceivedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      requests.push(received);
      const step = steps.shift() ?? fallback;
      Promise.resolve(step(req, res, received)).catch(() => res.destroy());
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    requests,
    script: (...more) => void steps.push(...more),
    setFallback: (step) => void (fallback = step),
    pending: () => steps.length,
    clear: () => {
      steps.length = 0;
      requests.length = 0;
      fallback = echo();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
