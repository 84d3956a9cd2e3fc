// Hostile input against the running server: every row is one attack and the answer a user must
// get, a 4xx in the documented `{"error":{"code","message"}}` shape, never a 500 or a stack.
// Rows come from the input-hardening review; add one per new finding.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startTokenServer, type TokenServer } from '../harness/oauth.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';

const KEY = 'github';
const CONN = 'conn-1';
const ACCESS = 'gho_AttackAccessToken_123456';
const REFRESH = 'ghr_AttackRefreshToken_654321';
const RECORD_HEADERS = { 'provider-config-key': KEY, 'connection-id': CONN };
/** Comfortably over the 64 KiB metadata cap. */
const OVER_CAP = 'x'.repeat(70 * 1024);

/** An HTTP request sent as written (path not normalised); `body` as a string is sent as raw JSON text. */
interface HttpAttack {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}
/** Bytes written to a TCP socket as they are, for what no well-behaved client would send. */
interface RawAttack {
  raw: string;
}
interface Attack {
  name: string;
  request: HttpAttack | RawAttack;
  status: number;
  code: string;
}

const get = (path: string, headers?: Record<string, string>): HttpAttack => ({ method: 'GET', path, ...(headers ? { headers } : {}) });
const send = (method: string, path: string, body: unknown, headers?: Record<string, string>): HttpAttack => ({
  method,
  path,
  body,
  ...(headers ? { headers } : {}),
});
const nested = (depth: number, leaf = '1') => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
const cursorOf = (text: string) => Buffer.from(text).toString('base64url');
const rawRequest = (requestLine: string, headers: string[], body = '') =>
  [requestLine, 'Host: patchbay', 'Connection: close', ...headers, '', body].join('\r\n');

const ATTACKS: Attack[] = [
  // Metadata is capped on every write path (a 70 MB value once made every list answer 73 MB).
  {
    name: 'POST /connections with metadata over the cap',
    request: send('POST', '/connections', { provider_config_key: KEY, connection_id: 'big', metadata: { blob: OVER_CAP }, credentials: { type: 'OAUTH2', access_token: 't' } }),
    status: 413,
    code: 'metadata_too_large',
  },
  {
    name: 'POST /connections/metadata over the cap',
    request: send('POST', '/connections/metadata', { provider_config_key: KEY, connection_id: CONN, metadata: { blob: OVER_CAP } }),
    status: 413,
    code: 'metadata_too_large',
  },
  {
    name: 'PATCH /connections/metadata over the cap',
    request: send('PATCH', '/connections/metadata', { provider_config_key: KEY, connection_id: [CONN], metadata: { blob: OVER_CAP } }),
    status: 413,
    code: 'metadata_too_large',
  },
  {
    name: 'PATCH /connections/:id with metadata over the cap',
    request: send('PATCH', `/connections/${CONN}?provider_config_key=${KEY}`, { metadata: { blob: OVER_CAP } }),
    status: 413,
    code: 'metadata_too_large',
  },
  {
    name: 'metadata small as sent but large as stored (1e308 is 309 digits in PostgreSQL)',
    request: send('POST', '/connections/metadata', { provider_config_key: KEY, connection_id: CONN, metadata: { n: Array(300).fill(1e308) } }),
    status: 413,
    code: 'metadata_too_large',
  },
  {
    name: 'connection_config over the cap',
    request: send('PATCH', `/connections/${CONN}?provider_config_key=${KEY}`, { connection_config: { blob: OVER_CAP } }),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'a connections body over its 1 MiB limit',
    request: send('POST', '/connections/metadata', { provider_config_key: KEY, connection_id: CONN, metadata: { blob: 'x'.repeat(2 * 1024 * 1024) } }),
    status: 413,
    code: 'request_too_large',
  },
  {
    name: 'credentials.expires_at before PostgreSQL time',
    request: send('POST', '/connections', { provider_config_key: KEY, connection_id: 'old', credentials: { type: 'OAUTH2', access_token: 't', expires_at: '-271821-04-20T00:00:00.000Z' } }),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'webhook_url_override of 10 000 characters',
    request: send('PATCH', `/connections/${CONN}?provider_config_key=${KEY}`, { webhook_url_override: `https://example.com/${'a'.repeat(10_000)}` }),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'more than 10 tags',
    request: send('PATCH', `/connections/${CONN}?provider_config_key=${KEY}`, { tags: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v'])) }),
    status: 400,
    code: 'invalid_body',
  },

  // NUL (and lone surrogates), which PostgreSQL refuses in text and jsonb.
  { name: 'NUL in GET /connections search', request: get('/connections?search=a%00b'), status: 400, code: 'invalid_query_params' },
  { name: 'NUL in GET /connections endUserId', request: get('/connections?endUserId=%00'), status: 400, code: 'invalid_query_params' },
  { name: 'NUL in GET /connections connectionId', request: get('/connections?connectionId=a%00'), status: 400, code: 'invalid_query_params' },
  { name: 'NUL in GET /connections integrationId', request: get('/connections?integrationId=git%00hub'), status: 400, code: 'invalid_query_params' },
  { name: 'NUL in a tag filter value', request: get('/connections?tags[team]=a%00'), status: 400, code: 'invalid_query_params' },
  { name: 'NUL in a tag filter key', request: get('/connections?tags[te%00am]=a'), status: 400, code: 'invalid_query_params' },
  { name: 'NUL in a connection id (path)', request: get(`/connections/a%00b?provider_config_key=${KEY}`), status: 400, code: 'invalid_uri_params' },
  {
    name: 'NUL in a metadata value',
    request: send('POST', '/connections/metadata', `{"provider_config_key":"${KEY}","connection_id":"${CONN}","metadata":{"a":"x\\u0000y"}}`),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'NUL in a metadata key',
    request: send('PATCH', '/connections/metadata', `{"provider_config_key":"${KEY}","connection_id":"${CONN}","metadata":{"a\\u0000":1}}`),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'a lone surrogate in metadata',
    request: send('POST', '/connections/metadata', `{"provider_config_key":"${KEY}","connection_id":"${CONN}","metadata":{"a":"\\ud800"}}`),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'NUL in connection_config of an import',
    request: send('POST', '/connections', `{"provider_config_key":"${KEY}","connection_id":"nul-1","connection_config":{"a":"\\u0000"},"credentials":{"type":"OAUTH2","access_token":"t"}}`),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'NUL in end_user.email',
    request: send('PATCH', `/connections/${CONN}?provider_config_key=${KEY}`, `{"end_user":{"id":"u","email":"a\\u0000@b"}}`),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'NUL in an integration display name',
    request: send('POST', '/integrations', `{"provider":"github","unique_key":"gh-nul","display_name":"a\\u0000"}`),
    status: 400,
    code: 'invalid_body',
  },
  { name: 'NUL in GET /logs connection_id', request: get('/logs?connection_id=a%00'), status: 400, code: 'invalid_query_params' },
  { name: 'NUL in GET /logs provider_config_key', request: get('/logs?provider_config_key=a%00'), status: 400, code: 'invalid_query_params' },
  { name: 'NUL in GET /records model', request: get('/records?model=a%00', RECORD_HEADERS), status: 400, code: 'invalid_query_params' },
  { name: 'NUL in GET /records ids', request: get('/records?model=M&ids=a%00', RECORD_HEADERS), status: 400, code: 'invalid_query_params' },
  { name: 'NUL in GET /sync/status syncs', request: get(`/sync/status?provider_config_key=${KEY}&syncs=a%00`), status: 400, code: 'invalid_query_params' },
  {
    name: 'NUL in POST /sync/pause syncs',
    request: send('POST', '/sync/pause', `{"provider_config_key":"${KEY}","syncs":["a\\u0000"]}`),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'NUL in PUT /sync/update-connection-frequency sync_name',
    request: send('PUT', '/sync/update-connection-frequency', `{"provider_config_key":"${KEY}","connection_id":"${CONN}","sync_name":"a\\u0000","frequency":null}`),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'NUL in POST /action/trigger action_name',
    request: send('POST', '/action/trigger', `{"action_name":"a\\u0000"}`, RECORD_HEADERS),
    status: 400,
    code: 'invalid_body',
  },

  // Huge, negative and fractional numbers in pagination.
  { name: 'GET /connections page=2^53-1', request: get('/connections?page=9007199254740991'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /connections page=2^53-1 of the largest limit', request: get('/connections?page=9007199254740991&limit=10000'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /connections page=1 000 001', request: get('/connections?page=1000001'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /connections page=-1', request: get('/connections?page=-1'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /connections page=1e400', request: get('/connections?page=1e400'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /connections limit=2^53-1', request: get('/connections?limit=9007199254740991'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /connections limit=1.5', request: get('/connections?limit=1.5'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /logs limit=2^53-1', request: get('/logs?limit=9007199254740991'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /logs limit=-5', request: get('/logs?limit=-5'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /logs status=2^53-1', request: get('/logs?status=9007199254740991'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /records limit=2^53-1', request: get('/records?model=M&limit=9007199254740991', RECORD_HEADERS), status: 400, code: 'invalid_query_params' },
  { name: 'GET /records limit=-1', request: get('/records?model=M&limit=-1', RECORD_HEADERS), status: 400, code: 'invalid_query_params' },
  {
    name: 'PATCH /records/prune limit=2^53-1',
    request: send('PATCH', '/records/prune', { model: 'M', until_cursor: cursorOf('1'), limit: 9007199254740991 }, RECORD_HEADERS),
    status: 400,
    code: 'invalid_body',
  },

  // JSON nested 100 000 levels deep.
  {
    name: 'deep JSON in POST /connections/metadata',
    request: send('POST', '/connections/metadata', `{"provider_config_key":"${KEY}","connection_id":"${CONN}","metadata":${nested(100_000)}}`),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'deep JSON arrays in POST /connections',
    request: send('POST', '/connections', `{"provider_config_key":"${KEY}","connection_config":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}},"credentials":{"type":"OAUTH2","access_token":"t"}}`),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'deep JSON as an action input',
    request: send('POST', '/action/trigger', `{"action_name":"write-metadata","input":${nested(100_000)}}`, RECORD_HEADERS),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: 'deep JSON in POST /sync/trigger',
    request: send('POST', '/sync/trigger', `{"provider_config_key":"${KEY}","syncs":[${nested(100_000)}]}`),
    status: 400,
    code: 'invalid_body',
  },

  // Forged cursors.
  { name: 'GET /logs with a garbage cursor', request: get('/logs?cursor=!!!not-base64!!!'), status: 400, code: 'invalid_query_params' },
  { name: 'GET /logs with base64 of garbage', request: get(`/logs?cursor=${cursorOf('garbage')}`), status: 400, code: 'invalid_query_params' },
  {
    name: 'GET /logs with a cursor whose id is 36 dashes',
    request: get(`/logs?cursor=${cursorOf(`2024-01-01T00:00:00.000Z|${'-'.repeat(36)}`)}`),
    status: 400,
    code: 'invalid_query_params',
  },
  {
    name: 'GET /logs with a cursor dated before PostgreSQL time',
    request: get(`/logs?cursor=${cursorOf('-271821-04-20T00:00:00.000Z|0b6e8f3c-2f7e-4c55-9a59-3f1f7e6d5c4b')}`),
    status: 400,
    code: 'invalid_query_params',
  },
  {
    name: 'GET /logs with a cursor dated "0" (a date JavaScript accepts)',
    request: get(`/logs?cursor=${cursorOf('0|0b6e8f3c-2f7e-4c55-9a59-3f1f7e6d5c4b')}`),
    status: 400,
    code: 'invalid_query_params',
  },
  { name: 'GET /records with a forged cursor', request: get(`/records?model=M&cursor=${cursorOf('99999999999999999999')}`, RECORD_HEADERS), status: 400, code: 'invalid_query_params' },
  { name: 'GET /logs/:id that is no uuid', request: get('/logs/not-a-uuid'), status: 400, code: 'invalid_uri_params' },
  { name: 'GET /action/:id that is no uuid', request: get('/action/%00'), status: 400, code: 'invalid_uri_params' },

  // Prototype keys are refused, not silently dropped.
  { name: 'tags[__proto__]=x in GET /connections', request: get('/connections?tags[__proto__]=x'), status: 400, code: 'invalid_query_params' },
  { name: 'tags[constructor]=x in GET /connections', request: get('/connections?tags[constructor]=x'), status: 400, code: 'invalid_query_params' },
  { name: 'tags[prototype]=x in GET /connections', request: get('/connections?tags[prototype]=x'), status: 400, code: 'invalid_query_params' },
  {
    name: '{"tags":{"__proto__":…}} in POST /connections',
    request: send('POST', '/connections', `{"provider_config_key":"${KEY}","tags":{"__proto__":{"x":"y"}},"credentials":{"type":"OAUTH2","access_token":"t"}}`),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: '{"tags":{"constructor":"x"}} in PATCH /connections/:id',
    request: send('PATCH', `/connections/${CONN}?provider_config_key=${KEY}`, { tags: { constructor: 'x' } }),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: '{"tags":{"prototype":"x"}} in POST /connections',
    request: send('POST', '/connections', { provider_config_key: KEY, tags: { prototype: 'x' }, credentials: { type: 'OAUTH2', access_token: 't' } }),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: '{"end_user":{"tags":{"constructor":"x"}}} in PATCH /connections/:id',
    request: send('PATCH', `/connections/${CONN}?provider_config_key=${KEY}`, { end_user: { id: 'u', tags: { constructor: 'x' } } }),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: '{"metadata":{"constructor":…}} in POST /connections/metadata',
    request: send('POST', '/connections/metadata', { provider_config_key: KEY, connection_id: CONN, metadata: { constructor: 'x' } }),
    status: 400,
    code: 'invalid_body',
  },
  {
    name: '{"custom":{"prototype":"x"}} in PATCH /integrations/:key',
    request: send('PATCH', `/integrations/${KEY}`, { custom: { prototype: 'x' } }),
    status: 400,
    code: 'invalid_body',
  },

  // Transport-level errors keep the documented shape.
  {
    name: 'a 20 KB header (431)',
    request: { raw: rawRequest('GET /connections HTTP/1.1', [`X-Big: ${'a'.repeat(20_000)}`]) },
    status: 431,
    code: 'request_headers_too_large',
  },
  {
    name: 'Content-Length: -1',
    request: { raw: rawRequest('POST /connections/metadata HTTP/1.1', ['Content-Type: application/json', 'Content-Length: -1'], '{}') },
    status: 400,
    code: 'invalid_headers',
  },
  {
    name: 'Content-Length: abc',
    request: { raw: rawRequest('POST /connections/metadata HTTP/1.1', ['Content-Type: application/json', 'Content-Length: abc'], '{}') },
    status: 400,
    code: 'invalid_headers',
  },
  {
    name: 'Content-Length beside Transfer-Encoding: chunked (request smuggling)',
    request: { raw: rawRequest('POST /connections/metadata HTTP/1.1', ['Content-Type: application/json', 'Content-Length: 2', 'Transfer-Encoding: chunked'], '2\r\n{}\r\n0\r\n\r\n') },
    status: 400,
    code: 'invalid_headers',
  },
  { name: 'a request line that is not HTTP', request: { raw: 'GARBAGE\r\n\r\n' }, status: 400, code: 'malformed_request' },
  { name: 'malformed percent-encoding in the path', request: get('/connections/%E0%A4%A'), status: 400, code: 'invalid_uri_params' },
  { name: 'malformed percent-encoding in a proxy path', request: get('/proxy/%ZZ', RECORD_HEADERS), status: 400, code: 'invalid_uri_params' },
  { name: 'a connection id of 150 characters (over fastify’s default param length)', request: get(`/connections/${'a'.repeat(150)}?provider_config_key=${KEY}`), status: 404, code: 'unknown_connection' },
  {
    name: 'the longest connection id (255 × €, 2 295 bytes percent-encoded)',
    request: get(`/connections/${'%E2%82%AC'.repeat(255)}?provider_config_key=${KEY}`),
    status: 404,
    code: 'unknown_connection',
  },
  { name: 'a connection id of 5000 characters', request: get(`/connections/${'a'.repeat(5000)}?provider_config_key=${KEY}`), status: 400, code: 'invalid_uri_params' },
];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Writes the bytes, reads until the server closes the socket, and splits the HTTP answer. */
function sendRaw(url: string, bytes: string): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may close while we still write a huge header: what it answered is what counts.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1]);
      if (Number.isNaN(status)) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const headers = Object.fromEntries(
        headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      resolve({ status, headers, text: rest.join('\r\n\r\n') });
    });
    socket.write(bytes);
  });
}

describe('hostile input', () => {
  let patchbay: TestPatchbay;
  let tokens: TokenServer;
  let functions: FunctionsFolder;

  beforeAll(async () => {
    tokens = await startTokenServer();
    functions = await writeFunctions({
      [`${KEY}/actions/write-metadata.ts`]: `
        import { createAction } from 'patchbay';
        export default createAction({
          description: 'Writes metadata as asked and reports how the write ended',
          exec: async (nango, input: { merge: boolean; bytes: number }) => {
            const metadata = { blob: 'x'.repeat(input.bytes) };
            try {
              if (input.merge) await nango.updateMetadata(metadata);
              else await nango.setMetadata(metadata);
              return { ok: true };
            } catch (error) {
              const { code, status } = error as { code?: string; status?: number };
              return { ok: false, code, status };
            }
          },
        });`,
    });
    patchbay = await startPatchbay({
      label: 'attacks-input',
      functionsDir: functions.dir,
      providers: { github: { token_url: tokens.tokenUrl } },
    });
    const integration = await patchbay.request('POST', '/integrations', {
      body: { provider: 'github', unique_key: KEY, credentials: { type: 'OAUTH2', client_id: 'app-id', client_secret: 'app-secret' } },
    });
    expect(integration.status).toBe(200);
    const connection = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: KEY, connection_id: CONN, metadata: { plan: 'pro' }, credentials: { type: 'OAUTH2', access_token: ACCESS, refresh_token: REFRESH } },
    });
    expect(connection.status).toBe(201);
  });
  afterAll(async () => {
    await patchbay?.stop();
    await tokens?.close();
    await functions?.remove();
  });

  // Titles built here: vitest's `$name` would cut them at 40 characters.
  it.each(ATTACKS.map((attack) => [`${attack.name} → ${attack.status} ${attack.code}`, attack] as const))('%s', async (_title, { request, status, code }) => {
    const answer =
      'raw' in request
        ? await sendRaw(patchbay.url, request.raw)
        : await patchbay.request(request.method, request.path, {
            ...(request.headers ? { headers: request.headers } : {}),
            ...(request.body === undefined ? {} : { body: request.body }),
          });
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(answer.text);
    expect({ status: answer.status, code: body.error?.code }).toEqual({ status, code });
    expect(typeof body.error.message).toBe('string');
    expect(answer.text).not.toMatch(/at .+\.(ts|js):\d+/);
  });

  it('keeps the stored metadata when a refused write would have replaced it', async () => {
    const read = await patchbay.request('GET', `/connections/${CONN}?provider_config_key=${KEY}`);
    expect(read.json.metadata).toEqual({ plan: 'pro' });
  });

  it('checks merged metadata after merging: two halves that fit alone are refused together', async () => {
    const half = 'y'.repeat(40 * 1024);
    const created = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: KEY, connection_id: 'merge-1', metadata: { a: half }, credentials: { type: 'OAUTH2', access_token: 't' } },
    });
    expect(created.status).toBe(201);
    const merged = await patchbay.request('PATCH', '/connections/metadata', { body: { provider_config_key: KEY, connection_id: 'merge-1', metadata: { b: half } } });
    expect([merged.status, merged.json.error.code]).toEqual([413, 'metadata_too_large']);
    const replaced = await patchbay.request('POST', '/connections/metadata', { body: { provider_config_key: KEY, connection_id: 'merge-1', metadata: { b: half } } });
    expect(replaced.status).toBe(200);
    const read = await patchbay.request('GET', `/connections/merge-1?provider_config_key=${KEY}`);
    expect(read.json.metadata).toEqual({ b: half });
  });

  it('gives a function the same metadata_too_large from setMetadata and updateMetadata', async () => {
    const trigger = (input: { merge: boolean; bytes: number }) =>
      patchbay.request('POST', '/action/trigger', { headers: RECORD_HEADERS, body: { action_name: 'write-metadata', input } });
    expect((await trigger({ merge: false, bytes: 70 * 1024 })).json).toEqual({ ok: false, code: 'metadata_too_large', status: 413 });
    expect((await trigger({ merge: false, bytes: 40 * 1024 })).json).toEqual({ ok: true });
    expect((await trigger({ merge: true, bytes: 40 * 1024 })).json).toEqual({ ok: true }); // same key: replaced within the merge
    const read = await patchbay.request('GET', `/connections/${CONN}?provider_config_key=${KEY}`);
    expect(read.json.metadata.blob).toHaveLength(40 * 1024);
    await patchbay.request('POST', '/connections/metadata', { body: { provider_config_key: KEY, connection_id: CONN, metadata: { plan: 'pro', other: 'z'.repeat(40 * 1024) } } });
    expect((await trigger({ merge: true, bytes: 40 * 1024 })).json).toEqual({ ok: false, code: 'metadata_too_large', status: 413 });
    await patchbay.request('POST', '/connections/metadata', { body: { provider_config_key: KEY, connection_id: CONN, metadata: { plan: 'pro' } } });
  });
});

describe('credentials in connection answers', () => {
  let patchbay: TestPatchbay;
  let tokens: TokenServer;

  beforeAll(async () => {
    tokens = await startTokenServer();
    patchbay = await startPatchbay({ label: 'attacks-input-credentials', roles: ['server'], providers: { github: { token_url: tokens.tokenUrl } } });
    await patchbay.request('POST', '/integrations', {
      body: { provider: 'github', unique_key: KEY, credentials: { type: 'OAUTH2', client_id: 'app-id', client_secret: 'app-secret' } },
    });
    const created = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: KEY, connection_id: CONN, credentials: { type: 'OAUTH2', access_token: ACCESS, refresh_token: REFRESH } },
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await patchbay?.stop();
    await tokens?.close();
  });

  it('GET /connections/:id without refresh_token=true shows the refresh token nowhere, raw included', async () => {
    const read = await patchbay.request('GET', `/connections/${CONN}?provider_config_key=${KEY}`);
    expect(read.status).toBe(200);
    expect(read.json.credentials.access_token).toBe(ACCESS);
    expect(read.text).not.toContain(REFRESH);
    expect(read.json.credentials.raw).toEqual({ access_token: ACCESS });
    const asked = await patchbay.request('GET', `/connections/${CONN}?provider_config_key=${KEY}&refresh_token=true`);
    expect(asked.json.credentials.refresh_token).toBe(REFRESH);
  });

  it('hides the refresh token of a provider token response after a refresh', async () => {
    const forced = await patchbay.request('GET', `/connections/${CONN}?provider_config_key=${KEY}&force_refresh=true`);
    expect(forced.status).toBe(200);
    expect(forced.json.credentials.access_token).toBe(tokens.lastIssued());
    expect(forced.text).not.toMatch(/refresh-\d+/);
    expect(forced.json.credentials.raw).toMatchObject({ access_token: tokens.lastIssued(), token_type: 'bearer' });
    const asked = await patchbay.request('GET', `/connections/${CONN}?provider_config_key=${KEY}&refresh_token=true`);
    expect(asked.json.credentials.refresh_token).toMatch(/^refresh-\d+$/);
    expect(asked.json.credentials.raw.refresh_token).toBe(asked.json.credentials.refresh_token);
  });

  it('GET /connections never shows credentials', async () => {
    const list = await patchbay.request('GET', '/connections');
    expect(list.status).toBe(200);
    expect(list.json.connections).toHaveLength(1);
    expect(list.json.connections[0]).not.toHaveProperty('credentials');
    for (const secret of [ACCESS, REFRESH, tokens.lastIssued() ?? 'never', 'refresh-', 'app-secret']) expect(list.text).not.toContain(secret);
  });
});
