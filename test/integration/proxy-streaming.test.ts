import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { hugeBody, slowBody, startUpstream, type Step, type Upstream } from '../harness/upstream.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const MB = 1024 * 1024;

describe('proxy: streaming both ways', () => {
  let upstream: Upstream;
  let patchbay: TestPatchbay;
  let headers: Record<string, string>;

  beforeAll(async () => {
    upstream = await startUpstream();
    patchbay = await startPatchbay({
      label: 'proxy-streaming',
      env: { PATCHBAY_MAX_BODY_BYTES: String(40 * MB) },
      // One call at a time per connection: a call that kept its slot would hold up the next one.
      providers: { dropbox: { proxy: { base_url: upstream.url, max_concurrency: 1 } } },
    });
    await patchbay.request('POST', '/integrations', { body: { provider: 'dropbox', unique_key: 'dropbox' } });
    await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'dropbox', connection_id: 'd1', credentials: { type: 'OAUTH2', access_token: 'dbx-token' } },
    });
    headers = { authorization: `Bearer ${patchbay.secretKey}`, 'provider-config-key': 'dropbox', 'connection-id': 'd1' };
  });
  beforeEach(() => upstream.clear());
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
  });

  it('streams a 100 MB download with the process memory staying flat', async () => {
    const size = 100 * MB;
    upstream.script(hugeBody(size));
    // Live memory (heap + buffers) after a full GC: what the process holds on to, not the
    // garbage it has yet to collect. Buffering the body would show up as ~100 MB here.
    const live = () => {
      // Twice: buffers' backing stores are released by the collection after the one that found them dead.
      (global as { gc?: () => void }).gc?.();
      (global as { gc?: () => void }).gc?.();
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };
    const before = live();
    let peak = before;
    const res = await request(`${patchbay.url}/proxy/files/big`, { headers });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(size));
    let received = 0;
    let nextSample = 0;
    const hash = createHash('sha256');
    for await (const chunk of res.body) {
      received += (chunk as Buffer).length;
      hash.update(chunk as Buffer);
      if (received >= nextSample) {
        peak = Math.max(peak, live());
        nextSample += 10 * MB;
      }
    }
    expect(received).toBe(size);
    // the same deterministic bytes the fake provider generated
    const expected = createHash('sha256');
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
    for (let sent = 0; sent < size; sent += chunk.length) expected.update(chunk.subarray(0, Math.min(chunk.length, size - sent)));
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    expect(typeof (global as { gc?: unknown }).gc).toBe('function');
    expect(peak - before).toBeLessThan(20 * MB);
  }, 60_000);

  it('passes binary bytes through identical, with a matching content-length', async () => {
    const bytes = randomBytes(3 * MB + 17);
    upstream.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      res.end(bytes);
    });
    const res = await patchbay.request('GET', '/proxy/files/bin', { headers, auth: headers.authorization?.slice(7) });
    expect(res.status).toBe(200);
    expect(res.bytes.length).toBe(bytes.length);
    expect(sha256(res.bytes)).toBe(sha256(bytes));
    expect(res.headers['content-length']).toBe(String(bytes.length));
  });

  const gzipped: Step = (_req, res) => {
    const body = gzipSync(Buffer.from(JSON.stringify({ hello: 'world', n: [1, 2, 3] })));
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
    res.end(body);
  };

  it('passes a gzip body through untouched, content-encoding and content-length describing it', async () => {
    upstream.script(gzipped);
    const res = await request(`${patchbay.url}/proxy/data`, { headers });
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['content-length']).toBe(String(body.length));
    expect(JSON.parse(gunzipSync(body).toString())).toEqual({ hello: 'world', n: [1, 2, 3] });
  });

  it('decompresses with Decompress: true and drops the headers that no longer match', async () => {
    upstream.script(gzipped);
    const res = await request(`${patchbay.url}/proxy/data`, { headers: { ...headers, decompress: 'true' } });
    const text = await res.body.text();
    expect(res.headers['content-encoding']).toBeUndefined();
    if (res.headers['content-length'] !== undefined) expect(res.headers['content-length']).toBe(String(Buffer.byteLength(text)));
    expect(JSON.parse(text)).toEqual({ hello: 'world', n: [1, 2, 3] });
  });

  it('answers 502 with the network-error body when the provider fails before the first byte', async () => {
    // Headers, then the connection dies before any of the promised body.
    upstream.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.flushHeaders();
      setTimeout(() => res.socket?.destroy(), 30);
    });
    const reset = await request(`${patchbay.url}/proxy/early-reset`, { headers });
    expect(reset.statusCode).toBe(502);
    expect(reset.headers['content-type']).toBe('application/json; charset=utf-8');
    const resetBody = (await reset.body.json()) as Record<string, unknown>;
    expect(resetBody).toMatchObject({ status: 502, method: 'GET' });
    expect(resetBody.message).toMatch(/before its first byte/);
    expect(typeof resetBody.code).toBe('string');

    // A body that says gzip and is not, with Decompress: true.
    upstream.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end('this is not gzip at all');
    });
    const junk = await request(`${patchbay.url}/proxy/not-gzip`, { headers: { ...headers, decompress: 'true' } });
    expect(junk.statusCode).toBe(502);
    expect(await junk.body.json()).toEqual({
      message: "The provider's answer failed before its first byte: Z_DATA_ERROR",
      code: 'Z_DATA_ERROR',
      status: 502,
      method: 'GET',
    });
  });

  it('frees the slot and logs the call when the client leaves a decompressed download', async () => {
    // 8 MB of JSON-ish text in ~30 KB of gzip: the provider's own body is over long before the
    // client has read the decoded one.
    const packed = gzipSync(Buffer.from('{"row":"0123456789abcdef"},'.repeat(300_000)));
    upstream.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(packed.length) });
      res.end(packed);
    });
    const client = new Agent();
    const controller = new AbortController();
    const left = await request(`${patchbay.url}/proxy/packed`, { headers: { ...headers, decompress: 'true' }, signal: controller.signal, dispatcher: client });
    expect(left.statusCode).toBe(200);
    for await (const _chunk of left.body) {
      await new Promise((resolve) => setTimeout(resolve, 200)); // a slow reader: Patchbay's writes back up
      controller.abort();
      break;
    }
    // max_concurrency 1: the next call only goes through if the abandoned one gave its slot back.
    upstream.script(hugeBody(1000));
    const next = await request(`${patchbay.url}/proxy/after-packed`, { headers, dispatcher: client, headersTimeout: 5000 });
    expect(Buffer.from(await next.body.arrayBuffer()).length).toBe(1000);
    await client.close();
  });

  it('keeps the status of a bodiless answer with Decompress: true', async () => {
    for (const [status, path] of [[304, '/proxy/cached'], [204, '/proxy/emptied']] as const) {
      upstream.script((_req, res) => {
        res.writeHead(status, { 'content-encoding': 'gzip', etag: '"v1"' });
        res.end();
      });
      const res = await request(`${patchbay.url}${path}`, { headers: { ...headers, decompress: 'true' } });
      expect(res.statusCode).toBe(status);
      expect(res.headers.etag).toBe('"v1"');
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(await res.body.text()).toBe('');
    }
    upstream.script((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': '0', 'content-type': 'application/json' });
      res.end();
    });
    const empty = await request(`${patchbay.url}/proxy/empty`, { headers: { ...headers, decompress: 'true' } });
    expect(empty.statusCode).toBe(200);
    expect(await empty.body.text()).toBe('');
  });

  it('passes a 204 on without a content-length', async () => {
    upstream.script((_req, res) => {
      res.writeHead(204, { 'content-length': '0', etag: '"v2"' });
      res.end();
    });
    const res = await request(`${patchbay.url}/proxy/nothing`, { method: 'DELETE', headers });
    expect(res.statusCode).toBe(204);
    expect(res.headers.etag).toBe('"v2"');
    expect(res.headers['content-length']).toBeUndefined();
    expect(await res.body.text()).toBe('');
  });

  it('delivers the first bytes of a slow body before the provider has finished', async () => {
    // The provider sends its first bytes, then holds the rest until the client has read them: a
    // proxy that waited for the whole body would never answer (and the test would time out).
    let readFirst!: () => void;
    const clientReadFirst = new Promise<void>((resolve) => (readFirst = resolve));
    let providerFinished = false;
    upstream.script(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '60000' });
      res.write(Buffer.alloc(1000, 0x61));
      await clientReadFirst;
      providerFinished = true;
      res.end(Buffer.alloc(59_000, 0x62));
    });
    const res = await request(`${patchbay.url}/proxy/slow`, { headers });
    let total = 0;
    let finishedAtFirstChunk: boolean | undefined;
    for await (const chunk of res.body) {
      if (finishedAtFirstChunk === undefined) {
        finishedAtFirstChunk = providerFinished;
        readFirst();
      }
      total += (chunk as Buffer).length;
    }
    expect(finishedAtFirstChunk).toBe(false);
    expect(total).toBe(60_000);
  });

  it('streams a 30 MB upload to the provider byte for byte', async () => {
    const bytes = randomBytes(30 * MB);
    const res = await request(`${patchbay.url}/proxy/upload`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: bytes,
    });
    const echoed = (await res.body.json()) as { headers: Record<string, string> };
    expect(res.statusCode).toBe(200);
    const seen = upstream.requests.at(-1);
    expect(seen?.body.length).toBe(bytes.length);
    expect(sha256(seen?.body ?? Buffer.alloc(0))).toBe(sha256(bytes));
    expect(echoed.headers['content-type']).toBe('application/octet-stream');
    expect(echoed.headers['content-length']).toBe(String(bytes.length));
  }, 60_000);

  it('forwards multipart and form bodies with their content types intact', async () => {
    const boundary = '----patchbay-boundary';
    const multipart = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      randomBytes(2048),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const type = `multipart/form-data; boundary=${boundary}`;
    await request(`${patchbay.url}/proxy/upload`, { method: 'POST', headers: { ...headers, 'content-type': type }, body: multipart });
    expect(upstream.requests.at(-1)?.headers['content-type']).toBe(type);
    expect(sha256(upstream.requests.at(-1)?.body ?? Buffer.alloc(0))).toBe(sha256(multipart));
    await request(`${patchbay.url}/proxy/form`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&b=two+words',
    });
    expect(upstream.requests.at(-1)?.body.toString()).toBe('a=1&b=two+words');
  });

  it('refuses a body over the limit with 413 request_too_large, declared or streamed', async () => {
    // Its own client, destroyed at the end: a connection whose upload was refused half-way must
    // not stay in the shared pool, where it held up later tests' calls.
    const client = new Agent();
    const declared = await request(`${patchbay.url}/proxy/upload`, {
      dispatcher: client,
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(41 * MB) },
      body: Buffer.alloc(1),
    }).catch((error: unknown) => error as Error);
    if (!(declared instanceof Error)) {
      expect(declared.statusCode).toBe(413);
      expect(((await declared.body.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
    }
    async function* chunks() {
      for (let i = 0; i < 45; i++) yield Buffer.alloc(MB, 1);
    }
    const streamed = await request(`${patchbay.url}/proxy/upload`, {
      dispatcher: client,
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      body: Readable.from(chunks()),
    });
    expect(streamed.statusCode).toBe(413);
    expect(((await streamed.body.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
    await client.destroy();
  }, 60_000);

  it('aborts the upstream call when the client disconnects', async () => {
    let arrived!: () => void;
    const reachedProvider = new Promise<void>((resolve) => (arrived = resolve));
    let closed!: () => void;
    const upstreamClosed = new Promise<void>((resolve) => (closed = resolve));
    upstream.script((req) => {
      req.socket.on('close', () => closed());
      arrived();
    });
    const controller = new AbortController();
    const pending = request(`${patchbay.url}/proxy/hang`, { headers, signal: controller.signal }).catch((e: unknown) => e);
    // The call is at the provider (which never answers) before the client goes away…
    await reachedProvider;
    controller.abort();
    await pending;
    // …and the provider's connection is closed: a proxy that kept the call would hold it open
    // until the test's timeout.
    await upstreamClosed;
  });

  it('logs a download cut short, by the provider or by the client, as failed with upstream_body_error', async () => {
    const logged = async (endpoint: string) => {
      // Written once the call's body stream has closed, which may come after the client saw the end.
      for (let i = 0; i < 400; i++) {
        await patchbay.system.logs.flush();
        const res = await patchbay.request('GET', '/logs?connection_id=d1&limit=20');
        const op = (res.json as { data: { url: string; state: string; status: number; error: { code: string } | null }[] }).data.find((row) =>
          row.url.endsWith(endpoint),
        );
        if (op) return op;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no log operation for ${endpoint}`);
    };
    // Its own client: earlier tests leave the shared one with half-sent uploads and aborted calls.
    const client = new Agent();
    const get = (path: string, signal?: AbortSignal) => request(`${patchbay.url}${path}`, { headers, signal, dispatcher: client });
    // The provider resets the connection half-way through the body.
    upstream.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(4 * MB) });
      res.write(Buffer.alloc(256 * 1024), () => res.socket?.destroy());
    });
    const cut = await get('/proxy/files/cut');
    expect(cut.statusCode).toBe(200);
    await expect(cut.body.arrayBuffer()).rejects.toThrow();
    expect(await logged('/files/cut')).toMatchObject({ state: 'failed', status: 200, error: { code: 'upstream_body_error' } });

    // The client leaves after the first bytes of a slow body.
    upstream.script(slowBody(2 * MB, 256 * 1024));
    const controller = new AbortController();
    const left = await get('/proxy/files/left', controller.signal);
    for await (const _chunk of left.body) {
      controller.abort();
      break;
    }
    expect(await logged('/files/left')).toMatchObject({ state: 'failed', status: 200, error: { code: 'upstream_body_error' } });

    // Neither call kept its slot (max_concurrency 1): the next download goes through.
    upstream.script(hugeBody(MB));
    const next = await get('/proxy/files/next');
    expect(Buffer.from(await next.body.arrayBuffer()).length).toBe(MB);
    expect(await logged('/files/next')).toMatchObject({ state: 'success', status: 200, error: null });
    await client.close();
  });
});
