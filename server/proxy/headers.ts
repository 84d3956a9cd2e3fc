// Header rules of the proxy, both directions. Pure: no I/O.

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1, RFC 9112 §9.6): they describe one connection, not the
 * message, so a proxy must not forward them. `proxy-connection` is the legacy non-standard
 * twin of `connection` still sent by some clients.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const PREFIX = 'nango-proxy-';

/** Names listed in a `Connection` header are hop-by-hop too (RFC 9110 §7.6.1). */
const NO_TOKENS: ReadonlySet<string> = new Set();

function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  // `Connection: keep-alive` (nearly every request) names nothing beyond the fixed list.
  if (value === undefined || value === 'keep-alive' || value === 'close') return NO_TOKENS;
  const text = Array.isArray(value) ? value.join(',') : value;
  return new Set(
    text
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter((token) => token !== ''),
  );
}

export function isHopByHop(name: string, listed: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(name) || listed.has(name);
}

/**
 * Request headers a caller (a `Nango-Proxy-*` header, a function's `headers`) may not set:
 * hop-by-hop ones, `host` (the provider's host is ours to choose: a forged one reaches other
 * virtual hosts behind the provider's front end) and `content-length` (the body we send says).
 */
export function isReservedRequestHeader(name: string, listed: ReadonlySet<string> = NO_TOKENS): boolean {
  return name === 'host' || name === 'content-length' || isHopByHop(name, listed);
}

/**
 * What the caller asked us to send upstream: every `Nango-Proxy-*` header without its prefix,
 * plus the body's own `Content-Type` (Patchbay forwards it; Nango's proxy drops it).
 * The caller's `Authorization` (our secret key) and everything else stay here.
 */
export function pickForwardedHeaders(incoming: Record<string, string | string[] | undefined>): Record<string, string> {
  const listed = connectionTokens(incoming.connection);
  const forwarded: Record<string, string> = {};
  // for…in rather than Object.entries: no array per header on every proxied call.
  for (const rawName in incoming) {
    const value = incoming[rawName];
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (!name.startsWith(PREFIX)) continue;
    const target = name.slice(PREFIX.length);
    if (target === '' || isReservedRequestHeader(target, listed)) continue;
    forwarded[target] = Array.isArray(value) ? value.join(', ') : value;
  }
  const contentType = incoming['content-type'];
  if (forwarded['content-type'] === undefined && typeof contentType === 'string') forwarded['content-type'] = contentType;
  return forwarded;
}

/** Headers that must not travel back to our caller: they describe the provider's CORS policy. */
const isCorsHeader = (name: string) => name.startsWith('access-control-');

/**
 * Upstream response headers as we pass them on. When we decompress, the body we send is not
 * the one described by `content-encoding`/`content-length`, so both go (nango#6256, #6575).
 * A 204 has no body, and must not say how long it is (RFC 9110 §8.6), whatever the provider sent.
 */
export function cleanResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  decompressed: boolean,
  status: number,
): Record<string, string | string[]> {
  const listed = connectionTokens(headers.connection);
  const clean: Record<string, string | string[]> = {};
  for (const rawName in headers) {
    const value = headers[rawName];
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (isHopByHop(name, listed) || isCorsHeader(name)) continue;
    if (name === 'content-length' && (decompressed || status === 204)) continue;
    if (decompressed && name === 'content-encoding') continue;
    clean[name] = value;
  }
  return clean;
}

export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
