// startPatchbay(): the real system (same composition root as bin/), on its own database and a
// free port, with small test bounds. Never imported by source code.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getGlobalDispatcher } from 'undici';
import YAML from 'yaml';
import { startSystem, type Role, type System, type SystemOptions } from '../../bin/system.js';
import { loadConfig } from '../../server/config.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
  bytes: Buffer;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: unknown;
  /** Send the body bytes as they are (no JSON encoding). */
  raw?: Buffer;
  /** Send without the secret key (auth tests). */
  auth?: false | string;
}

export interface TestPatchbay {
  url: string;
  secretKey: string;
  encryptionKey: string;
  database: TestDatabase;
  system: System;
  /** The environment this instance was started with (to start a twin process on the same data). */
  env: Record<string, string>;
  request(method: string, route: string, options?: RequestOptions): Promise<TestResponse>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Names the database (a hash of it), e.g. the test file's name. */
  label: string;
  env?: Record<string, string>;
  /** Entries written to a PATCHBAY_PROVIDERS_FILE (override or add providers). */
  providers?: Record<string, unknown>;
  roles?: Role[];
  /** Reuse an existing database (a second process on the same data). */
  database?: TestDatabase;
  secretKey?: string;
  encryptionKey?: string;
  /** Backoffs and timeouts of the proxy engine (defaults: small, so retry tests stay fast). */
  proxyTuning?: { baseBackoffMs?: number; maxBackoffMs?: number; headersTimeoutMs?: number; bodyTimeoutMs?: number };
  /** Functions to bundle and deploy at start (as `patchbay start` does). */
  functionsDir?: string;
  /** Runner timers and deadlines (defaults: short, so recovery tests stay fast). */
  runnerTuning?: SystemOptions['runnerTuning'];
  /** Run the runner on its own thread, as `patchbay start` does (default: in the test's thread). */
  runnerThread?: boolean;
  /** Receives the system's log lines (default: a logger at LOG_LEVEL). */
  logger?: SystemOptions['logger'];
}

export async function startPatchbay(options: StartOptions): Promise<TestPatchbay> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-test-data-'));
  const database = options.database ?? (await createTestDatabase(options.label));
  const secretKey = options.secretKey ?? randomUUID();
  const encryptionKey = options.encryptionKey ?? randomBytes(32).toString('hex');
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    PATCHBAY_DATA_DIR: dataDir,
    PATCHBAY_SECRET_KEY: secretKey,
    PATCHBAY_ENCRYPTION_KEY: encryptionKey,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PATCHBAY_ALLOW_PRIVATE_EGRESS: 'true',
    PATCHBAY_RUNNER_CONCURRENCY: '4',
    ...(options.functionsDir === undefined ? {} : { PATCHBAY_FUNCTIONS_DIR: options.functionsDir }),
    ...options.env,
  };
  if (options.providers !== undefined) {
    const file = path.join(dataDir, 'providers.yaml');
    await writeFile(file, YAML.stringify(options.providers));
    env.PATCHBAY_PROVIDERS_FILE = file;
  }
  const system = await startSystem(loadConfig(env), {
    roles: options.roles ?? ['server', 'runner'],
    proxyTuning: { baseBackoffMs: 40, maxBackoffMs: 400, ...options.proxyTuning },
    deployFunctions: options.functionsDir !== undefined,
    runnerTuning: { pollMs: 500, heartbeatMs: 200, staleMs: 1500, reapMs: 300, stopGraceMs: 2000, ...options.runnerTuning },
    runnerThread: options.runnerThread ?? false,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const url = system.url ?? '';

  return {
    url,
    secretKey,
    encryptionKey,
    database,
    system,
    env,
    async request(method, route, requestOptions = {}) {
      const headers: Record<string, string> = { ...requestOptions.headers };
      if (requestOptions.auth !== false) headers.authorization ??= `Bearer ${requestOptions.auth ?? secretKey}`;
      let body: string | Buffer | undefined = requestOptions.raw;
      if (requestOptions.body !== undefined) {
        body = typeof requestOptions.body === 'string' ? requestOptions.body : JSON.stringify(requestOptions.body);
        headers['content-type'] ??= 'application/json';
      }
      // The path goes out exactly as written (no URL normalisation of '..' or '\\'), as a raw client would send it.
      const response = await getGlobalDispatcher().request({ origin: url, path: route, method: method as 'GET', headers, body });
      const bytes = Buffer.from(await response.body.arrayBuffer());
      const text = bytes.toString('utf8');
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.statusCode, headers: response.headers, text, json, bytes };
    },
    async stop() {
      await system.stop();
      if (options.database === undefined) await database.release();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates an integration and one OAuth2 connection on it, failing the test if either is refused. */
export async function addConnection(
  patchbay: TestPatchbay,
  options: { provider: string; providerConfigKey: string; connectionId: string; accessToken: string },
): Promise<void> {
  const integration = await patchbay.request('POST', '/integrations', { body: { provider: options.provider, unique_key: options.providerConfigKey } });
  if (integration.status !== 200) throw new Error(`integration refused: ${integration.status} ${integration.text}`);
  const connection = await patchbay.request('POST', '/connections', {
    body: { provider_config_key: options.providerConfigKey, connection_id: options.connectionId, credentials: { type: 'OAUTH2', access_token: options.accessToken } },
  });
  if (connection.status !== 201) throw new Error(`connection refused: ${connection.status} ${connection.text}`);
}
