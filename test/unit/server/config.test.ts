import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../server/config.js';

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env, '/srv/app');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config).toMatchObject({
      databaseUrl: undefined,
      dataDir: '/srv/app/.data',
      secretKey: undefined,
      encryptionKey: undefined,
      port: 3003,
      host: '0.0.0.0',
      logLevel: 'info',
      providersFile: undefined,
      functionsDir: '/srv/app/functions',
      allowPrivateEgress: false,
      functionsCrossIntegration: false,
      proxyMaxWaitMs: 60_000,
      pacingMaxHoldMs: 3_600_000,
    });
  });

  it('reads every variable it documents', () => {
    const key = 'ab'.repeat(32);
    const config = loadConfig(
      {
        DATABASE_URL: 'postgres://u:p@db:5432/patchbay',
        PATCHBAY_DATA_DIR: 'state',
        PATCHBAY_SECRET_KEY: 'a-long-enough-secret-key',
        PATCHBAY_ENCRYPTION_KEY: key,
        PORT: '8080',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'DEBUG',
        PATCHBAY_PROVIDERS_FILE: 'extra.yaml',
        PATCHBAY_FUNCTIONS_DIR: '/fns',
        PATCHBAY_ALLOW_PRIVATE_EGRESS: 'true',
        PATCHBAY_PROXY_MAX_WAIT_MS: '5000',
        PATCHBAY_FUNCTIONS_CROSS_INTEGRATION: 'true',
        PATCHBAY_PACING_MAX_HOLD_MS: '120000',
      },
      '/srv/app',
    );
    expect(config).toMatchObject({
      databaseUrl: 'postgres://u:p@db:5432/patchbay',
      dataDir: '/srv/app/state',
      secretKey: 'a-long-enough-secret-key',
      port: 8080,
      host: '127.0.0.1',
      logLevel: 'debug',
      providersFile: '/srv/app/extra.yaml',
      functionsDir: '/fns',
      allowPrivateEgress: true,
      functionsCrossIntegration: true,
      proxyMaxWaitMs: 5000,
      pacingMaxHoldMs: 120_000,
    });
    expect(config.encryptionKey?.toString('hex')).toBe(key);
  });

  it('trusts no proxy by default; PATCHBAY_TRUST_PROXY names the proxies, or all of them', () => {
    expect(loadConfig({}, '/srv/app').trustProxy).toBe(false);
    expect(loadConfig({ PATCHBAY_TRUST_PROXY: 'false' }, '/srv/app').trustProxy).toBe(false);
    expect(loadConfig({ PATCHBAY_TRUST_PROXY: 'true' }, '/srv/app').trustProxy).toBe(true);
    expect(loadConfig({ PATCHBAY_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8' }, '/srv/app').trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
    for (const bad of ['yes', 'nginx', '10.0.0.0/33', '10.0.0.1/8/8', '::1/129', '127.0.0.1,']) {
      expect(errorOf({ PATCHBAY_TRUST_PROXY: bad })).toMatch(/^PATCHBAY_TRUST_PROXY must be true, false or the proxies' addresses/);
    }
  });

  it('sends no webhooks by default, and retries a delivery 6 times starting a minute apart', () => {
    expect(loadConfig({}, '/srv/app')).toMatchObject({
      webhookUrl: undefined,
      webhookSecret: undefined,
      webhookMaxAttempts: 6,
      webhookRetryBaseMs: 60_000,
      webhookTimeoutMs: 10_000,
    });
  });

  it('reads the webhook settings', () => {
    const config = loadConfig({
      PATCHBAY_WEBHOOK_URL: 'https://app.example.com/hooks?team=1',
      PATCHBAY_WEBHOOK_SECRET: 'a-webhook-signing-key',
      PATCHBAY_WEBHOOK_MAX_ATTEMPTS: '3',
      PATCHBAY_WEBHOOK_RETRY_BASE_MS: '50',
      PATCHBAY_WEBHOOK_TIMEOUT_MS: '2000',
    });
    expect(config).toMatchObject({
      webhookUrl: 'https://app.example.com/hooks?team=1',
      webhookSecret: 'a-webhook-signing-key',
      webhookMaxAttempts: 3,
      webhookRetryBaseMs: 50,
      webhookTimeoutMs: 2000,
    });
  });

  it('accepts a base64 encryption key of 32 bytes', () => {
    const key = Buffer.alloc(32, 7);
    expect(loadConfig({ PATCHBAY_ENCRYPTION_KEY: key.toString('base64') }).encryptionKey).toEqual(key);
  });

  it.each([
    [{ PORT: 'abc' }, "PORT must be a whole number (got 'abc')"],
    [{ PORT: '70000' }, 'PORT must be between 0 and 65535 (got 70000)'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL must start with postgres:// or postgresql:// (got mysql://)'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL is not a URL'],
    [{ PATCHBAY_SECRET_KEY: 'short' }, 'PATCHBAY_SECRET_KEY must be 16-256 printable characters without spaces'],
    [{ PATCHBAY_ENCRYPTION_KEY: 'deadbeef' }, 'PATCHBAY_ENCRYPTION_KEY must be 32 bytes'],
    [{ LOG_LEVEL: 'loud' }, "LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got 'loud')"],
    [{ PATCHBAY_ALLOW_PRIVATE_EGRESS: 'yes' }, "PATCHBAY_ALLOW_PRIVATE_EGRESS must be true or false (got 'yes')"],
    [{ PATCHBAY_PROXY_MAX_WAIT_MS: '-1' }, "PATCHBAY_PROXY_MAX_WAIT_MS must be a whole number (got '-1')"],
    [{ PATCHBAY_WEBHOOK_URL: 'ftp://app.example.com/hook' }, 'PATCHBAY_WEBHOOK_URL must be an http(s) URL'],
    [{ PATCHBAY_WEBHOOK_URL: 'not a url' }, 'PATCHBAY_WEBHOOK_URL must be an http(s) URL'],
    [{ PATCHBAY_WEBHOOK_SECRET: 'short' }, 'PATCHBAY_WEBHOOK_SECRET must be 16-256 characters'],
    [{ PATCHBAY_WEBHOOK_MAX_ATTEMPTS: '0' }, 'PATCHBAY_WEBHOOK_MAX_ATTEMPTS must be between 1 and 20 (got 0)'],
    [{ PATCHBAY_WEBHOOK_RETRY_BASE_MS: '1.5' }, "PATCHBAY_WEBHOOK_RETRY_BASE_MS must be a whole number (got '1.5')"],
    [{ PATCHBAY_WEBHOOK_TIMEOUT_MS: '10' }, 'PATCHBAY_WEBHOOK_TIMEOUT_MS must be between 100 and 120000 (got 10)'],
  ])('rejects %j with a message naming the variable', (env, message) => {
    expect(errorOf(env)).toContain(message);
  });
});
