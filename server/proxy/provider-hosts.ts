// Which hosts a connection's credentials may be sent to: its provider's own. That is the host of
// the base URL as rendered for the connection, plus the catalog's `proxy.allowed_hosts` (exact
// names, or `*.example.com` for every subdomain, e.g. Salesforce's `*.my.salesforce.com`
// instance hosts). A Base-Url-Override elsewhere is refused, never sent bare; a base URL filled
// from connection config (`https://${connectionConfig.subdomain}.zendesk.com`) must stay under
// the host its template names, whatever value the config holds. Pure: no I/O.
import { PatchbayError } from '../errors.js';
import type { Provider } from '../providers/catalog.js';
import { renderTemplate, type TemplateValues } from '../providers/template.js';

/** The hosts a provider's base URL template allows: `any` when a placeholder makes the whole origin. */
interface BaseHosts {
  any: boolean;
  patterns: string[];
}

// Templates come from the catalog, so the cache is bounded by it (and by this, as compileTemplate's).
const MAX_CACHED_TEMPLATES = 10_000;
const templateHostsCache = new Map<string, BaseHosts>();

const normalize = (hostname: string) => hostname.toLowerCase().replace(/\.$/, '');

/** `api.github.com` matches itself; `*.my.salesforce.com` matches any name under it (not itself). */
export function hostMatches(hostname: string, pattern: string): boolean {
  const host = normalize(hostname);
  const wanted = normalize(pattern.trim());
  if (wanted.startsWith('*.')) {
    const suffix = wanted.slice(1);
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return host === wanted;
}

/**
 * The hosts a URL template may render to: a literal host → itself; a placeholder followed by a
 * literal domain of two labels or more (`https://${connectionConfig.subdomain}.zendesk.com`,
 * `https://api-${region}.example.com`) → `*.zendesk.com`, `*.example.com`; a placeholder that
 * is the whole origin or the whole host (an operator's own instance URL) → 'any'. A placeholder
 * anywhere else (`https://api.${domain}`, a port) cannot be bounded: 'closed', and only the
 * catalog's allowed_hosts can admit what it renders to.
 */
function hostPatternOf(template: string): string | 'any' | 'closed' | undefined {
  const trimmed = template.trim();
  const authority = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)/.exec(trimmed)?.[1];
  if (authority === undefined) return trimmed.startsWith('${') ? 'any' : undefined;
  if (authority.includes('@')) return 'closed';
  const port = /:(\d+|\$\{[^}]*\})$/.exec(authority);
  if (port?.[1]?.startsWith('${')) return 'closed';
  const host = port === null ? authority : authority.slice(0, port.index);
  if (!host.includes('${')) return host;
  if (/^\$\{[^}]*\}$/.test(host)) return 'any';
  const suffix = host.slice(host.lastIndexOf('}') + 1);
  return /^(\.[A-Za-z0-9-]+){2,}$/.test(suffix) ? `*${suffix}` : 'closed';
}

function hostsOfTemplate(template: string): BaseHosts {
  let hosts = templateHostsCache.get(template);
  if (hosts === undefined) {
    hosts = { any: false, patterns: [] };
    for (const alternative of template.split('||')) {
      const pattern = hostPatternOf(alternative);
      if (pattern === 'any') hosts.any = true;
      else if (pattern !== undefined && pattern !== 'closed') hosts.patterns.push(pattern);
    }
    if (templateHostsCache.size < MAX_CACHED_TEMPLATES) templateHostsCache.set(template, hosts);
  }
  return hosts;
}

/** The catalog's allowed_hosts for this connection (templates filled in; incomplete ones left out). */
function allowedHostsOf(provider: Provider, values: TemplateValues): string[] {
  const hosts: string[] = [];
  for (const template of provider.proxy.allowedHosts) {
    const rendered = renderTemplate(template, values);
    if (rendered.complete) hosts.push(rendered.text);
  }
  return hosts;
}

/**
 * Throws unless a URL rendered from one of the entry's templates (base, token, authorization,
 * verification URL) stays on the provider's hosts: under the template's literal domain, or on
 * allowed_hosts when the config gives the whole origin.
 */
export function assertOnTemplateHosts(provider: Provider, template: string, values: TemplateValues, base: URL): void {
  const hosts = hostsOfTemplate(template);
  if (hosts.patterns.some((pattern) => hostMatches(base.hostname, pattern))) return;
  const allowed = allowedHostsOf(provider, values);
  if (allowed.some((pattern) => hostMatches(base.hostname, pattern))) return;
  if (hosts.any && allowed.length === 0) return; // the operator's own instance URL, with nothing to hold it to
  throw new PatchbayError('invalid_connection_config', {
    message: `The connection's configuration points a URL of the provider at ${base.hostname}, which is not one of ${provider.key}'s hosts.`,
  });
}

/**
 * Throws unless credentials may go to `override`: the connection's own base URL host or one of
 * the catalog's allowed_hosts, and never from https down to plain http.
 */
export function assertOverrideOnProviderHosts(provider: Provider, values: TemplateValues, base: URL | undefined, override: URL): void {
  const onBaseHost = base !== undefined && normalize(base.hostname) === normalize(override.hostname);
  const allowed = onBaseHost || allowedHostsOf(provider, values).some((pattern) => hostMatches(override.hostname, pattern));
  if (!allowed) {
    const known = [...(base === undefined ? [] : [base.hostname]), ...allowedHostsOf(provider, values)];
    throw new PatchbayError('base_url_override_not_allowed', {
      message: `Base-Url-Override points to ${override.hostname}, which is not one of ${provider.key}'s hosts${known.length > 0 ? ` (${known.join(', ')})` : ''}: credentials are only sent to the provider. An operator can list more hosts in the catalog's proxy.allowed_hosts.`,
    });
  }
  // Plain http only where the provider's own base URL is plain http (a local test server).
  if ((base?.protocol ?? 'https:') === 'https:' && override.protocol !== 'https:') {
    throw new PatchbayError('base_url_override_not_allowed', {
      message: `Base-Url-Override must use https, as the provider's base URL does: credentials are never sent in clear text.`,
    });
  }
}

/** The override as a URL, or a clear 400 for text that is not an http(s) URL. */
export function parseBaseUrlOverride(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PatchbayError('base_url_override_not_allowed', { message: 'Base-Url-Override is not a valid URL.' });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PatchbayError('base_url_override_not_allowed', { message: 'Base-Url-Override must be an http or https URL.' });
  }
  return url;
}
