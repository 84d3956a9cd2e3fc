// The saved-responses format shared by `patchbay dryrun --save-responses DIR` (writes) and
// `patchbay/testing` (replays): which request a response answers, how its body is kept, and the
// file a request is saved in. Pure: no file system here.
import { createHash } from 'node:crypto';

/** What identifies a request: replay finds a response by these, never by the file's name. */
export interface SavedRequest {
  method: string;
  /** Path and query on the provider API, as the function asked for it (params merged in). */
  endpoint: string;
  /** sha256 hex of the request body; null without one. */
  body_sha256: string | null;
}

/** One provider answer. The body is `data` (JSON), `text` or `base64`, whichever keeps it exactly. */
export interface SavedResponse {
  status: number;
  headers: Record<string, string>;
  data?: unknown;
  text?: string;
  base64?: string;
}

/** One file: a request and its answers in the order they came (a polled endpoint answers several). */
export interface SavedExchange {
  request: SavedRequest;
  responses: SavedResponse[];
}

/** What a function read of its connection, so a replay answers getConnection/getMetadata the same. */
export interface SavedConnection {
  metadata: Record<string, unknown> | null;
  connection?: Record<string, unknown>;
}

/** `DIR/connection.json`: beside the exchanges, never mistaken for one (no `request`). */
export const CONNECTION_FILE = 'connection.json';

export function bodySha256(body: Uint8Array | undefined | null): string | null {
  return body === undefined || body === null || body.byteLength === 0 ? null : createHash('sha256').update(body).digest('hex');
}

/** The same request gives the same key whatever the order of its query parameters. */
export function requestKey(request: SavedRequest): string {
  const [path = '', query] = splitOnce(request.endpoint, '?');
  const params = query === undefined ? [] : [...new URLSearchParams(query)].sort(([a, x], [b, y]) => compare(a, b) || compare(x, y));
  const search = new URLSearchParams(params).toString();
  return `${request.method.toUpperCase()} ${path}${search === '' ? '' : `?${search}`} ${request.body_sha256 ?? '-'}`;
}

/** `get-repos-acme-app-issues-1.3f2a9c01.json`: readable, unique per request key. */
export function exchangeFileName(request: SavedRequest): string {
  const path = splitOnce(request.endpoint, '?')[0] ?? '';
  const slug = `${request.method}-${path}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80);
  const hash = createHash('sha256').update(requestKey(request)).digest('hex').slice(0, 8);
  return `${slug}.${hash}.json`;
}

/** A body as saved: parsed JSON when it is JSON, text when it is UTF-8, base64 otherwise. */
export function toSavedBody(body: Buffer, contentType: string | undefined): Pick<SavedResponse, 'data' | 'text' | 'base64'> {
  const text = body.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(body)) return { base64: body.toString('base64') };
  if (contentType?.includes('json') && text !== '') {
    try {
      // Readable and editable by hand; a replay hands out the same value (whitespace aside).
      return { data: JSON.parse(text) as unknown };
    } catch {
      // Not JSON after all: kept as text.
    }
  }
  return { text };
}

/** The bytes a saved response stands for. */
export function toBodyBytes(response: SavedResponse): Buffer {
  if (response.base64 !== undefined) return Buffer.from(response.base64, 'base64');
  if (response.text !== undefined) return Buffer.from(response.text, 'utf8');
  if (response.data !== undefined) return Buffer.from(JSON.stringify(response.data), 'utf8');
  return Buffer.alloc(0);
}

function splitOnce(text: string, separator: string): [string, string?] {
  const at = text.indexOf(separator);
  return at < 0 ? [text] : [text.slice(0, at), text.slice(at + 1)];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
