// The hand-rolled forwarder of bench/proxy.ts, run as its own process: fastify with
// @fastify/reply-from, forwarding GET /proxy/* to BENCH_UPSTREAM_URL + BENCH_UPSTREAM_PATH with
// the upstream API key injected, roughly the least a proxy must do.
//
// Announces itself with one JSON line on stdout: {"url": "http://127.0.0.1:<port>"}.
// Exits when its stdin closes (the orchestrator died) or on SIGTERM.
import replyFrom from '@fastify/reply-from';
import Fastify from 'fastify';
import { exitOnStop, required } from './child.js';

const upstreamUrl = required('BENCH_UPSTREAM_URL');
const upstreamPath = required('BENCH_UPSTREAM_PATH');

const app = Fastify({ logger: false });
await app.register(replyFrom, { base: upstreamUrl });
app.get('/proxy/*', (_request, reply) => {
  return reply.from(upstreamPath, {
    rewriteRequestHeaders: (_req, headers) => ({ ...headers, authorization: 'Bearer k-0' }),
  });
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ url })}\n`);

exitOnStop(() => app.close());
