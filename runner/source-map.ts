// Maps stack frames of a function's bundle (`function.js:1:2345`) back to its own sources
// (`github/actions/create-issue.ts:12:5`) with the bundle's source map. Pure, but for the cache of
// deployed bundles' maps (createSourceMaps); a frame the map does not cover is left as it was.
import { originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';
import { Lru } from '../server/lru.js';
import type { RunError } from '../server/store/index.js';
import { FUNCTION_FILENAME } from './sandbox/guest/protocol.js';

// Parsed maps of deployed bundles kept by hash: a function failing in a loop parses its map once.
// A zod action's map is ~370 KB of JSON, a few MB parsed; 16 cover the functions failing at once.
const MAX_CACHED_MAPS = 16;

export interface SourceLocation {
  /** As the map names it: relative to the functions folder (`../` outside it). */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface MappedStack {
  stack: string;
  /** The first frame in the author's own code (not a package, not Patchbay's SDK). */
  location: SourceLocation | undefined;
}

// `at exec (function.js:1:2345)` or `at function.js:1:2345`; V8 columns are 1-based.
const BUNDLE_FRAME = new RegExp(`${FUNCTION_FILENAME.replace('.', '\\.')}:(\\d+):(\\d+)`, 'g');

/** A parsed map, or undefined when the text is not one (a map is a convenience, never a failure). */
export function parseSourceMap(text: string | undefined | null): TraceMap | undefined {
  if (text === undefined || text === null || text === '') return undefined;
  try {
    return new TraceMap(text);
  } catch {
    return undefined;
  }
}

export function mapStack(stack: string, map: TraceMap | undefined): MappedStack {
  if (map === undefined) return { stack, location: undefined };
  let location: SourceLocation | undefined;
  const mapped = stack.replace(BUNDLE_FRAME, (frame, line: string, column: string) => {
    const position = originalPositionFor(map, { line: Number(line), column: Math.max(0, Number(column) - 1) });
    if (position.source === null || position.line === null || position.column === null) return frame;
    const found = { file: position.source, line: position.line, column: position.column + 1 };
    if (location === undefined && isAuthorSource(found.file)) location = found;
    return `${found.file}:${found.line}:${found.column}`;
  });
  return { stack: mapped, location };
}

/** `file:line:column`, the form editors and terminals link. */
export function formatLocation(location: SourceLocation): string {
  return `${location.file}:${location.line}:${location.column}`;
}

// Packages and Patchbay's own SDK sit outside what the author wrote; the frame to show is theirs.
function isAuthorSource(file: string): boolean {
  return !file.includes('node_modules/') && !/(^|\/)sdk\/functions\.[jt]s$/.test(file);
}

export interface MappedRunError {
  /** `payload.stacktrace` mapped and `payload.location` (`file:line:column`) added when found. */
  error: RunError;
  stack: string;
  location: SourceLocation | undefined;
}

/** An `internal_error` run error with its stack mapped to the author's sources (dry runs and deployed runs alike). */
export function mapRunError(error: RunError, stack: string, map: TraceMap | undefined): MappedRunError {
  const mapped = mapStack(stack, map);
  const payload = { ...(error.payload as object), stacktrace: mapped.stack, ...(mapped.location === undefined ? {} : { location: formatLocation(mapped.location) }) };
  return { error: { ...error, payload }, stack: mapped.stack, location: mapped.location };
}

export interface SourceMaps {
  /**
   * A deployed run's `internal_error` with its stack mapped through its bundle's stored map, the
   * mapped stack also written to the run's log. Never fails: without a map, the error as it was.
   */
  mapError(bundleHash: string, error: RunError, stack: string, log: (level: 'error', message: string) => void): Promise<RunError>;
}

export function createSourceMaps(load: (bundleHash: string) => Promise<string | undefined>): SourceMaps {
  // First in, first out: a hit does not reorder (peek).
  const parsed = new Lru<string, TraceMap | undefined>(MAX_CACHED_MAPS);
  const mapOf = async (hash: string) => {
    if (parsed.has(hash)) return parsed.peek(hash);
    const map = parseSourceMap(await load(hash).catch(() => undefined));
    parsed.set(hash, map);
    return map;
  };
  return {
    async mapError(bundleHash, error, stack, log) {
      if (stack === '') return error;
      const mapped = mapRunError(error, stack, await mapOf(bundleHash));
      log('error', mapped.stack);
      return mapped.error;
    },
  };
}
