// SQL for log operations, stored a batch at a time (log_chunks, migration 007): a chunk's
// operations are lines of COPY text, written once and read back here, where filtered,
// cursor-paged reads pick the chunks that can hold matches and read the lines they need.
import type { Queryable } from './db.js';

export interface LogOperation {
  id: string;
  parentId: string | null;
  type: 'proxy' | 'action' | 'sync' | 'auth' | 'webhook';
  action: string;
  state: 'success' | 'failed';
  level: 'info' | 'warn' | 'error';
  integrationKey: string | null;
  connectionId: string | null;
  method: string | null;
  url: string | null;
  status: number | null;
  error: { code: string; message: string } | null;
  attempts: unknown[];
  /** Proxy calls: `{headers}`; function runs: `{function, attempt, runId}`. */
  request: Record<string, unknown> | null;
  response: { headers: Record<string, string> } | null;
  messages: unknown[];
  startedAt: Date;
  endedAt: Date | null;
  durationMs: number | null;
}

export interface LogFilter {
  integrationKey?: string | undefined;
  connectionId?: string | undefined;
  type?: string | undefined;
  state?: 'success' | 'failed' | undefined;
  status?: number | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  parentId?: string | undefined;
  /** Exclusive: only operations strictly older than this position (newest first). */
  before?: { startedAt: Date; id: string } | undefined;
  limit: number;
}

/** A batch of operations, as the writer stores it. */
export interface LogChunk {
  /** Chosen by the writer: a chunk sent again after a failure without an answer is stored once. */
  id: string;
  rows: number;
  /** Lines of `toCopyLine`, as bytes. */
  data: readonly Buffer[];
  /** Milliseconds: the range of its operations' startedAt, and of the creation times in their ids. */
  firstStarted: number;
  lastStarted: number;
  firstCreated: number;
  lastCreated: number;
  integrations: readonly string[];
  /** `connectionKey(integrationKey, connectionId)` of each connection it holds. */
  connections: readonly string[];
  parents: readonly string[];
  /** `chunkFacets` of its operations' types, states and statuses. */
  facets: readonly string[];
}

/** A search that reads a bounded part of the log (GET /logs): see LogStore.search. */
export interface LogSearchResult {
  /** Newest first, at most `limit`; every match newer than `resumeAt` is among them. */
  operations: LogOperation[];
  /**
   * Set when the search stopped at its read budget before `limit` matches: nothing newer than
   * this position is left unread, and passing it as `before` continues where it stopped.
   */
  resumeAt: { startedAt: Date; id: string } | null;
}

/** The id that sorts after every other: `before: {startedAt, id: MAX_ID}` includes all of startedAt. */
export const MAX_ID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

export interface LogStore {
  insertChunk(chunk: LogChunk): Promise<void>;
  /** Every match up to `limit`, however much of the log that takes to read. */
  list(filter: LogFilter): Promise<LogOperation[]>;
  /**
   * Like list, but stops once about `scanRows` operations were read (chunks spanning the
   * `before` position are not counted), so a filter that matches little answers early instead of
   * reading the whole log; what it found and how far it got come back (a log explorer's
   * "searched back to <time>, continue?").
   */
  search(filter: LogFilter, options: { scanRows: number }): Promise<LogSearchResult>;
  get(id: string): Promise<LogOperation | undefined>;
  /** The operations of one stored chunk (the live log stream reads each chunk it is told of). */
  readChunk(id: string): Promise<LogOperation[]>;
  deleteOlderThan(cutoff: Date, limit: number): Promise<number>;
}

// ---------------------------------------------------------------- COPY lines
//
// An operation is stored as a line of PostgreSQL's COPY text format (columns in the order
// toCopyLine writes them): tab-separated, \N for NULL, escapes for the characters that would
// break the line. Each is written the moment the operation ends, and the writer keeps it as
// bytes until its chunk is stored, instead of an object graph.

const NULL_FIELD = '\\N';
// COPY text format: backslash, newline, carriage return and tab are escaped; NUL cannot be
// stored in a text column at all, so it is dropped rather than poisoning the batch.
const SPECIAL = /[\\\n\r\t\0]/;
const SPECIALS = /[\\\n\r\t\0]/g;
const ESCAPED: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '' };

function textField(value: string | null): string {
  if (value === null) return NULL_FIELD;
  return SPECIAL.test(value) ? value.replace(SPECIALS, (char) => ESCAPED[char] as string) : value;
}

const withoutNul = (_key: string, value: unknown) => (typeof value === 'string' ? value.replaceAll('\0', '') : value);

function jsonField(value: unknown): string {
  if (value === null || value === undefined) return NULL_FIELD;
  if (Array.isArray(value) && value.length === 0) return '[]';
  let json = JSON.stringify(value);
  // \u0000 escapes too: jsonb refuses them, and a json value holding one cannot become text.
  if (json.includes('\\u0000')) json = JSON.stringify(value, withoutNul);
  return textField(json);
}

// Date#toISOString formats through V8's printf path, twice per row; rows of one minute share
// their first 17 characters, so only seconds and milliseconds are written per row.
const MINUTE_MS = 60_000;
const LAST_FOUR_DIGIT_YEAR_MS = Date.UTC(9999, 11, 31, 23, 59);
let minuteStart = Number.NaN;
let minutePrefix = '';

/** `date.toISOString()`, cheaper for the dates a log row holds. */
export function isoTime(date: Date): string {
  const ms = date.getTime();
  let offset = ms - minuteStart;
  if (!(offset >= 0 && offset < MINUTE_MS)) {
    // Outside 0000–9999, or an invalid date (which throws): as the standard library writes it.
    if (!(ms >= 0 && ms < LAST_FOUR_DIGIT_YEAR_MS)) return date.toISOString();
    minuteStart = ms - (ms % MINUTE_MS);
    minutePrefix = new Date(minuteStart).toISOString().slice(0, 17); // YYYY-MM-DDTHH:MM:
    offset = ms - minuteStart;
  }
  const seconds = Math.floor(offset / 1000);
  const millis = offset % 1000;
  return `${minutePrefix}${seconds < 10 ? '0' : ''}${seconds}.${millis < 100 ? (millis < 10 ? '00' : '0') : ''}${millis}Z`;
}

const numberField = (value: number | null) => (value === null ? NULL_FIELD : String(value));

// Most calls are answered at the first try. Their one attempt repeats the row's status and adds
// only its duration, so it is stored as `=<durationMs>` rather than as JSON (a fifth of the
// line, and the costliest field to write); JSON never starts with '='.
const ATTEMPT_KEYS = 5;
function attemptsField(op: LogOperation): string {
  if (op.attempts.length === 1) {
    const only = op.attempts[0] as Record<string, unknown>;
    if (
      only.attempt === 0 &&
      only.status === op.status &&
      only.error === null &&
      only.waitedMs === 0 &&
      Number.isFinite(only.durationMs) &&
      Object.keys(only).length === ATTEMPT_KEYS
    ) {
      return `=${only.durationMs as number}`;
    }
  }
  return jsonField(op.attempts);
}

/** One log row as a line of COPY text, columns in COPY_COLUMNS order. */
export function toCopyLine(op: LogOperation): string {
  return `${op.id}\t${op.parentId ?? NULL_FIELD}\t${op.type}\t${textField(op.action)}\t${op.state}\t${op.level}\t${textField(op.integrationKey)}\t${textField(
    op.connectionId,
  )}\t${textField(op.method)}\t${textField(op.url)}\t${numberField(op.status)}\t${jsonField(op.error)}\t${attemptsField(op)}\t${jsonField(
    op.request,
  )}\t${jsonField(op.response)}\t${jsonField(op.messages)}\t${isoTime(op.startedAt)}\t${op.endedAt === null ? NULL_FIELD : isoTime(op.endedAt)}\t${numberField(
    op.durationMs,
  )}\n`;
}

/**
 * A chunk's `facets`: the distinct types, states and statuses of its operations, so that a
 * search for failed calls or 5xx answers reads only the chunks that hold some.
 */
export function chunkFacets(types: Iterable<string>, states: Iterable<string>, statuses: Iterable<number>): string[] {
  const facets: string[] = [];
  for (const type of types) facets.push(`type:${type}`);
  for (const state of states) facets.push(`state:${state}`);
  for (const status of statuses) facets.push(`status:${status}`);
  return facets;
}

/** How a connection is named in a chunk's `connections`. */
export const connectionKey = (integrationKey: string, connectionId: string) => `${integrationKey}\x1f${connectionId}`;

// The reverse of textField: \N is NULL; \\, \n, \r, \t stand for their characters.
const UNESCAPED: Record<string, string> = { '\\': '\\', n: '\n', r: '\r', t: '\t' };
const ESCAPES = /\\(.)/g;
function readText(field: string): string | null {
  if (field === NULL_FIELD) return null;
  return field.includes('\\') ? field.replace(ESCAPES, (_, char: string) => UNESCAPED[char] ?? char) : field;
}
const readJson = (field: string): unknown => {
  const text = readText(field);
  return text === null ? null : JSON.parse(text);
};
const readNumber = (field: string) => (field === NULL_FIELD ? null : Number(field));
/** The attempts field: `=<durationMs>` (see attemptsField) or JSON. */
function readAttempts(field: string, status: number | null): unknown[] {
  if (field.startsWith('=')) return [{ attempt: 0, status, error: null, durationMs: Number(field.slice(1)), waitedMs: 0 }];
  return (readJson(field) ?? []) as unknown[];
}

/** A line of `toCopyLine`, back as the operation it was written from. */
export function fromCopyLine(line: string): LogOperation {
  const f = line.split('\t');
  const ended = readText(f[17] as string);
  const status = readNumber(f[10] as string);
  return {
    id: f[0] as string,
    parentId: readText(f[1] as string),
    type: f[2] as LogOperation['type'],
    action: readText(f[3] as string) as string,
    state: f[4] as LogOperation['state'],
    level: f[5] as LogOperation['level'],
    integrationKey: readText(f[6] as string),
    connectionId: readText(f[7] as string),
    method: readText(f[8] as string),
    url: readText(f[9] as string),
    status,
    error: readJson(f[11] as string) as LogOperation['error'],
    attempts: readAttempts(f[12] as string, status),
    request: readJson(f[13] as string) as LogOperation['request'],
    response: readJson(f[14] as string) as LogOperation['response'],
    messages: (readJson(f[15] as string) ?? []) as unknown[],
    startedAt: new Date(f[16] as string),
    endedAt: ended === null ? null : new Date(ended),
    durationMs: readNumber(f[18] as string),
  };
}

type Position = Pick<LogOperation, 'startedAt' | 'id'>;

/** Newest first: by startedAt, then id. */
const newerFirst = (a: Position, b: Position) =>
  b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** Whether an operation passes a filter (GET /logs, and each live stream's). Pure. */
export function matchesLogFilter(op: LogOperation, filter: Omit<LogFilter, 'limit'>): boolean {
  if (filter.integrationKey !== undefined && op.integrationKey !== filter.integrationKey) return false;
  if (filter.connectionId !== undefined && op.connectionId !== filter.connectionId) return false;
  if (filter.type !== undefined && op.type !== filter.type) return false;
  if (filter.state !== undefined && op.state !== filter.state) return false;
  if (filter.status !== undefined && op.status !== filter.status) return false;
  if (filter.parentId !== undefined && op.parentId !== filter.parentId) return false;
  const started = op.startedAt.getTime();
  if (filter.from !== undefined && started < filter.from.getTime()) return false;
  if (filter.to !== undefined && started >= filter.to.getTime()) return false;
  if (filter.before !== undefined && newerFirst(op, filter.before) <= 0) return false;
  return true;
}

/**
 * The filter's equality conditions, checked against a COPY line's raw fields before the line is
 * parsed (its JSON fields are most of the cost): a search matching little skips almost every line.
 * True means "maybe": matchesLogFilter decides on the parsed operation.
 */
function lineMayMatch(line: string, filter: Omit<LogFilter, 'limit'>): boolean {
  const f = line.split('\t', 11);
  if (filter.type !== undefined && f[2] !== filter.type) return false;
  if (filter.state !== undefined && f[4] !== filter.state) return false;
  if (filter.status !== undefined && f[10] !== String(filter.status)) return false;
  if (filter.parentId !== undefined && f[1] !== filter.parentId) return false;
  if (filter.integrationKey !== undefined && readText(f[6] as string) !== filter.integrationKey) return false;
  if (filter.connectionId !== undefined && readText(f[7] as string) !== filter.connectionId) return false;
  return true;
}

// The last creation time read, by the id's first 13 characters (its millisecond).
let lastTimePart = '\u0000'; // no id starts with it
let lastTimeMs = 0;

/** The creation time a UUIDv7 carries (its first 48 bits, in ms); undefined for other ids. */
export function createdAt(id: string): number | undefined {
  if (id.length !== 36 || id[14] !== '7') return undefined;
  // Ids of one millisecond share their first 13 characters, and a busy writer sees runs of them.
  if (id.startsWith(lastTimePart)) return lastTimeMs;
  const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  if (Number.isNaN(ms)) return undefined;
  lastTimePart = id.slice(0, 13);
  lastTimeMs = ms;
  return ms;
}

interface ChunkRow {
  id: string;
  last_started: Date;
  row_count: number;
  data: string;
}

/** Chunks are read this many at a time, newest first, until a page is complete. */
const CHUNKS_PER_READ = 8;
/** The most operations the log writer puts in one chunk (its maxBatch). */
const MAX_CHUNK_ROWS = 1000;

function* linesOf(data: string): Generator<string> {
  let start = 0;
  for (;;) {
    const end = data.indexOf('\n', start);
    if (end < 0) return;
    yield data.slice(start, end);
    start = end + 1;
  }
}

export function createLogStore(db: Queryable): LogStore {
  async function scan(filter: LogFilter, scanRows: number): Promise<LogSearchResult> {
    // Which chunks can hold a match: the filters a chunk records, and its range of start times.
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.integrationKey !== undefined) add('integrations @> ARRAY[?]::text[]', filter.integrationKey);
    if (filter.connectionId !== undefined) {
      if (filter.integrationKey !== undefined) add('connections @> ARRAY[?]::text[]', connectionKey(filter.integrationKey, filter.connectionId));
      else {
        // Every integration key ever logged, as constants: an array computed inside the query
        // leaves the planner guessing, and it then reads every chunk in start order.
        const { rows } = await db.query<{ key: string }>('SELECT key FROM log_integrations');
        const connectionId = filter.connectionId;
        add('connections && ?::text[]', rows.map((row) => connectionKey(row.key, connectionId)));
      }
    }
    if (filter.parentId !== undefined) add('parents @> ARRAY[?]::uuid[]', filter.parentId);
    const facets = chunkFacets(
      filter.type === undefined ? [] : [filter.type],
      filter.state === undefined ? [] : [filter.state],
      filter.status === undefined ? [] : [filter.status],
    );
    if (facets.length > 0) add('facets @> ?::text[]', facets);
    if (filter.from !== undefined) add('last_started >= ?', filter.from);
    if (filter.to !== undefined) add('first_started < ?', filter.to);
    if (filter.before !== undefined) add('first_started <= ?', filter.before.startedAt);

    // Chunks come newest last start first. Once `limit` matches are held, a chunk whose latest
    // start is older than the last of them cannot change the page, nor can any after it.
    // The read budget counts the chunks at or below `before`: those above it were read by the
    // answer that stopped there (they span its position), and are read again for what they hold
    // below it. A search stops only between chunks of different latest starts, so the position
    // it gives moves back with every answer.
    const ceiling = filter.before?.startedAt.getTime() ?? Number.POSITIVE_INFINITY;
    const found: LogOperation[] = [];
    let counted = 0;
    let previousLast = Number.POSITIVE_INFINITY;
    let after: { lastStarted: Date; id: string } | undefined;
    for (;;) {
      const page = [...where];
      const pageParams = [...params];
      if (after !== undefined) {
        pageParams.push(after.lastStarted, after.id);
        page.push(`(last_started, id) < ($${pageParams.length - 1}, $${pageParams.length})`);
      }
      // Near the budget, no more chunks than it leaves room for (a chunk holds up to a thousand
      // operations), and one more, whose latest start says where the search stopped.
      const left = scanRows - counted;
      const count = left >= CHUNKS_PER_READ * MAX_CHUNK_ROWS ? CHUNKS_PER_READ : Math.min(CHUNKS_PER_READ, Math.max(1, Math.ceil(left / MAX_CHUNK_ROWS)) + 1);
      const { rows } = await db.query<ChunkRow>(
        `SELECT id, last_started, row_count, data FROM log_chunks ${page.length > 0 ? `WHERE ${page.join(' AND ')}` : ''}
         ORDER BY last_started DESC, id DESC LIMIT ${count}`,
        pageParams,
      );
      for (const row of rows) {
        const lastStarted = row.last_started.getTime();
        const floor = found.length >= filter.limit ? (found[filter.limit - 1] as LogOperation).startedAt.getTime() : undefined;
        if (floor !== undefined && lastStarted < floor) return { operations: found.slice(0, filter.limit), resumeAt: null };
        if (counted >= scanRows && lastStarted < previousLast) {
          // Every operation newer than this chunk's latest start has been read.
          return { operations: found.filter((op) => op.startedAt.getTime() > lastStarted), resumeAt: { startedAt: row.last_started, id: MAX_ID } };
        }
        previousLast = lastStarted;
        if (lastStarted <= ceiling) counted += row.row_count;
        for (const line of linesOf(row.data)) {
          if (!lineMayMatch(line, filter)) continue;
          const op = fromCopyLine(line);
          if (matchesLogFilter(op, filter)) found.push(op);
        }
        found.sort(newerFirst);
        if (found.length > filter.limit) found.length = filter.limit;
      }
      if (rows.length < count) return { operations: found, resumeAt: null };
      const last = rows.at(-1) as ChunkRow;
      after = { lastStarted: last.last_started, id: last.id };
    }
  }

  return {
    async insertChunk(chunk) {
      if (chunk.rows === 0) return;
      await db.query(
        // Keys in order: two processes adding the same new keys cannot lock them crosswise.
        `WITH listed AS (INSERT INTO log_integrations (key) SELECT DISTINCT key FROM unnest($7::text[]) AS key ORDER BY key ON CONFLICT DO NOTHING)
         INSERT INTO log_chunks (id, first_started, last_started, created, row_count, integrations, connections, parents, facets, data)
         VALUES ($1, $2, $3, tstzrange($4, $5, '[]'), $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`,
        [
          chunk.id,
          new Date(chunk.firstStarted),
          new Date(chunk.lastStarted),
          new Date(chunk.firstCreated),
          new Date(chunk.lastCreated),
          chunk.rows,
          chunk.integrations,
          chunk.connections,
          chunk.parents,
          chunk.facets,
          // As bytes (a binary parameter, which PostgreSQL checks as UTF-8 like any text): not
          // decoded to a string here for the driver to encode again.
          Buffer.concat(chunk.data as Buffer[]),
        ],
      );
    },
    list(filter) {
      return scan(filter, Number.POSITIVE_INFINITY).then((result) => result.operations);
    },
    search(filter, { scanRows }) {
      return scan(filter, scanRows);
    },
    async get(id) {
      const created = createdAt(id);
      if (created === undefined) return undefined;
      const { rows } = await db.query<ChunkRow>(
        `SELECT id, last_started, data FROM log_chunks WHERE created @> $1::timestamptz ORDER BY last_started DESC`,
        [new Date(created)],
      );
      // Lines start with their id; an id elsewhere in a line is never followed by a tab.
      const prefix = `${id}\t`;
      for (const { data } of rows) {
        let start = 0;
        if (!data.startsWith(prefix)) {
          start = data.indexOf(`\n${prefix}`) + 1;
          if (start === 0) continue;
        }
        return fromCopyLine(data.slice(start, data.indexOf('\n', start)));
      }
      return undefined;
    },
    async readChunk(id) {
      const { rows } = await db.query<{ data: string }>('SELECT data FROM log_chunks WHERE id = $1', [id]);
      return rows[0] === undefined ? [] : [...linesOf(rows[0].data)].map(fromCopyLine);
    },
    async deleteOlderThan(cutoff, limit) {
      // Whole chunks: one goes once the newest operation in it is past the cutoff.
      const { rowCount } = await db.query(
        'DELETE FROM log_chunks WHERE id IN (SELECT id FROM log_chunks WHERE last_started < $1 LIMIT $2)',
        [cutoff, limit],
      );
      return rowCount ?? 0;
    },
  };
}
