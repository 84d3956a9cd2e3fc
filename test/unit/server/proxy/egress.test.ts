import type dns from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Agent } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { createGuardedAgent, createGuardedLookup, isHostAllowed, isPrivateAddress } from '../../../../server/proxy/egress.js';

describe('isPrivateAddress', () => {
  it.each([
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '127.0.0.1',
    '127.1.2.3',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.255',
    '0.0.0.0',
    '::',
    '::1',
    '[::1]',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '[::ffff:7f00:1]',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b::10.0.0.1',
    // Other IPv4 embeddings and special-purpose ranges (found in a review: they passed).
    '::ffff:0:7f00:1', // SIIT (RFC 6145) carrying 127.0.0.1
    '::7f00:1', // deprecated IPv4-compatible form
    '::127.0.0.1',
    '2002:7f00:1::1', // 6to4 carrying 127.0.0.1
    '2002:a9fe:a9fe::1', // 6to4 carrying the metadata address
    '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
    '64:ff9b:1::a00:1', // local-use NAT64 (RFC 8215)
    '100::1', // discard-only
    '2001:db8::1', // documentation
    'fec0::1', // deprecated site-local
    '192.0.2.1', // TEST-NET-1
    '198.51.100.7',
    '203.0.113.9',
    '192.88.99.1', // 6to4 relay anycast
    '255.255.255.255',
    '240.0.0.1',
    '198.18.0.1', // benchmarking
    '192.0.0.9',
  ])('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.15.255.255', '172.32.0.1', '100.63.255.255', '100.128.0.1', '2606:4700::1', '2001:4860:4860::8888', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    'allows %s',
    (address) => {
      expect(isPrivateAddress(address)).toBe(false);
    },
  );

  it("refuses the machine's own interface addresses, whatever their range", () => {
    const own = Object.values(os.networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .map((entry) => entry.address.split('%')[0] as string);
    expect(own.length).toBeGreaterThan(0);
    for (const address of own) expect(isPrivateAddress(address), address).toBe(true);
  });

  it('does not judge names, only addresses', () => {
    expect(isPrivateAddress('api.github.com')).toBe(false);
  });
});

describe('isHostAllowed', () => {
  it.each([
    'localhost',
    'LOCALHOST',
    'localhost.',
    'foo.localhost',
    'foo.localhost.',
    'metadata',
    'metadata.google.internal',
    'metadata.google.internal.',
    'instance-data',
    '127.0.0.1',
    '169.254.169.254',
    '[::1]',
    '[::ffff:a9fe:a9fe]',
  ])('refuses %s', (host) => {
    expect(isHostAllowed(host, false)).toBe(false);
  });

  it.each(['api.github.com', 'acme.zendesk.com', 'mylocalhost.com', '8.8.8.8', '[2606:4700::1]'])('allows %s', (host) => {
    expect(isHostAllowed(host, false)).toBe(true);
  });

  it.each(['localhost', 'metadata.google.internal', '10.0.0.1', '[::1]'])('allows %s when private egress is allowed', (host) => {
    expect(isHostAllowed(host, true)).toBe(true);
  });

  it('refuses the hostname a URL gives for an IPv4-mapped loopback', () => {
    expect(isHostAllowed(new URL('http://[::ffff:127.0.0.1]:8080/').hostname, false)).toBe(false);
  });
});

interface LookupResult {
  error: NodeJS.ErrnoException | null;
  address: string | dns.LookupAddress[];
  family: number | undefined;
}

function lookup(allowPrivate: boolean, hostname: string, options: dns.LookupOptions = {}): Promise<LookupResult> {
  return new Promise((resolve) => {
    createGuardedLookup(allowPrivate)(hostname, options, (error, address, family) => resolve({ error, address, family }));
  });
}

describe('createGuardedLookup', () => {
  it('refuses localhost with code EGRESS_DENIED', async () => {
    const result = await lookup(false, 'localhost');
    expect(result.error?.code).toBe('EGRESS_DENIED');
  });

  it('refuses an IP literal in a private range', async () => {
    expect((await lookup(false, '169.254.169.254')).error?.code).toBe('EGRESS_DENIED');
  });

  it('refuses localhost when all addresses are asked for', async () => {
    expect((await lookup(false, 'localhost', { all: true })).error?.code).toBe('EGRESS_DENIED');
  });

  it('resolves localhost when private egress is allowed', async () => {
    const result = await lookup(true, 'localhost');
    expect(result.error).toBeNull();
    expect(['127.0.0.1', '::1']).toContain(result.address);
    expect([4, 6]).toContain(result.family);
  });

  it('answers a list when all addresses are asked for and private egress is allowed', async () => {
    const result = await lookup(true, 'localhost', { all: true });
    expect(result.error).toBeNull();
    expect(Array.isArray(result.address)).toBe(true);
    expect((result.address as dns.LookupAddress[]).length).toBeGreaterThan(0);
  });

  it('resolves a public IP literal', async () => {
    const result = await lookup(false, '8.8.8.8');
    expect(result).toEqual({ error: null, address: '8.8.8.8', family: 4 });
  });
});

describe('createGuardedAgent', () => {
  const servers: http.Server[] = [];
  const listen = async (host: string) => {
    const server = http.createServer((_req, res) => res.end('ok'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return (server.address() as AddressInfo).port;
  };
  afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

  const status = async (agent: Agent, url: string) => {
    try {
      const response = await agent.request({ origin: new URL(url).origin, path: '/', method: 'GET' });
      await response.body.dump();
      return response.statusCode;
    } catch (error) {
      return (error as { code?: string }).code;
    }
  };

  it('refuses a loopback IP literal (no DNS involved), as token requests to 127.0.0.1 used to pass', async () => {
    const port = await listen('127.0.0.1');
    const agent = createGuardedAgent({ allowPrivateEgress: false });
    expect(await status(agent, `http://127.0.0.1:${port}/`)).toBe('EGRESS_DENIED');
    await agent.close();
  });

  it("trusts exactly the operator's webhook origin: another port on the same host stays refused", async () => {
    const trustedPort = await listen('127.0.0.1');
    const otherPort = await listen('127.0.0.1');
    const agent = createGuardedAgent({ allowPrivateEgress: false, trustedUrls: [`http://127.0.0.1:${trustedPort}/hooks`] });
    expect(await status(agent, `http://127.0.0.1:${trustedPort}/`)).toBe(200);
    expect(await status(agent, `http://127.0.0.1:${otherPort}/`)).toBe('EGRESS_DENIED');
    await agent.close();
  });

  it('trusts an IPv6 literal webhook origin written with brackets', async () => {
    const port = await listen('::1');
    const agent = createGuardedAgent({ allowPrivateEgress: false, trustedUrls: [`http://[::1]:${port}/hooks`] });
    expect(await status(agent, `http://[::1]:${port}/`)).toBe(200);
    await agent.close();
  });
});
