// SSRF guard: which upstream addresses Patchbay may connect to. Every outgoing request (proxy
// calls, token requests, webhooks) goes through an undici Agent built by createGuardedAgent,
// whose connector judges the address it is about to connect to: IP literals before connecting,
// names on every DNS answer (so a public name resolving to 10.0.0.1 or 169.254.169.254 is
// refused too). The routes also check override URLs up front, to answer a clear 400.
//
// Addresses are classified by ipaddr.js's range names (IANA special-purpose registries) rather
// than hand-written lists: only 'unicast' passes. IPv4 carried inside IPv6 (mapped, NAT64
// 64:ff9b::/96) is judged as the IPv4 it carries; other embeddings (6to4, Teredo, the
// deprecated IPv4-compatible ::/96, SIIT) are refused outright. The machine's own interface
// addresses are refused too: a public address of the host reaches Patchbay itself.
import dns from 'node:dns';
import net from 'node:net';
import os from 'node:os';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector } from 'undici';
import { PatchbayError } from '../errors.js';

const BLOCKED_NAMES = /^(localhost|metadata|metadata\.google\.internal|instance-data)(\.|$)|\.localhost\.?$/i;

/** How long the list of the machine's own addresses is trusted before it is read again. */
const OWN_ADDRESSES_TTL_MS = 60_000;
let ownAddresses: { set: Set<string>; readAtMs: number } | undefined;

/** The machine's interface addresses, normalized (interfaces come and go: re-read each minute). */
function isOwnAddress(normalized: string): boolean {
  const nowMs = Date.now();
  if (ownAddresses === undefined || nowMs - ownAddresses.readAtMs > OWN_ADDRESSES_TTL_MS) {
    const set = new Set<string>();
    for (const entries of Object.values(os.networkInterfaces())) {
      for (const entry of entries ?? []) {
        const bare = entry.address.split('%')[0] as string;
        if (ipaddr.isValid(bare)) set.add(ipaddr.parse(bare).toNormalizedString());
      }
    }
    ownAddresses = { set, readAtMs: nowMs };
  }
  return ownAddresses.set.has(normalized);
}

function isBlockedIPv4(address: ipaddr.IPv4): boolean {
  return address.range() !== 'unicast' || isOwnAddress(address.toNormalizedString());
}

function isBlockedIPv6(address: ipaddr.IPv6): boolean {
  if (address.isIPv4MappedAddress()) return isBlockedIPv4(address.toIPv4Address());
  const parts = address.parts;
  // 64:ff9b::/96, the well-known NAT64 prefix (RFC 6052): an IPv6-only network reaches public
  // IPv4 hosts through it, so it is judged by the IPv4 address in its last 32 bits.
  if (parts[0] === 0x64 && parts[1] === 0xff9b && parts.slice(2, 6).every((part) => part === 0)) {
    const [high, low] = [parts[6] as number, parts[7] as number];
    return isBlockedIPv4(new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]));
  }
  // ::/96 (the deprecated IPv4-compatible form) is 'unicast' to ipaddr.js; nothing legitimate
  // lives there, and some stacks route it to the IPv4 it carries.
  if (parts.slice(0, 6).every((part) => part === 0)) return true;
  return address.range() !== 'unicast' || isOwnAddress(address.toNormalizedString());
}

/** True for an IP address Patchbay must not connect to; false for public ones and for names. */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = net.isIP(bare.split('%')[0] as string);
  if (family === 4) return isBlockedIPv4(ipaddr.IPv4.parse(bare));
  if (family === 6) {
    try {
      return isBlockedIPv6(ipaddr.IPv6.parse(bare));
    } catch {
      return true;
    }
  }
  return false;
}

/** True when `hostname` may be contacted without resolving it (names are checked at DNS time). */
export function isHostAllowed(hostname: string, allowPrivate: boolean): boolean {
  if (allowPrivate) return true;
  if (BLOCKED_NAMES.test(hostname)) return false;
  return !isPrivateAddress(hostname);
}

export function assertBaseUrlOverrideAllowed(url: URL, allowPrivate: boolean): void {
  if (!isHostAllowed(url.hostname, allowPrivate)) {
    throw new PatchbayError('base_url_override_not_allowed', {
      message: `Base-Url-Override points to ${url.hostname}, a private, loopback, link-local or metadata address.`,
    });
  }
}

export function assertHostAllowed(hostname: string, allowPrivate: boolean): void {
  if (!isHostAllowed(hostname, allowPrivate)) {
    throw new PatchbayError('egress_denied', { message: `Calls to ${hostname} are not allowed.` });
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

function egressDenied(hostname: string, why: string): NodeJS.ErrnoException {
  const denied: NodeJS.ErrnoException = new Error(`egress to ${hostname} denied: ${why}`);
  denied.code = 'EGRESS_DENIED';
  return denied;
}

/** A `lookup` for net.connect that refuses private answers (code EGRESS_DENIED). */
export function createGuardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = addresses as dns.LookupAddress[];
      const allowed = allowPrivate ? list : list.filter((entry) => !isPrivateAddress(entry.address));
      if (allowed.length === 0) return callback(egressDenied(hostname, 'it resolves to a private address'), []);
      if (options.all) return callback(null, allowed);
      const first = allowed[0] as dns.LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** `https:|host|443`: hostname lower-case and without IPv6 brackets (undici passes `::1`, a URL says `[::1]`), port made explicit. */
function originKey(origin: { protocol: string; hostname: string; port?: string | number | null | undefined }): string {
  const port = origin.port === undefined || origin.port === null || origin.port === '' ? DEFAULT_PORTS[origin.protocol] : String(origin.port);
  return `${origin.protocol}|${origin.hostname.toLowerCase().replace(/^\[|\]$/g, '')}|${port}`;
}

export interface GuardedAgentOptions {
  allowPrivateEgress: boolean;
  /** URLs an operator configured (the webhook URL): their exact origin is trusted even when private. */
  trustedUrls?: readonly string[];
  keepAliveTimeout?: number;
  connectTimeoutMs?: number;
  headersTimeout?: number;
  bodyTimeout?: number;
}

/**
 * The one kind of undici Agent outgoing requests use. Its connector refuses private IP literals
 * (which never reach DNS) and private DNS answers, whoever built the URL: a provider template,
 * a token URL filled from connection config, a function.
 */
export function createGuardedAgent(options: GuardedAgentOptions): Agent {
  const trusted = new Set((options.trustedUrls ?? []).map((url) => originKey(new URL(url))));
  const base = { ...(options.connectTimeoutMs === undefined ? {} : { timeout: options.connectTimeoutMs }) };
  const open = buildConnector(base);
  const openGuarded = buildConnector({ ...base, lookup: createGuardedLookup(false) as never });
  const connect: buildConnector.connector = (connectOptions, callback) => {
    const hostname = connectOptions.hostname.toLowerCase();
    if (options.allowPrivateEgress || trusted.has(originKey(connectOptions))) return open(connectOptions, callback);
    if (!isHostAllowed(hostname, false)) return callback(egressDenied(hostname, 'a private, loopback, link-local or own address'), null);
    return openGuarded(connectOptions, callback);
  };
  return new Agent({
    keepAliveTimeout: options.keepAliveTimeout ?? 30_000,
    connections: null,
    connect,
    ...(options.headersTimeout === undefined ? {} : { headersTimeout: options.headersTimeout }),
    ...(options.bodyTimeout === undefined ? {} : { bodyTimeout: options.bodyTimeout }),
  });
}
