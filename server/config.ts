// The only reader of process.env. Validates every setting once, at start-up, and turns a bad
// value into one line naming the variable and the reason (ConfigError), never a stack trace.
import { isIP } from 'node:net';
import path from 'node:path';
import { DEFAULT_MAX_HOLD_MS } from './proxy/pacer.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** Unset: Patchbay runs its own embedded PostgreSQL under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Unset: generated once and kept in `dataDir`. */
  secretKey: string | undefined;
  /** 32 bytes, from 64 hex chars or base64. Unset: generated once and kept in `dataDir`. */
  encryptionKey: Buffer | undefined;
  port: number;
  host: string;
  logLevel: LogLevel;
  providersFile: string | undefined;
  functionsDir: string;
  allowPrivateEgress: boolean;
  /** Functions may use connections of integrations other than their own (off: a function's reach is its integration). */
  functionsCrossIntegration: boolean;
  proxyMaxWaitMs: number;
  /** Longest a provider's rate-limit headers may hold a connection's calls; longer announced waits are ignored. */
  pacingMaxHoldMs: number;
  /** Largest request body accepted on any route, /proxy uploads included. */
  maxBodyBytes: number;
  /** Days a log operation is kept before the retention sweep deletes it. */
  logRetentionDays: number;
  /** Functions one runner process runs at once (one isolate each). */
  runnerConcurrency: number;
  /**
   * The URL browsers reach Patchbay at (PATCHBAY_PUBLIC_URL): OAuth redirect URIs and Connect
   * links are built on it. Unset: http://localhost:<port>, or the HOST it listens on.
   */
  publicUrl: string | undefined;
  /**
   * PATCHBAY_TRUST_PROXY: which peers' X-Forwarded-For (and -Proto, -Host) are believed, so that
   * `request.ip` is the client behind a reverse proxy (the login throttle keys by it). false
   * (default): none, the peer's address is the client's; true: every peer (only when Patchbay is
   * reachable through the proxy alone); or the proxies' addresses and CIDR ranges.
   */
  trustProxy: boolean | string[];
  /** Where `patchbay deploy` sends the functions (PATCHBAY_URL; default: this machine's port). */
  serverUrl: string;
  /**
   * Whether PATCHBAY_URL or PORT said where the server is. Unset, `patchbay deploy` and `dryrun`
   * ask the data directory for the running server's address (bin/data-dir.ts) before `serverUrl`.
   */
  serverUrlGiven: boolean;
  /** Type-check functions when deploying (`start`, `deploy`); off trades safety for speed. */
  typecheckFunctions: boolean;
  /** Days after which a deleted record's payload is pruned (its id and metadata stay). */
  recordPruneDays: number;
  /** The app's webhook URL (a connection's `webhook_url_override` wins). Unset: no webhooks. */
  webhookUrl: string | undefined;
  /** Signs webhooks (HMAC-SHA256). Unset: the secret key, which `@nangohq/node` falls back to. */
  webhookSecret: string | undefined;
  /** Attempts per webhook delivery before it is given up (the first one included). */
  webhookMaxAttempts: number;
  /** Wait before the first retry of a delivery; it doubles with each further retry. */
  webhookRetryBaseMs: number;
  /** Longest a webhook request may take before it counts as a network failure. */
  webhookTimeoutMs: number;
  /** Serve GET /metrics without the secret key (PATCHBAY_METRICS_PUBLIC), for scrapers on a private network. */
  metricsPublic: boolean;
  /**
   * PATCHBAY_METRICS_PORT: a `patchbay runner` process (no HTTP API) serves GET /metrics on this
   * port (0: any free one). Unset: it serves none. Ignored where the HTTP API runs (it has /metrics).
   */
  metricsPort: number | undefined;
  /**
   * What functions' `nango.getEnvironmentVariables()` answers: each PATCHBAY_FUNCTION_ENV_<NAME>
   * as `{name: '<NAME>', value}`, sorted by name. Nothing else of the environment reaches a function.
   */
  functionEnvironment: { name: string; value: string }[];
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// 60 s: long enough for the per-minute windows most providers use, short enough that a
// caller's HTTP client (often 60-120 s timeouts) is still waiting when we answer.
const DEFAULT_PROXY_MAX_WAIT_MS = 60_000;
// 75 MB matches Nango's public body limit, so uploads that work there work here.
const DEFAULT_MAX_BODY_BYTES = 75 * 1024 * 1024;
const DEFAULT_LOG_RETENTION_DAYS = 15;
// 30 days: an app polling /records daily has long seen the deletion; the payload of a deleted
// record is then only storage.
const DEFAULT_RECORD_PRUNE_DAYS = 30;
// 16 isolates: most runs wait on provider APIs, not on the CPU, so a runner on 2 cores keeps
// 16 busy; each isolate's heap is capped (128 MB by default) and small when idle.
const DEFAULT_RUNNER_CONCURRENCY = 16;
// 6 attempts, retries 1, 2, 4, 8, 16 min apart (with jitter): an app that is down for a deploy
// or a short outage still gets its webhooks, and a dead endpoint is given up within ~30 min.
const DEFAULT_WEBHOOK_MAX_ATTEMPTS = 6;
const DEFAULT_WEBHOOK_RETRY_BASE_MS = 60_000;
// 10 s: a receiver should acknowledge and work later; Nango's own default is of this order.
const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

type Env = Record<string, string | undefined>;

/** Reads and validates the configuration; throws ConfigError on the first bad value. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const port = parseInteger(env, 'PORT', 3003, 0, 65_535);
  const dataDir = path.resolve(cwd, nonEmpty(env, 'PATCHBAY_DATA_DIR') ?? '.data');
  const providersFile = nonEmpty(env, 'PATCHBAY_PROVIDERS_FILE');
  return {
    databaseUrl: parseDatabaseUrl(env),
    dataDir,
    secretKey: parseSecretKey(env),
    encryptionKey: parseEncryptionKey(env),
    port,
    host: nonEmpty(env, 'HOST') ?? '0.0.0.0',
    logLevel: parseLogLevel(env),
    providersFile: providersFile === undefined ? undefined : path.resolve(cwd, providersFile),
    functionsDir: path.resolve(cwd, nonEmpty(env, 'PATCHBAY_FUNCTIONS_DIR') ?? 'functions'),
    allowPrivateEgress: parseBoolean(env, 'PATCHBAY_ALLOW_PRIVATE_EGRESS', false),
    functionsCrossIntegration: parseBoolean(env, 'PATCHBAY_FUNCTIONS_CROSS_INTEGRATION', false),
    proxyMaxWaitMs: parseInteger(env, 'PATCHBAY_PROXY_MAX_WAIT_MS', DEFAULT_PROXY_MAX_WAIT_MS, 0, 3_600_000),
    pacingMaxHoldMs: parseInteger(env, 'PATCHBAY_PACING_MAX_HOLD_MS', DEFAULT_MAX_HOLD_MS, 1000, 86_400_000),
    maxBodyBytes: parseInteger(env, 'PATCHBAY_MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, 1024, 2 ** 31 - 1),
    logRetentionDays: parseInteger(env, 'PATCHBAY_LOG_RETENTION_DAYS', DEFAULT_LOG_RETENTION_DAYS, 1, 3650),
    recordPruneDays: parseInteger(env, 'PATCHBAY_RECORD_PRUNE_DAYS', DEFAULT_RECORD_PRUNE_DAYS, 1, 3650),
    runnerConcurrency: parseInteger(env, 'PATCHBAY_RUNNER_CONCURRENCY', DEFAULT_RUNNER_CONCURRENCY, 1, 256),
    typecheckFunctions: parseBoolean(env, 'PATCHBAY_TYPECHECK_FUNCTIONS', true),
    serverUrl: parseServerUrl(env, port),
    serverUrlGiven: nonEmpty(env, 'PATCHBAY_URL') !== undefined || nonEmpty(env, 'PORT') !== undefined,
    publicUrl: parsePublicUrl(env),
    trustProxy: parseTrustProxy(env),
    webhookUrl: parseWebhookUrl(env),
    webhookSecret: parseWebhookSecret(env),
    webhookMaxAttempts: parseInteger(env, 'PATCHBAY_WEBHOOK_MAX_ATTEMPTS', DEFAULT_WEBHOOK_MAX_ATTEMPTS, 1, 20),
    webhookRetryBaseMs: parseInteger(env, 'PATCHBAY_WEBHOOK_RETRY_BASE_MS', DEFAULT_WEBHOOK_RETRY_BASE_MS, 10, 3_600_000),
    webhookTimeoutMs: parseInteger(env, 'PATCHBAY_WEBHOOK_TIMEOUT_MS', DEFAULT_WEBHOOK_TIMEOUT_MS, 100, 120_000),
    metricsPublic: parseBoolean(env, 'PATCHBAY_METRICS_PUBLIC', false),
    metricsPort: nonEmpty(env, 'PATCHBAY_METRICS_PORT') === undefined ? undefined : parseInteger(env, 'PATCHBAY_METRICS_PORT', 0, 0, 65_535),
    functionEnvironment: parseFunctionEnvironment(env),
  };
}

const FUNCTION_ENV_PREFIX = 'PATCHBAY_FUNCTION_ENV_';
// Settings and API keys, not files: 100 of them of 32 KiB at most keep every run's copy small.
const MAX_FUNCTION_ENV_VARIABLES = 100;
const MAX_FUNCTION_ENV_VALUE_CHARS = 32 * 1024;

function parseFunctionEnvironment(env: Env): { name: string; value: string }[] {
  const variables: { name: string; value: string }[] = [];
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith(FUNCTION_ENV_PREFIX) || value === undefined) continue;
    const name = variable.slice(FUNCTION_ENV_PREFIX.length);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigError(variable, `must be ${FUNCTION_ENV_PREFIX} followed by a name of letters, digits and _`);
    if (value.length > MAX_FUNCTION_ENV_VALUE_CHARS) throw new ConfigError(variable, `must be at most ${MAX_FUNCTION_ENV_VALUE_CHARS} characters`);
    variables.push({ name, value });
  }
  if (variables.length > MAX_FUNCTION_ENV_VARIABLES) throw new ConfigError(FUNCTION_ENV_PREFIX, `at most ${MAX_FUNCTION_ENV_VARIABLES} variables are passed to functions`);
  return variables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function parseWebhookUrl(env: Env): string | undefined {
  const value = nonEmpty(env, 'PATCHBAY_WEBHOOK_URL');
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('PATCHBAY_WEBHOOK_URL', 'must be an http(s) URL like https://app.example.com/webhooks/patchbay');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('PATCHBAY_WEBHOOK_URL', 'must be an http(s) URL like https://app.example.com/webhooks/patchbay');
  }
  return url.href;
}

function parseWebhookSecret(env: Env): string | undefined {
  const value = nonEmpty(env, 'PATCHBAY_WEBHOOK_SECRET');
  if (value === undefined) return undefined;
  // The app holds the same value to verify signatures: short keys are guessable.
  if (value.length < 16 || value.length > 256) throw new ConfigError('PATCHBAY_WEBHOOK_SECRET', 'must be 16-256 characters');
  return value;
}

function parsePublicUrl(env: Env): string | undefined {
  const value = nonEmpty(env, 'PATCHBAY_PUBLIC_URL');
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('PATCHBAY_PUBLIC_URL', 'must be an http(s) URL like https://patchbay.example.com');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new ConfigError('PATCHBAY_PUBLIC_URL', 'must be an http(s) URL without query or fragment, like https://patchbay.example.com');
  }
  return url.href.replace(/\/+$/, '');
}

function parseServerUrl(env: Env, port: number): string {
  const value = nonEmpty(env, 'PATCHBAY_URL');
  if (value === undefined) return `http://127.0.0.1:${port}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('PATCHBAY_URL', 'must be an http(s) URL like http://patchbay.internal:3003');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('PATCHBAY_URL', 'must be an http(s) URL like http://patchbay.internal:3003');
  return url.href.replace(/\/$/, '');
}

function nonEmpty(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function parseDatabaseUrl(env: Env): string | undefined {
  const value = nonEmpty(env, 'DATABASE_URL');
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a URL (expected postgres://user:password@host:5432/db)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', `must start with postgres:// or postgresql:// (got ${url.protocol}//)`);
  }
  return value;
}

function parseSecretKey(env: Env): string | undefined {
  const value = nonEmpty(env, 'PATCHBAY_SECRET_KEY');
  if (value === undefined) return undefined;
  // Long enough to resist guessing, and only characters that survive an HTTP header intact.
  if (value.length < 16 || value.length > 256 || !/^[\x21-\x7e]+$/.test(value)) {
    throw new ConfigError('PATCHBAY_SECRET_KEY', 'must be 16-256 printable characters without spaces');
  }
  return value;
}

function parseEncryptionKey(env: Env): Buffer | undefined {
  const value = nonEmpty(env, 'PATCHBAY_ENCRYPTION_KEY');
  if (value === undefined) return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(value)) {
    const key = Buffer.from(value, 'base64');
    if (key.length === 32) return key;
  }
  throw new ConfigError('PATCHBAY_ENCRYPTION_KEY', 'must be 32 bytes, as 64 hex characters or 44 base64 characters');
}

function parseInteger(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = nonEmpty(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `must be a whole number (got '${value}')`);
  const parsed = Number(value);
  if (parsed < min || parsed > max) throw new ConfigError(name, `must be between ${min} and ${max} (got ${parsed})`);
  return parsed;
}

function parseBoolean(env: Env, name: string, fallback: boolean): boolean {
  const value = nonEmpty(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(name, `must be true or false (got '${value}')`);
}

function parseTrustProxy(env: Env): boolean | string[] {
  const value = nonEmpty(env, 'PATCHBAY_TRUST_PROXY');
  if (value === undefined || ['false', '0'].includes(value.toLowerCase())) return false;
  if (['true', '1'].includes(value.toLowerCase())) return true;
  const entries = value.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !prefixOk || rest.length > 0) {
      throw new ConfigError('PATCHBAY_TRUST_PROXY', `must be true, false or the proxies' addresses and CIDR ranges, comma-separated (got '${entry}')`);
    }
  }
  return entries;
}

function parseLogLevel(env: Env): LogLevel {
  const value = nonEmpty(env, 'LOG_LEVEL')?.toLowerCase() ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got '${value}')`);
  }
  return value as LogLevel;
}
