// GET /logs/stream: new log operations as Server-Sent Events (`event: operation`, `data:` the
// same JSON as GET /logs), filtered like GET /logs. Pushed from the log writers through
// server/logs/live.ts; the stream holds no history (read GET /logs for that).
import type { FastifyInstance } from 'fastify';
import { PatchbayError } from '../errors.js';
import type { LiveLogs } from '../logs/live.js';
import { parseInput } from '../validate.js';
import { logListQuery, toLogFilter, toWireOperation } from './logs.js';

// 15 s: under the idle timeouts of common proxies (nginx 60 s, ALBs 60 s), so an open page on a
// quiet installation keeps its stream.
const HEARTBEAT_MS = 15_000;
/**
 * A client reading slower than operations arrive: past this many bytes waiting in the socket,
 * the stream is closed (the page reconnects and reads the gap from GET /logs) instead of the
 * server buffering without end.
 */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

const streamQuery = logListQuery.omit({ limit: true, cursor: true });

export function logStreamRoute(app: FastifyInstance, deps: { live: LiveLogs }): void {
  // Open streams are never idle: shutdown ends them rather than waiting out its grace period.
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const close of open) close();
  });

  app.get('/logs/stream', async (request, reply) => {
    const query = parseInput(streamQuery, request.query, 'invalid_query_params');
    const raw = reply.raw;
    let unsubscribe: (() => void) | undefined;
    const close = () => {
      open.delete(close);
      unsubscribe?.();
      clearInterval(heartbeat);
      if (!raw.writableEnded) raw.end();
    };
    unsubscribe = deps.live.subscribe(toLogFilter(query), (operation) => {
      if (raw.writableLength > MAX_BUFFERED_BYTES) return close();
      raw.write(`event: operation\nid: ${operation.id}\ndata: ${JSON.stringify(toWireOperation(operation))}\n\n`);
    });
    if (unsubscribe === undefined) throw new PatchbayError('too_many_log_streams');
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    // The first bytes tell the browser the stream is open (EventSource's `open` event).
    raw.write(': open\n\n');
    open.add(close);
    request.raw.once('close', close);
    raw.once('close', close);
  });
}
