import { createRequire } from 'node:module';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';

/** Nango's own catalog, from the pinned @nangohq/providers (same version as @nangohq/node). */
const NANGO_PROVIDERS = path.join(path.dirname(createRequire(import.meta.url).resolve('@nangohq/providers/package.json')), 'providers.yaml');

interface LogLine {
  level: number;
  msg: string;
  skipped?: number;
  entries?: number;
  authModes?: Record<string, number>;
}

describe("providers: PATCHBAY_PROVIDERS_FILE pointing at Nango's providers.yaml", () => {
  let patchbay: TestPatchbay;
  const lines: LogLine[] = [];

  beforeAll(async () => {
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as LogLine);
          done();
        },
      }),
    );
    patchbay = await startPatchbay({ label: 'providers-nango', roles: ['server'], env: { PATCHBAY_PROVIDERS_FILE: NANGO_PROVIDERS }, logger });
  });
  afterAll(() => patchbay?.stop());

  it('starts and reports the skipped entries in one warning', async () => {
    expect((await patchbay.request('GET', '/health')).status).toBe(200);
    const warnings = lines.filter((line) => line.msg.includes('skipped'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, skipped: expect.any(Number), entries: expect.any(Number), authModes: { MCP_OAUTH2_GENERIC: 2 } });
    expect(warnings[0]?.msg).toContain(`providers file ${NANGO_PROVIDERS}: skipped ${warnings[0]?.skipped} of ${warnings[0]?.entries} entries`);
  });

  it.each([
    ['github', 'GitHub (User OAuth)'],
    ['slack', 'Slack'],
    ['salesforce', 'Salesforce'],
    ['zendesk', 'Zendesk'],
    ['hubspot', 'HubSpot'],
    ['notion', 'Notion'],
    // Only in Nango's catalog.
    ['google-mail', 'Gmail'],
    ['8x8', '8x8'],
  ])('creates an integration of %s, named as Nango names it', async (provider, displayName) => {
    const res = await patchbay.request('POST', '/integrations', { body: { provider, unique_key: `nango-${provider}` } });
    expect(res.status).toBe(200);
    expect(res.json.data.display_name).toBe(displayName);
  });

  it('answers a skipped provider with the reason it was skipped', async () => {
    const res = await patchbay.request('POST', '/integrations', { body: { provider: 'mcp-generic', unique_key: 'mcp' } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_body');
    expect(res.json.error.errors[0].message).toContain(`Provider 'mcp-generic' was skipped when the providers file was loaded: auth_mode: "MCP_OAUTH2_GENERIC"`);
  });
});
