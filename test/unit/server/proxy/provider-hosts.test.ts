import { describe, expect, it } from 'vitest';
import { loadCatalog, type Provider } from '../../../../server/providers/catalog.js';
import { parseProvider } from '../../../../server/providers/provider.js';
import {
  assertOnTemplateHosts,
  assertOverrideOnProviderHosts,
  hostMatches,
  parseBaseUrlOverride,
} from '../../../../server/proxy/provider-hosts.js';
import { resolveBaseUrl } from '../../../../server/proxy/build-request.js';

const catalog = loadCatalog();
function provider(key: string): Provider {
  const found = catalog.get(key);
  if (found === undefined) throw new Error(`provider ${key} is not in the catalog`);
  return found;
}
const config = (connectionConfig: Record<string, string>) => ({ connectionConfig });

describe('hostMatches', () => {
  it.each([
    ['api.github.com', 'api.github.com', true],
    ['API.GitHub.com.', 'api.github.com', true],
    ['acme.my.salesforce.com', '*.my.salesforce.com', true],
    ['a.b.my.salesforce.com', '*.my.salesforce.com', true],
    ['my.salesforce.com', '*.my.salesforce.com', false],
    ['evilmy.salesforce.com', '*.my.salesforce.com', false],
    ['my.salesforce.com.evil.example', '*.my.salesforce.com', false],
    ['api.github.com.evil.example', 'api.github.com', false],
  ])('%s against %s: %s', (host, pattern, expected) => {
    expect(hostMatches(host, pattern)).toBe(expected);
  });
});

describe('a base URL filled from connection config stays on the provider', () => {
  it.each(['acme', 'acme-eu', 'a.b'])('zendesk subdomain %s is accepted', (subdomain) => {
    expect(resolveBaseUrl(provider('zendesk'), config({ subdomain }), undefined).hostname).toBe(`${subdomain}.zendesk.com`);
  });

  it.each(['attacker.example/x?', 'attacker.example#', 'attacker.example/', 'user@attacker.example/'])(
    'zendesk subdomain %s that moves the host is refused with invalid_connection_config',
    (subdomain) => {
      expect(() => resolveBaseUrl(provider('zendesk'), config({ subdomain }), undefined)).toThrow(
        expect.objectContaining({ code: 'invalid_connection_config' }),
      );
    },
  );

  it("holds another URL template of the entry to its own domain (a verification's base_url_override)", () => {
    const template = 'https://${connectionConfig.company}.jobs.personio.de';
    const values = config({ company: 'acme' });
    expect(() => assertOnTemplateHosts(provider('github'), template, values, new URL('https://acme.jobs.personio.de'))).not.toThrow();
    expect(() => assertOnTemplateHosts(provider('github'), template, values, new URL('https://attacker.example/#.jobs.personio.de'))).toThrow(
      expect.objectContaining({ code: 'invalid_connection_config' }),
    );
  });

  it('holds an instance URL to the catalog allowed_hosts (salesforce)', () => {
    expect(resolveBaseUrl(provider('salesforce'), config({ instance_url: 'https://acme.my.salesforce.com' }), undefined).hostname).toBe('acme.my.salesforce.com');
    expect(() => resolveBaseUrl(provider('salesforce'), config({ instance_url: 'https://attacker.example' }), undefined)).toThrow(
      expect.objectContaining({ code: 'invalid_connection_config' }),
    );
  });

  it('takes the literal alternative when the config has no value (pipedrive)', () => {
    expect(resolveBaseUrl(provider('pipedrive'), config({}), undefined).hostname).toBe('api.pipedrive.com');
    expect(resolveBaseUrl(provider('pipedrive'), config({ api_domain: 'https://acme.pipedrive.com' }), undefined).hostname).toBe('acme.pipedrive.com');
    expect(() => assertOnTemplateHosts(provider('pipedrive'), provider('pipedrive').proxy.baseUrl ?? '', {}, new URL('https://attacker.example/api'))).toThrow(
      expect.objectContaining({ code: 'invalid_connection_config' }),
    );
  });
});

describe('assertOverrideOnProviderHosts', () => {
  const github = provider('github');
  const base = new URL('https://api.github.com');

  it("accepts the connection's own base host, on any path or port", () => {
    expect(() => assertOverrideOnProviderHosts(github, {}, base, new URL('https://api.github.com/v4'))).not.toThrow();
    expect(() => assertOverrideOnProviderHosts(github, {}, base, new URL('https://API.github.com:8443'))).not.toThrow();
  });

  it.each(['https://attacker.example', 'https://api.github.com.attacker.example', 'https://uploads.github.com'])('refuses %s', (override) => {
    expect(() => assertOverrideOnProviderHosts(github, {}, base, new URL(override))).toThrow(expect.objectContaining({ code: 'base_url_override_not_allowed' }));
  });

  it('refuses a downgrade from https to http on the same host', () => {
    expect(() => assertOverrideOnProviderHosts(github, {}, base, new URL('http://api.github.com'))).toThrow(/https/);
  });

  it("accepts the catalog's allowed_hosts (salesforce instances)", () => {
    const salesforce = provider('salesforce');
    const own = new URL('https://acme.my.salesforce.com');
    expect(() => assertOverrideOnProviderHosts(salesforce, {}, own, new URL('https://acme--dev.sandbox.my.salesforce.com'))).not.toThrow();
    expect(() => assertOverrideOnProviderHosts(salesforce, {}, own, new URL('https://salesforce.com.attacker.example'))).toThrow(
      expect.objectContaining({ code: 'base_url_override_not_allowed' }),
    );
  });

  it('refuses everything when the provider has no base URL and no allowed_hosts', () => {
    expect(() => assertOverrideOnProviderHosts(github, {}, undefined, new URL('https://api.github.com'))).toThrow(
      expect.objectContaining({ code: 'base_url_override_not_allowed' }),
    );
  });
});

describe('parseBaseUrlOverride', () => {
  it.each(['not a url', 'file:///etc/passwd', 'javascript:alert(1)', ''])('refuses %j with base_url_override_not_allowed', (text) => {
    expect(() => parseBaseUrlOverride(text)).toThrow(expect.objectContaining({ code: 'base_url_override_not_allowed' }));
  });
});

describe('templates whose host cannot be bounded fail closed (review findings)', () => {
  const made = (baseUrl: string, allowedHosts: string[] = []) => {
    const parsed = parseProvider('made', { auth_mode: 'API_KEY', proxy: { base_url: baseUrl, allowed_hosts: allowedHosts } });
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.provider;
  };

  it.each([
    ['https://api-${connectionConfig.region}.example.com', { region: 'x@evil.example#' }],
    ['https://${connectionConfig.a}.${connectionConfig.b}.example.com', { a: 'x', b: 'evil.example#' }],
    ['https://api.example.com:${connectionConfig.port}', { port: '1@evil.example#' }],
    ['https://api.${connectionConfig.domain}', { domain: 'evil.example' }],
    ['https://${connectionConfig.tenant}.com', { tenant: 'evil' }],
  ])('%s with %j is refused', (template, values) => {
    expect(() => resolveBaseUrl(made(template), config(values), undefined)).toThrow(expect.objectContaining({ code: 'invalid_connection_config' }));
  });

  it('accepts what stays under the literal domain, and what allowed_hosts lists', () => {
    expect(resolveBaseUrl(made('https://api-${connectionConfig.region}.example.com'), config({ region: 'eu' }), undefined).hostname).toBe('api-eu.example.com');
    expect(resolveBaseUrl(made('https://api.${connectionConfig.domain}', ['api.acme.example']), config({ domain: 'acme.example' }), undefined).hostname).toBe('api.acme.example');
  });

  it("lets a self-hosted instance URL (the whole origin) through when the catalog lists no hosts", () => {
    expect(resolveBaseUrl(made('${connectionConfig.instance_url}'), config({ instance_url: 'https://gitlab.acme.internal' }), undefined).hostname).toBe('gitlab.acme.internal');
  });

  it('refuses plain http for an override when the base URL is not known yet', () => {
    const salesforce = provider('salesforce');
    expect(() => assertOverrideOnProviderHosts(salesforce, {}, undefined, new URL('http://acme.my.salesforce.com'))).toThrow(/https/);
  });
});

describe('regional base URLs as in Nango (intercom)', () => {
  it('goes to the region given, to the US host without one, and nowhere else', () => {
    expect(resolveBaseUrl(provider('intercom'), config({ region: 'eu' }), undefined).hostname).toBe('api.eu.intercom.io');
    expect(resolveBaseUrl(provider('intercom'), config({}), undefined).hostname).toBe('api.intercom.io');
    expect(() => resolveBaseUrl(provider('intercom'), config({ region: 'x@evil.example#' }), undefined)).toThrow(
      expect.objectContaining({ code: 'invalid_connection_config' }),
    );
  });
});
