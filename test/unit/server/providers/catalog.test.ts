import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CatalogError, loadCatalog, type Catalog, type CatalogWarning } from '../../../../server/providers/catalog.js';

/** Nango's own catalog, from the pinned @nangohq/providers (same version as @nangohq/node). */
const NANGO_PROVIDERS = path.join(path.dirname(createRequire(import.meta.url).resolve('@nangohq/providers/package.json')), 'providers.yaml');

const dir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-catalog-'));
let files = 0;
function providersFile(entries: Record<string, unknown> | string): string {
  const file = path.join(dir, `providers-${++files}.yaml`);
  writeFileSync(file, typeof entries === 'string' ? entries : YAML.stringify(entries));
  return file;
}

function load(file: string | undefined): { catalog: Catalog; warnings: { message: string; details: CatalogWarning }[] } {
  const warnings: { message: string; details: CatalogWarning }[] = [];
  const catalog = loadCatalog(file, { onWarning: (message, details) => warnings.push({ message, details }) });
  return { catalog, warnings };
}

/** A file large enough to be taken for a third-party catalog, with `extra` entries added. */
function thirdPartyCatalog(extra: Record<string, unknown>): string {
  const entries: Record<string, unknown> = {};
  for (let i = 0; i < 120; i++) entries[`vendor-${i}`] = { auth_mode: 'API_KEY', proxy: { base_url: `https://api.vendor-${i}.com` } };
  return providersFile({ ...entries, ...extra });
}

describe("provider catalog: Nango's providers.yaml", () => {
  // How long this takes is measured by bench:footprint (`start.catalog`), not asserted here.
  const { catalog, warnings } = load(NANGO_PROVIDERS);

  it('loads, with every entry Patchbay cannot use counted in one warning', () => {
    expect(warnings).toHaveLength(1);
    const [warning] = warnings;
    const skipped = catalog.skipped();
    expect(skipped.length).toBeGreaterThan(0);
    expect(warning?.details.skipped).toBe(skipped.length);
    expect(warning?.details.entries).toBeGreaterThan(900);
    expect(warning?.message).toContain(`skipped ${skipped.length} of ${warning?.details.entries} entries`);
    expect(warning?.details.authModes).toMatchObject({ MCP_OAUTH2_GENERIC: 2 });
    expect(catalog.keys().length).toBeGreaterThan(900);
  });

  it.each([
    ['github', 'OAUTH2', 'https://api.github.com'],
    ['slack', 'OAUTH2', 'https://slack.com/api'],
    ['salesforce', 'OAUTH2', '${connectionConfig.instance_url}'],
    ['zendesk', 'OAUTH2', 'https://${connectionConfig.subdomain}.zendesk.com'],
    ['hubspot', 'OAUTH2', 'https://api.hubapi.com'],
    ['notion', 'OAUTH2', 'https://api.notion.com'],
    ['openai', 'API_KEY', 'https://api.openai.com'],
    ['twilio', 'BASIC', 'https://api.twilio.com'],
  ])('has %s as %s on %s', (key, authMode, baseUrl) => {
    expect(catalog.get(key)).toMatchObject({ authMode, proxy: { baseUrl } });
  });

  it('reads what the OAuth2 Connect flow needs in the Provider', () => {
    expect(catalog.get('slack')).toMatchObject({ scopeSeparator: ',', disablePkce: true, tokenResponseMetadata: expect.arrayContaining(['team.id', 'bot_user_id']) });
    expect(catalog.get('salesforce')).toMatchObject({
      authorizationUrl: 'https://${connectionConfig.hostname}/services/oauth2/authorize || https://login.salesforce.com/services/oauth2/authorize',
      defaultScopes: ['offline_access'],
      tokenResponseMetadata: ['instance_url'],
      connectionConfig: { instance_url: { automated: true, format: 'uri' }, hostname: { optional: true, prefix: 'https://' } },
      // Patchbay's own allowed_hosts survive the merge with Nango's entry.
      proxy: { allowedHosts: ['*.salesforce.com', '*.force.com'] },
    });
    expect(catalog.get('zendesk')?.connectionConfig.subdomain).toMatchObject({ pattern: '^[a-z0-9_-]+$', prefix: 'https://', suffix: '.zendesk.com' });
    expect(catalog.get('notion')).toMatchObject({ authorizationMethod: 'header', bodyFormat: 'json', authorizationParams: { owner: 'user' } });
    // Nango's `token_request_auth_method: basic`: the client authenticates with a Basic header.
    expect(catalog.get('8x8')).toMatchObject({ authMode: 'OAUTH2_CC', authorizationMethod: 'header' });
    expect(catalog.get('tiktok-accounts')?.authorizationUrlReplacements).toEqual({ client_id: 'client_key' });
    expect(catalog.get('amazon-selling-partner')?.redirectUriMetadata).toEqual(['selling_partner_id']);
  });

  it('reads credential fields and verification endpoints for API_KEY and BASIC', () => {
    expect(catalog.get('openai')?.credentialFields.apiKey).toMatchObject({ title: 'API Key' });
    expect(catalog.get('openai')?.proxy.verification).toEqual({
      method: 'GET',
      endpoints: ['/v1/models'],
      baseUrlOverride: undefined,
      headers: { 'content-type': 'application/json' },
      data: undefined,
    });
    expect(catalog.get('twilio')?.proxy.verification?.endpoints).toEqual(['/2010-04-01/Accounts/${credentials.username}/Messages.json']);
  });

  it('resolves aliases as Nango does: the alias entry on top of its target', () => {
    expect(catalog.get('google-mail')).toMatchObject({ displayName: 'Gmail', authMode: 'OAUTH2', tokenUrl: 'https://oauth2.googleapis.com/token', proxy: { baseUrl: 'https://gmail.googleapis.com' } });
  });

  it('takes an entry of another auth mode as a different provider, not a merge (stripe is Stripe Connect in Nango)', () => {
    const stripe = catalog.get('stripe');
    expect(stripe?.authMode).toBe('OAUTH2');
    expect(stripe?.proxy.headers).toEqual({});
    expect(stripe?.proxy.verification).toBeUndefined();
  });

  it('says why a skipped provider is missing', () => {
    expect(catalog.get('mcp-generic')).toBeUndefined();
    expect(catalog.whySkipped('mcp-generic')).toContain('"MCP_OAUTH2_GENERIC" is not an auth mode Patchbay knows');
    expect(catalog.whySkipped('github')).toBeUndefined();
  });
});

describe('provider catalog: the bundled file and small operator files', () => {
  it('loads the bundled catalog without warnings', () => {
    const { catalog, warnings } = load(undefined);
    expect(warnings).toEqual([]);
    expect(catalog.skipped()).toEqual([]);
    expect(catalog.get('airtable')).toMatchObject({ authorizationMethod: 'header', scopeSeparator: ' ', authorizationParams: { response_type: 'code' } });
    expect(catalog.get('jira')?.connectionConfig.cloudId).toMatchObject({ title: 'Cloud ID', optional: true, automated: false });
    // Nango's base URL, so functions written for Nango (`/ex/jira/${cloudId}/rest/api/3/…`) call the same URLs.
    expect(catalog.get('jira')?.proxy.baseUrl).toBe('https://api.atlassian.com');
    expect(catalog.get('confluence')?.proxy.baseUrl).toBe('https://api.atlassian.com');
  });

  it('stops on an unknown auth mode in an operator file (a typo), naming the entry', () => {
    const file = providersFile({ acme: { auth_mode: 'OAUTH', proxy: { base_url: 'https://api.acme.com' } } });
    expect(() => loadCatalog(file)).toThrow(CatalogError);
    expect(() => loadCatalog(file)).toThrow(`provider acme in ${file} is invalid: auth_mode: "OAUTH" is not an auth mode Patchbay knows`);
  });

  it('stops on a field of the wrong shape in an operator file', () => {
    const file = providersFile({ acme: { auth_mode: 'API_KEY', proxy: { base_url: 'https://api.acme.com', verification: { endpoints: '/me' } } } });
    expect(() => loadCatalog(file)).toThrow(/provider acme in .* is invalid: proxy\.verification\.endpoints: /);
  });

  it('stops on a file that is not YAML, however large', () => {
    const broken = `${YAML.stringify(Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`vendor-${i}`, { auth_mode: 'API_KEY' }])))}\nbroken: [unclosed\n`;
    expect(() => loadCatalog(providersFile(broken))).toThrow(/is not valid YAML/);
  });

  it('maps Nango field names into camelCase', () => {
    const { catalog } = load(
      providersFile({
        acme: {
          auth_mode: 'OAUTH2',
          authorization_url: 'https://${connectionConfig.subdomain}.acme.com/oauth/authorize',
          authorization_params: { response_type: 'code', force_verify: false },
          authorization_url_replacements: { client_id: 'app_key' },
          token_url: 'https://${connectionConfig.subdomain}.acme.com/oauth/token',
          token_request_auth_method: 'basic',
          scope_separator: ',',
          default_scopes: ['read', 'offline'],
          disable_pkce: true,
          token_response_metadata: ['account.id'],
          redirect_uri_metadata: ['region'],
          connection_config: {
            subdomain: { type: 'string', title: 'Subdomain', description: 'Your Acme subdomain', pattern: '^[a-z]+$', format: 'hostname', suffix: '.acme.com' },
            accountId: { type: 'string', title: 'Account', automated: true, optional: true },
          },
          proxy: { base_url: 'https://${connectionConfig.subdomain}.acme.com' },
        },
      }),
    );
    expect(catalog.get('acme')).toMatchObject({
      authorizationParams: { response_type: 'code', force_verify: 'false' },
      authorizationUrlReplacements: { client_id: 'app_key' },
      authorizationMethod: 'header',
      scopeSeparator: ',',
      defaultScopes: ['read', 'offline'],
      disablePkce: true,
      tokenResponseMetadata: ['account.id'],
      redirectUriMetadata: ['region'],
      connectionConfig: {
        subdomain: { title: 'Subdomain', description: 'Your Acme subdomain', pattern: '^[a-z]+$', format: 'hostname', suffix: '.acme.com', optional: false, automated: false },
        accountId: { automated: true, optional: true },
      },
    });
  });
});

describe('provider catalog: a large third-party file', () => {
  it('skips what it cannot use, keeps the bundled definition of a provider it breaks, and warns once', () => {
    const { catalog, warnings } = load(
      thirdPartyCatalog({
        'future-mode': { auth_mode: 'OAUTH3', proxy: { base_url: 'https://api.future.com' } },
        'xml-tokens': { auth_mode: 'OAUTH2_CC', token_url: 'https://xml.example.com/token', body_format: 'xml' },
        github: { body_format: 'xml' },
        'dangling-alias': { alias: 'nowhere' },
      }),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.details).toMatchObject({ entries: 124, skipped: 4, authModes: { OAUTH3: 1 } });
    expect(warnings[0]?.message).toContain('1 with an auth mode Patchbay does not know (OAUTH3 ×1), 3 with fields Patchbay cannot read');
    expect(warnings[0]?.message).toContain("Patchbay's own definition was kept for 1 of them");
    expect(catalog.get('vendor-7')?.proxy.baseUrl).toBe('https://api.vendor-7.com');
    expect(catalog.get('future-mode')).toBeUndefined();
    expect(catalog.whySkipped('xml-tokens')).toMatch(/^body_format: /);
    expect(catalog.whySkipped('dangling-alias')).toBe('alias: "nowhere" is unknown or circular');
    expect(catalog.get('github')).toMatchObject({ authMode: 'OAUTH2', bodyFormat: 'form', proxy: { baseUrl: 'https://api.github.com' } });
  });
});
