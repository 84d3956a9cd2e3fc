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

/** `https://${connectionConfig.subdomain}.zendesk.com/x` → `*.zendesk.com`; a literal host → itself. */
function hostPatternOf(template: string): string | 'any' | undefined {
  const authority = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)/.exec(template.trim())?.[1];
  if (authority === undefined) return template.trim().startsWith('${') ? 'any' : undefined;
  const host = authority.replace(/^.*@/, '').replace(/:\d+$/, '');
  if (!host.includes('${')) return host;
  // A placeholder as the leftmost labels, a literal domain after it.
  const templated = /^\$\{[^}]*\}((?:\.[A-Za-z0-9-]+)+)$/.exec(host);
  return templated ? `*${templated[1]}` : 'any';
}

function hostsOfTemplate(template: string): BaseHosts {
  let hosts = templateHostsCache.get(template);
  if (hosts === undefined) {
    hosts = { any: false, patterns: [] };
    for (const alternative of template.split('||')) {
      const pattern = hostPatternOf(alternative);
      if (pattern === 'any') hosts.any = true;
      else if (pattern !== undefined) hosts.patterns.push(pattern);
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
 * Throws unless the base URL rendered from the connection's config stays on the provider's hosts:
 * under the template's literal domain, or on allowed_hosts when the config gives the whole origin.
 */
export function assertBaseOnProviderHosts(provider: Provider, values: TemplateValues, base: URL): void {
  assertOnTemplateHosts(provider, provider.proxy.baseUrl ?? '', values, base);
}

/** The same rule for another URL template of the catalog entry (its verification's `base_url_override`). */
export function assertOnTemplateHosts(provider: Provider, template: string, values: TemplateValues, base: URL): void {
  const hosts = hostsOfTemplate(template);
  if (hosts.patterns.some((pattern) => hostMatches(base.hostname, pattern))) return;
  const allowed = allowedHostsOf(provider, values);
  if (allowed.some((pattern) => hostMatches(base.hostname, pattern))) return;
  if (hosts.any && allowed.length === 0) return; // the operator's own instance URL, with nothing to hold it to
  throw new PatchbayError('invalid_connection_config', {
    message: `The connection's configuration points the provider's base URL at ${base.hostname}, which is not one of ${provider.key}'s hosts.`,
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
  if (base?.protocol === 'https:' && override.protocol !== 'https:') {
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
