// npm run bench:proxy — what /proxy costs over calling the API directly and over a hand-rolled
// @fastify/reply-from forwarder, measured in one run on one machine.
//
// A loopback upstream answers a fixed ~1 KB JSON body. Against it, autocannon measures (each at
// 1 and 64 connections, BENCH_DURATION_S seconds, after a BENCH_WARMUP_S warm-up):
//   direct         autocannon -> upstream
//   replyFrom      autocannon -> fastify + @fastify/reply-from -> upstream
//   proxy          autocannon -> Patchbay /proxy (one Patchbay connection) -> upstream
//   proxyRotating  the same, rotating over 1,000 Patchbay connections
// It prints one JSON object (also written to bench/results/proxy-<timestamp>.json) and exits 1
// if any response was not a 2xx.
//
// Everything (load generator, upstream, forwarder, Patchbay) shares this process's event loop;
// only PostgreSQL (log writes) runs elsewhere. Ratios therefore compare whole request paths
// that share the same load-generator and upstream cost; `derived` subtracts that shared cost.
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import replyFrom from '@fastify/reply-from';
import type autocannon from 'autocannon';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { request } from 'undici';
import YAML from 'yaml';
import { startSystem, type System } from '../bin/system.js';
import { loadConfig } from '../server/config.js';
import { runLoad, round, type LoadResult } from './lib/load.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const DURATION_S = positiveNumber('BENCH_DURATION_S', 10);
const WARMUP_S = positiveNumber('BENCH_WARMUP_S', 1.5);
const CONNECTION_COUNTS = [1, 64] as const;
const PATCHBAY_CONNECTIONS = 1000;
const PROXY_PATH = '/proxy/items?x=1';
const UPSTREAM_PATH = '/items?x=1';

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

function log(message: string): void {
  process.stderr.write(`[bench:proxy] ${message}\n`);
}

// ---------------------------------------------------------------- upstream

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

interface Upstream {
  url: string;
  body: Buffer;
  /** The distinct API keys (`Bearer k-<i>`) seen since the last reset. */
  keys: Set<string>;
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const body = upstreamBody();
  const keys = new Set<string>();
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) };
  const server = http.createServer((req, res) => {
    // Every scenario sends `Bearer k-<i>`: a call that lost its credentials answers 401,
    // which autocannon counts as non-2xx and fails the run.
    const authorization = req.headers.authorization;
    if (authorization === undefined || !authorization.startsWith('Bearer k-')) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
      return;
    }
    keys.add(authorization);
    res.writeHead(200, headers).end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    body,
    keys,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- the hand-rolled forwarder

async function startReplyFrom(upstreamUrl: string): Promise<{ url: string; app: FastifyInstance }> {
  const app = Fastify({ logger: false });
  await app.register(replyFrom, { base: upstreamUrl });
  app.get('/proxy/*', (_request, reply) => {
    return reply.from(UPSTREAM_PATH, {
      rewriteRequestHeaders: (_req, headers) => ({ ...headers, authorization: 'Bearer k-0' }),
    });
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, app };
}

// ---------------------------------------------------------------- Patchbay

interface Patchbay {
  url: string;
  secretKey: string;
  system: System;
  dataDir: string;
}

async function startPatchbay(upstreamUrl: string): Promise<Patchbay> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-bench-'));
  // As root, the embedded PostgreSQL runs as `postgres` and must traverse this folder.
  await chmod(dataDir, 0o755);
  const providersFile = path.join(dataDir, 'providers.yaml');
  await writeFile(
    providersFile,
    YAML.stringify({
      'bench-api': { auth_mode: 'API_KEY', proxy: { base_url: upstreamUrl, headers: { authorization: 'Bearer ${apiKey}' } } },
    }),
  );
  const secretKey = randomUUID();
  const env: Record<string, string> = {
    PATCHBAY_DATA_DIR: dataDir,
    PATCHBAY_SECRET_KEY: secretKey,
    PATCHBAY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    PATCHBAY_ALLOW_PRIVATE_EGRESS: 'true',
    PATCHBAY_PROVIDERS_FILE: providersFile,
  };
  let system: System;
  try {
    // Patchbay's logs go to stderr: stdout carries only the JSON report.
    const logger = pino({ level: 'warn', base: { app: 'patchbay' } }, pino.destination(2));
    system = await startSystem(loadConfig(env), { roles: ['server'], logger });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return { url: system.url as string, secretKey, system, dataDir };
}

async function api(patchbay: Patchbay, method: 'POST', route: string, body: unknown): Promise<void> {
  const response = await request(`${patchbay.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${patchbay.secretKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${route} answered ${response.statusCode}: ${text}`);
}

async function seedPatchbay(patchbay: Patchbay): Promise<void> {
  await api(patchbay, 'POST', '/integrations', { provider: 'bench-api', unique_key: 'bench' });
  let next = 0;
  const worker = async () => {
    while (next < PATCHBAY_CONNECTIONS) {
      const i = next++;
      await api(patchbay, 'POST', '/connections', {
        provider_config_key: 'bench',
        connection_id: `c-${i}`,
        credentials: { type: 'API_KEY', apiKey: `k-${i}` },
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

// ---------------------------------------------------------------- scenarios

interface Scenario {
  name: 'direct' | 'replyFrom' | 'proxy' | 'proxyRotating';
  url: string;
  headers: Record<string, string>;
  /** For rotation: one request per Patchbay connection, each client starting at its own offset. */
  rotate?: boolean;
}

interface ScenarioResult {
  c1: LoadResult;
  c64: LoadResult;
}

function rotatingRequests(headers: Record<string, string>, offset: number): autocannon.Request[] {
  return Array.from({ length: PATCHBAY_CONNECTIONS }, (_, i) => ({
    method: 'GET',
    path: PROXY_PATH,
    headers: { ...headers, 'connection-id': `c-${(offset + i) % PATCHBAY_CONNECTIONS}` },
  }));
}

async function measure(scenario: Scenario, upstream: Upstream, connections: number, durationS: number): Promise<LoadResult> {
  let clients = 0;
  upstream.keys.clear();
  const result = await runLoad({
    url: scenario.url,
    connections,
    durationS,
    headers: scenario.headers,
    // Client k starts its cycle at c-<k * 1000 / connections>, so the clients spread over all
    // 1,000 connections at once. The request buffers are built once per client here, so rotating
    // costs the load generator nothing per request (a setupRequest hook would rebuild each one).
    setupClient: scenario.rotate
      ? (client) => client.setRequests(rotatingRequests(scenario.headers, Math.floor((clients++ * PATCHBAY_CONNECTIONS) / connections)))
      : undefined,
  });
  checkKeys(scenario, upstream.keys, connections, result.requests);
  return result;
}

/** The upstream must have seen exactly the API keys the scenario's connections hold. */
function checkKeys(scenario: Scenario, keys: Set<string>, connections: number, requests: number): void {
  const where = `${scenario.name} (${connections} connections)`;
  if (!scenario.rotate) {
    if (keys.size !== 1 || !keys.has('Bearer k-0')) throw new Error(`${where}: upstream saw API keys ${[...keys].slice(0, 5).join(', ')}, expected only k-0`);
    return;
  }
  // Each client walks its own stretch of 1000 / connections connections before reaching the next
  // client's start; with fewer requests than that per client, not every key can have been used.
  const enough = requests / connections >= 2 * Math.ceil(PATCHBAY_CONNECTIONS / connections);
  if (enough && keys.size !== PATCHBAY_CONNECTIONS) {
    throw new Error(`${where}: upstream saw ${keys.size} distinct API keys, expected ${PATCHBAY_CONNECTIONS}`);
  }
}

async function runScenario(scenario: Scenario, upstream: Upstream): Promise<ScenarioResult> {
  const results: Partial<Record<'c1' | 'c64', LoadResult>> = {};
  for (const connections of CONNECTION_COUNTS) {
    log(`${scenario.name}: warm-up ${WARMUP_S} s at ${connections} connection(s)`);
    await measure(scenario, upstream, connections, WARMUP_S);
    log(`${scenario.name}: ${DURATION_S} s at ${connections} connection(s)`);
    const result = await measure(scenario, upstream, connections, DURATION_S);
    log(`${scenario.name} c${connections}: ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms`);
    results[`c${connections}`] = result;
  }
  return results as ScenarioResult;
}

/** Sanity check before measuring: the path answers 200 with the upstream's exact body. */
async function checkPath(scenario: Scenario, upstream: Upstream): Promise<void> {
  const response = await request(scenario.url, { headers: scenario.headers });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200 || !bytes.equals(upstream.body)) {
    throw new Error(`${scenario.name}: expected 200 with the upstream body, got ${response.statusCode}: ${bytes.toString('utf8').slice(0, 300)}`);
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const upstream = await startUpstream();
    cleanup.push(() => upstream.close());
    log(`upstream ${upstream.url} (${upstream.body.length} byte body)`);

    const forwarder = await startReplyFrom(upstream.url);
    cleanup.push(() => forwarder.app.close());

    log('starting Patchbay (embedded PostgreSQL)');
    const patchbay = await startPatchbay(upstream.url);
    cleanup.push(async () => {
      await patchbay.system.stop();
      await rm(patchbay.dataDir, { recursive: true, force: true });
    });
    log(`Patchbay ${patchbay.url}; creating ${PATCHBAY_CONNECTIONS} connections`);
    await seedPatchbay(patchbay);

    const callerHeaders = {
      authorization: `Bearer ${patchbay.secretKey}`,
      'provider-config-key': 'bench',
      'connection-id': 'c-0',
    };
    const scenarios: Scenario[] = [
      // The upstream insists on an API key; direct callers send the one Patchbay would inject.
      { name: 'direct', url: `${upstream.url}${UPSTREAM_PATH}`, headers: { authorization: 'Bearer k-0' } },
      { name: 'replyFrom', url: `${forwarder.url}${PROXY_PATH}`, headers: callerHeaders },
      { name: 'proxy', url: `${patchbay.url}${PROXY_PATH}`, headers: callerHeaders },
      { name: 'proxyRotating', url: `${patchbay.url}${PROXY_PATH}`, headers: callerHeaders, rotate: true },
    ];
    for (const scenario of scenarios) {
      await checkPath(scenario, upstream);
    }

    const results: Partial<Record<Scenario['name'], ScenarioResult>> = {};
    for (const scenario of scenarios) results[scenario.name] = await runScenario(scenario, upstream);
    const { direct, replyFrom: forwarded, proxy, proxyRotating } = results as Record<Scenario['name'], ScenarioResult>;

    const ratio = (a: LoadResult, b: LoadResult) => round(a.rps / b.rps, 3);
    const ratios = {
      proxyVsReplyFrom_c64: ratio(proxy.c64, forwarded.c64),
      proxyRotatingVsReplyFrom_c64: ratio(proxyRotating.c64, forwarded.c64),
      proxyVsReplyFrom_c1: ratio(proxy.c1, forwarded.c1),
      proxyRotatingVsReplyFrom_c1: ratio(proxyRotating.c1, forwarded.c1),
      addedP50Ms_c1: round(proxy.c1.p50 - direct.c1.p50, 3),
      addedP50MsRotating_c1: round(proxyRotating.c1.p50 - direct.c1.p50, 3),
      replyFromAddedP50Ms_c1: round(forwarded.c1.p50 - direct.c1.p50, 3),
    };
    // One event loop serves the load generator, the upstream and the forwarder under test, so at
    // 64 connections 1/rps is roughly the CPU time per request of the whole path. Subtracting the
    // direct path leaves the forwarder's own cost per request, which the throughput ratio blurs.
    const perRequestUs = (r: LoadResult) => 1e6 / r.rps;
    const ownCostUs = (r: LoadResult) => round(perRequestUs(r) - perRequestUs(direct.c64), 1);
    const derived = {
      note: 'single event loop: per-request cost of the forwarder alone = 1/rps(path) - 1/rps(direct), at 64 connections',
      replyFromCostUs_c64: ownCostUs(forwarded.c64),
      proxyCostUs_c64: ownCostUs(proxy.c64),
      proxyRotatingCostUs_c64: ownCostUs(proxyRotating.c64),
      proxyCostVsReplyFrom_c64: round(ownCostUs(proxy.c64) / ownCostUs(forwarded.c64), 2),
      proxyRotatingCostVsReplyFrom_c64: round(ownCostUs(proxyRotating.c64) / ownCostUs(forwarded.c64), 2),
    };
    const report = {
      name: 'proxy',
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGb: round(os.totalmem() / 2 ** 30, 1),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
      },
      settings: {
        durationS: DURATION_S,
        warmupS: WARMUP_S,
        connections: CONNECTION_COUNTS,
        patchbayConnections: PATCHBAY_CONNECTIONS,
        upstreamBodyBytes: upstream.body.length,
        loadGenerator: 'autocannon 8, in-process (shares the event loop with upstream, forwarder and Patchbay)',
        latency: 'ms, percentiles of every 2xx response time (autocannon* fields: its whole-ms histogram)',
      },
      scenarios: { direct, replyFrom: forwarded, proxy, proxyRotating },
      ratios,
      derived,
      targets: { throughputRatio: '>= 0.85', addedP50Ms: '< 1' },
      pass: {
        throughput_c64: ratios.proxyVsReplyFrom_c64 >= 0.85,
        throughputRotating_c64: ratios.proxyRotatingVsReplyFrom_c64 >= 0.85,
        addedP50_c1: ratios.addedP50Ms_c1 < 1,
        addedP50Rotating_c1: ratios.addedP50MsRotating_c1 < 1,
      },
    };

    const json = JSON.stringify(report, null, 2);
    const resultsDir = path.join(BENCH_DIR, 'results');
    await mkdir(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `proxy-${report.date.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${json}\n`);
    process.stdout.write(`${json}\n`);
    log(`written to ${path.relative(process.cwd(), file)}`);
    return 0;
  } catch (error) {
    log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    for (const stop of cleanup.reverse()) {
      await stop().catch((error: unknown) => log(`stop failed: ${String(error)}`));
    }
  }
}

const code = await main();
process.exitCode = code;
// Everything has been closed; if a handle still keeps the process alive, say so rather than hang.
setTimeout(() => {
  log('a handle kept the process alive after shutdown; exiting');
  process.exit(code);
}, 10_000).unref();
