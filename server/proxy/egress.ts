// SSRF guard: which upstream addresses the proxy may connect to. Checked twice: on the URL's
// host before sending (IP literals never reach DNS), and on every DNS answer inside the undici
// connector (so a public name resolving to 10.0.0.1 or 169.254.169.254 is refused too).
import dns from 'node:dns';
import net from 'node:net';
import { PatchbayError } from '../errors.js';

const blocked = new net.BlockList();
// IPv4: this-network, RFC 1918, CGNAT (RFC 6598), loopback, link-local (cloud metadata lives at
// 169.254.169.254), IETF protocol assignments, benchmarking, multicast, reserved, broadcast.
for (const [address, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(address, prefix, 'ipv4');
}
// IPv6: unspecified, loopback, unique-local (fc00::/7), link-local, multicast.
for (const [address, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(address, prefix, 'ipv6');
}

const BLOCKED_NAMES = /^(localhost|metadata|metadata\.google\.internal|instance-data)(\.|$)|\.localhost\.?$/i;

/** IPv4 embedded in IPv6 (::ffff:a.b.c.d mapped, 64:ff9b::/96 NAT64) is judged as the IPv4. */
function embeddedIPv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const high = parseInt(hex[1] as string, 16);
    const low = parseInt(hex[2] as string, 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return undefined;
}

export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = net.isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIPv4(bare);
    return v4 !== undefined ? blocked.check(v4, 'ipv4') : blocked.check(bare, 'ipv6');
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

/** A `lookup` for net.connect that refuses private answers (code EGRESS_DENIED). */
export function createGuardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = addresses as dns.LookupAddress[];
      const allowed = allowPrivate ? list : list.filter((entry) => !isPrivateAddress(entry.address));
      if (allowed.length === 0) {
        const denied: NodeJS.ErrnoException = new Error(`egress to ${hostname} denied: it resolves to a private address`);
        denied.code = 'EGRESS_DENIED';
        return callback(denied, []);
      }
      if (options.all) return callback(null, allowed);
      const first = allowed[0] as dns.LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}
