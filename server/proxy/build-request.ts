// The upstream request for one attempt: URL (base + endpoint + provider query) and headers
// (default auth, provider headers, caller headers). Pure: no I/O.
import { PatchbayError, type ErrorCode } from '../errors.js';
import type { Provider } from '../providers/catalog.js';
import { renderTemplate, type TemplateValues } from '../providers/template.js';
import { assertOnTemplateHosts } from './provider-hosts.js';

/** An upstream URL in the parts the dispatcher and the log take; every field is canonical (what a URL parser would print). */
export interface UpstreamUrl {
  /** `https://host[:port]` */
  origin: string;
  hostname: string;
  /** Path and query: `/v1/users?per_page=5`. */
  path: string;
  href: string;
}

export interface BuiltRequest {
  url: UpstreamUrl;
  headers: Record<string, string>;
}

export interface RequestParts {
  provider: Provider;
  values: TemplateValues;
  authorization: string | undefined;
  endpoint: string;
  baseUrlOverride: string | undefined;
  callerHeaders: Record<string, string>;
  /** The provider base URL already resolved for this connection (skips templating and parsing). */
  resolvedBase?: URL | undefined;
  /** The provider's headers and query already rendered for this connection. */
  providerParts?: ProviderParts | undefined;
}

const CONTROL = /[\u0000-\u001f\u007f]/;
/** `scheme://`: an absolute URL. A bare colon is a path (`/people:batchGet`, `urn:li:person:1`). */
const ABSOLUTE_URL = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

function decodeFully(text: string): string {
  let current = text;
  // Three rounds catch double and triple encoding (%252e%252e); more is not a real client.
  for (let round = 0; round < 3; round++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return current;
    }
    if (next === current) return current;
    current = next;
  }
  return current;
}

function invalidEndpoint(reason: string): PatchbayError {
  return new PatchbayError('invalid_endpoint', { message: `The endpoint must be a path on the provider API: ${reason}.` });
}

/** The `${...}` placeholders a rendering left unfilled: `connectionConfig.subdomain, apiKey`. */
export function missingPlaceholders(rendered: string): string {
  return [...rendered.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]).join(', ');
}

/**
 * A URL template of a provider's catalog entry (base, token, authorization or verification URL)
 * filled in for one connection: complete, http(s), and on the provider's hosts (else
 * `invalid_connection_config`, provider-hosts.ts). The other failures carry the caller's code.
 * Messages name the template, never the filled-in text: it may hold a credential (`${apiKey}`).
 */
export function renderProviderUrl(provider: Provider, template: string, values: TemplateValues, what: string, code: ErrorCode): URL {
  const rendered = renderTemplate(template, values);
  if (!rendered.complete) {
    throw new PatchbayError(code, { message: `The ${what} needs values the connection does not have: ${missingPlaceholders(rendered.text)}.` });
  }
  let url: URL;
  try {
    url = new URL(rendered.text);
  } catch {
    throw new PatchbayError(code, { message: `The ${what} is not a valid URL once filled in: ${template}` });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new PatchbayError(code, { message: `The ${what} must use http or https.` });
  assertOnTemplateHosts(provider, template, values, url);
  return url;
}

export function resolveBaseUrl(provider: Provider, values: TemplateValues, override: string | undefined): URL {
  if (override === undefined || override === '') {
    if (provider.proxy.baseUrl === undefined) throw new PatchbayError('missing_api_url');
    return renderProviderUrl(provider, provider.proxy.baseUrl, values, "provider's base URL", 'missing_api_url');
  }
  let url: URL;
  try {
    url = new URL(override);
  } catch {
    throw new PatchbayError('missing_api_url', { message: 'The base URL is not a valid URL: Base-Url-Override' });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PatchbayError('missing_api_url', { message: 'The base URL must use http or https.' });
  }
  return url;
}

/** What joinUrl needs of a base URL, worked out once per base (a connection's is cached on its target). */
interface BaseParts {
  /** The base without trailing slashes: `https://h/v1`. */
  text: string;
  origin: string;
  hostname: string;
  /** The base path without trailing slashes: `/v1`, or '' at the root. */
  path: string;
  /** No query or fragment on the base: endpoints can be appended as text. */
  plain: boolean;
}

const baseParts = new WeakMap<URL, BaseParts>();

function partsOf(base: URL): BaseParts {
  let parts = baseParts.get(base);
  if (parts === undefined) {
    parts = {
      text: base.href.replace(/\/+$/, ''),
      origin: base.origin,
      hostname: base.hostname,
      path: base.pathname.replace(/\/+$/, ''),
      plain: base.search === '' && base.hash === '' && base.username === '' && base.password === '',
    };
    baseParts.set(base, parts);
  }
  return parts;
}

// Characters a URL parser leaves exactly as they are, in a path and in a query (WHATWG URL:
// outside the path and special-query percent-encode sets). An endpoint made only of these, with
// no dot segment, is already in canonical form: base + '/' + endpoint is the URL.
const CANONICAL_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const CANONICAL_QUERY = /^\?[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*$/;

/** What is sent: no user info, no fragment, no empty `?` (href is origin + path). */
function fromUrl(url: URL): UpstreamUrl {
  const path = `${url.pathname}${url.search}`;
  return { origin: url.origin, hostname: url.hostname, path, href: `${url.origin}${path}` };
}

/** Joins base and endpoint so that the endpoint can never leave the base (host, port, path). */
export function joinUrl(base: URL, endpoint: string): UpstreamUrl {
  if (CONTROL.test(endpoint)) throw invalidEndpoint('control characters');
  if (endpoint.includes('\\')) throw invalidEndpoint('backslashes');
  const queryAt = endpoint.indexOf('?');
  let path = queryAt === -1 ? endpoint : endpoint.slice(0, queryAt);
  const query = queryAt === -1 || queryAt === endpoint.length - 1 ? '' : endpoint.slice(queryAt);
  const hashAt = path.indexOf('#');
  if (hashAt !== -1) path = path.slice(0, hashAt);

  const baseParts = partsOf(base);
  const baseText = baseParts.text;
  // Nango accepts an endpoint that repeats the base URL; strip it at a real boundary.
  if (path.startsWith(baseText) && (path.length === baseText.length || path[baseText.length] === '/')) {
    path = path.slice(baseText.length);
  }
  path = path.replace(/^\/+/, '');
  // Most endpoints hold no escapes and no dots: nothing to decode, no segment to inspect.
  const decoded = path.includes('%') ? decodeFully(path) : path;
  if (ABSOLUTE_URL.test(decoded) || ABSOLUTE_URL.test(path)) throw invalidEndpoint('absolute URLs are not allowed');
  if (decoded.includes('.') && decoded.split(/[/\\]/).some((segment) => segment === '..' || segment === '.')) {
    throw invalidEndpoint("'.' and '..' segments are not allowed");
  }
  if (decoded !== path && CONTROL.test(decoded)) throw invalidEndpoint('encoded control characters');

  // The common case: nothing for a URL parser to encode or resolve (dot segments, plain or
  // encoded, were refused above), so the joined text is the URL and cannot leave the base.
  if (baseParts.plain && CANONICAL_PATH.test(path) && (query === '' || CANONICAL_QUERY.test(query))) {
    return { origin: baseParts.origin, hostname: baseParts.hostname, path: `${baseParts.path}/${path}${query}`, href: `${baseText}/${path}${query}` };
  }
  const url = new URL(`${baseText}/${path}${query}`);
  if (url.origin !== base.origin || !(url.pathname === baseParts.path || url.pathname.startsWith(`${baseParts.path}/`))) {
    throw invalidEndpoint('it leaves the provider base URL');
  }
  return fromUrl(url);
}

/** The provider's headers and query parameters rendered for one connection (templates filled in). */
export interface ProviderParts {
  headers: readonly (readonly [string, string])[];
  queryNames: readonly string[];
  /** `name=value&…`, encoded; '' when the provider adds nothing. */
  query: string;
}

/** Renders once per connection what buildRequest adds on every call; templates missing a value are left out. */
export function renderProviderParts(provider: Provider, values: TemplateValues): ProviderParts {
  const headers: [string, string][] = [];
  for (const [name, template] of Object.entries(provider.proxy.headers)) {
    const rendered = renderTemplate(template, values);
    if (rendered.complete) headers.push([name, rendered.text]);
  }
  const queryNames: string[] = [];
  let query = '';
  for (const [name, template] of Object.entries(provider.proxy.query)) {
    const rendered = renderTemplate(template, values);
    if (!rendered.complete) continue;
    queryNames.push(name);
    query += `${query === '' ? '' : '&'}${encodeURIComponent(name)}=${encodeURIComponent(rendered.text)}`;
  }
  return { headers, queryNames, query };
}

export function buildRequest(parts: RequestParts): BuiltRequest {
  const override = parts.baseUrlOverride !== undefined && parts.baseUrlOverride !== '';
  const base = !override && parts.resolvedBase ? parts.resolvedBase : resolveBaseUrl(parts.provider, parts.values, parts.baseUrlOverride);
  let url = joinUrl(base, parts.endpoint);
  const provider = parts.providerParts ?? renderProviderParts(parts.provider, parts.values);

  // Appended as text: going through url.searchParams would re-encode the caller's query
  // (%20 → +, `flag` → `flag=`, `,` → %2C), and some APIs read those literally.
  if (provider.query !== '') {
    const withQuery = new URL(url.href);
    for (const name of provider.queryNames) if (withQuery.searchParams.has(name)) withQuery.searchParams.delete(name); // the provider's credential wins
    withQuery.search = withQuery.search === '' ? `?${provider.query}` : `${withQuery.search}&${provider.query}`;
    url = fromUrl(withQuery);
  }

  const headers: Record<string, string> = {};
  if (parts.authorization !== undefined) headers.authorization = parts.authorization;
  for (const [name, value] of provider.headers) headers[name] = value;
  const providerUserAgent = headers['user-agent'];
  Object.assign(headers, parts.callerHeaders);
  if (providerUserAgent !== undefined) headers['user-agent'] = providerUserAgent;
  return { url, headers };
}
