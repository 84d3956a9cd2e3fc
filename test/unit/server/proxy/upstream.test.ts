// requestUpstream and its body, against a real HTTP server on 127.0.0.1: held chunks, the sink's
// backpressure, destroy and abort stopping the transfer, the stream form, dump.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, type Dispatcher } from 'undici';
import { Cancellation } from '../../../../server/proxy/cancel.js';
import { requestUpstream, type UpstreamBody } from '../../../../server/proxy/upstream.js';
import type { BodySink } from '../../../../server/proxy/types.js';

const BIG = Buffer.alloc(4 * 1024 * 1024, 'x');

describe('requestUpstream', () => {
  let server: http.Server;
  let origin: string;
  let agent: Agent;
  const sockets = new Set<Socket>();
  let connections = 0;
  /** The connection each path was last served on. */
  const servedOn = new Map<string, Socket>();
  /** Requests whose answer the test holds: resolves with the response to finish. */
  const held: http.ServerResponse[] = [];
  const closed: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.once('close', () => closed.push(req.url ?? ''));
      servedOn.set(req.url ?? '', req.socket);
      if (req.url === '/small') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' }).end('hello');
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG.length) }).end(BIG);
      } else if (req.url === '/hold') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first ');
        held.push(res);
      } else if (req.url === '/cut') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
        res.write('only part', () => req.socket.destroy());
      } else {
        held.push(res);
      }
    });
    server.on('connection', (socket) => {
      connections++;
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    for (const res of held.splice(0)) res.destroy();
    await agent?.close();
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const send = (path: string, signal?: Cancellation) => {
    agent = new Agent();
    return requestUpstream(agent, { origin, path, method: 'GET', headers: {}, signal });
  };

  /** A sink that keeps what it is given; `accept` says whether it wants more after each chunk. */
  function collecting(accept: (chunk: Buffer) => boolean = () => true) {
    const chunks: Buffer[] = [];
    let resolveDone!: (outcome: { ended: boolean; error?: Error }) => void;
    const done = new Promise<{ ended: boolean; error?: Error }>((resolve) => (resolveDone = resolve));
    const sink: BodySink = {
      data: (chunk) => {
        chunks.push(chunk);
        return accept(chunk);
      },
      end: () => resolveDone({ ended: true }),
      error: (error) => resolveDone({ ended: false, error }),
    };
    return { sink, done, text: () => Buffer.concat(chunks).toString('utf8'), bytes: () => Buffer.concat(chunks) };
  }

  function outcome(body: UpstreamBody): Promise<Error | null> {
    return new Promise((resolve) => body.onDone(resolve));
  }

  it('resolves with the head and hands a body that already arrived to the taker that comes later', async () => {
    const response = await send('/small');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain');
    // The whole body came with the head: it is held, and done, before anyone takes it.
    await expect(outcome(response.body)).resolves.toBeNull();
    const taker = collecting();
    response.body.deliver(taker.sink);
    await expect(taker.done).resolves.toEqual({ ended: true });
    expect(taker.text()).toBe('hello');
    expect(() => response.body.deliver(collecting().sink)).toThrow(/taker already/);
  });

  it("pauses the provider while the sink says no, and delivers every byte in order once it resumes", async () => {
    const response = await send('/big');
    let pauses = 0;
    const taker = collecting(() => {
      pauses++;
      setImmediate(() => response.body.resume());
      return false;
    });
    response.body.deliver(taker.sink);
    await expect(taker.done).resolves.toEqual({ ended: true });
    expect(taker.bytes().equals(BIG)).toBe(true);
    expect(pauses).toBeGreaterThan(1);
    await expect(outcome(response.body)).resolves.toBeNull();
  });

  it('stops the transfer on destroy(): the body settles as not read, and the provider sees its connection closed', async () => {
    const response = await send('/hold');
    const taker = collecting();
    response.body.deliver(taker.sink);
    await expect.poll(() => taker.text()).toBe('first ');
    response.body.destroy();
    const settled = await outcome(response.body);
    expect(settled?.message).toBe('the response body was not read to its end');
    expect((await taker.done).ended).toBe(false);
    await expect.poll(() => closed.includes('/hold')).toBe(true);
  });

  it("the call's signal: before the head it rejects with the reason, after it the body fails with it", async () => {
    const early = new Cancellation();
    const pending = send('/silent', early);
    await expect.poll(() => held.length).toBe(1);
    early.abort(new Error('client disconnected'));
    await expect(pending).rejects.toThrow('client disconnected');

    const late = new Cancellation();
    const response = await send('/hold', late);
    const taker = collecting();
    response.body.deliver(taker.sink);
    late.abort(new Error('client disconnected'));
    const result = await taker.done;
    expect(result.error?.message).toBe('client disconnected');
    expect((await outcome(response.body))?.message).toBe('client disconnected');
  });

  it('a signal aborted before the call rejects at once, without a request', async () => {
    const before = connections;
    const signal = new Cancellation();
    signal.abort(new Error('gone'));
    await expect(send('/small', signal)).rejects.toThrow('gone');
    expect(connections).toBe(before);
  });

  it('a provider that fails mid-body fails the body, with the network error', async () => {
    const response = await send('/cut');
    const taker = collecting();
    response.body.deliver(taker.sink);
    const result = await taker.done;
    expect(result.ended).toBe(false);
    expect(result.error).toBeInstanceOf(Error);
    expect(await outcome(response.body)).toBe(result.error);
  });

  it('gives the body as a stream; destroying the stream early stops the transfer', async () => {
    const whole = await send('/big');
    const chunks: Buffer[] = [];
    for await (const chunk of whole.body.toReadable()) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(BIG)).toBe(true);

    const partial = await send('/hold');
    const stream = partial.body.toReadable();
    stream.once('data', () => stream.destroy());
    expect((await outcome(partial.body))?.message).toBe('the response body was not read to its end');
  });

  it('dump() reads a small unwanted body to its end, and its connection stays open for the next call', async () => {
    const response = await send('/small');
    await response.body.dump();
    await expect(outcome(response.body)).resolves.toBeNull();
    // The same connection serves the next call (undici would have closed one it gave up). undici
    // takes a socket back a full event-loop turn after its answer ended, so the call waits one.
    const socket = servedOn.get('/small');
    await new Promise((resolve) => setImmediate(resolve));
    const next = await requestUpstream(agent, { origin, path: '/big', method: 'GET', headers: {} });
    await next.body.dump();
    expect(servedOn.get('/big')).toBe(socket);
    expect(socket?.destroyed).toBe(false);
  });

  it('dump() abandons a long unwanted body instead of reading megabytes, and its connection with it', async () => {
    const response = await send('/big');
    await response.body.dump();
    expect((await outcome(response.body))?.message).toBe('the response body was not read to its end');
    await expect.poll(() => servedOn.get('/big')?.destroyed).toBe(true);
  });

  it('lets go of the call once the request is over, even while the dispatcher still holds the handler', async () => {
    // undici keeps a finished request's handler reachable for a while; whatever the handler then
    // still referenced was promoted by the garbage collector under load (bench:ab: 28 % more CPU).
    // A dispatcher that keeps every handler forever stands in for it here.
    const kept: object[] = [];
    agent = new Agent();
    const inner = agent;
    const keeping = {
      dispatch: (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => {
        kept.push(handler);
        return inner.dispatch(options, handler);
      },
    } as unknown as Dispatcher;
    const collect = exposedGc();
    const refs = await (async () => {
      const signal = new Cancellation();
      const response = await requestUpstream(keeping, { origin, path: '/small', method: 'GET', headers: {}, signal });
      const sink = collecting();
      response.body.deliver(sink.sink);
      await sink.done;
      expect(sink.text()).toBe('hello');
      return { body: new WeakRef(response.body), sink: new WeakRef(sink.sink), signal: new WeakRef(signal) };
    })();
    expect(kept).toHaveLength(1);
    await expect
      .poll(() => {
        collect();
        // Whether each is gone, not the objects: the poll keeps the value it was last given.
        return [refs.body.deref() === undefined, refs.sink.deref() === undefined, refs.signal.deref() === undefined];
      })
      .toEqual([true, true, true]);
  });
});

/** V8's gc(), without exposing it to the rest of the test run (as scripts/launch.mjs gets it). */
function exposedGc(): () => void {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}
