// Function definitions kept between deploys, in a file of the data directory: reading a definition
// means evaluating the bundle's top level in an isolate (282 functions: ~2 s of a start after an
// edit to one of them), and it depends only on the bundle and on the sandbox code that reads it.
// Keyed by the bundle's content hash under a fingerprint of that code (runner/sandbox/run.ts
// inspectFingerprint); only definitions read successfully are kept, so a failure (a limit hit on a
// busy machine) is tried again. A file it cannot read is a miss; one it cannot write, only a miss
// next time: the cache never fails a deploy.
import { readFile } from 'node:fs/promises';
import { writeFileWhole } from '../server/files.js';
import type { FunctionSummary } from './sandbox/index.js';

/** Bumped when the file's shape changes: an older file is a miss. */
const CACHE_VERSION = 1;

interface CacheFile {
  version: number;
  key: string;
  /** Bundle hash → the definition read from that bundle. */
  definitions: Record<string, FunctionSummary>;
}

export interface DefinitionCache {
  get(bundleHash: string): FunctionSummary | undefined;
  set(bundleHash: string, summary: FunctionSummary): void;
  /** Writes the definitions this deploy got or set, and only those: removed functions' go. */
  save(): Promise<void>;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `key`: the fingerprint every kept definition must have been read under. */
export async function openDefinitionCache(file: string, key: string): Promise<DefinitionCache> {
  let stored: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<CacheFile>;
    if (parsed.version === CACHE_VERSION && parsed.key === key && isRecord(parsed.definitions)) stored = parsed.definitions;
  } catch {
    // Missing or unreadable: every definition is read again.
  }
  const used = new Map<string, FunctionSummary>();
  return {
    get(bundleHash) {
      const summary = Object.hasOwn(stored, bundleHash) ? stored[bundleHash] : undefined;
      if (!isRecord(summary) || typeof summary.type !== 'string') return undefined;
      used.set(bundleHash, summary as unknown as FunctionSummary);
      return summary as unknown as FunctionSummary;
    },
    set(bundleHash, summary) {
      used.set(bundleHash, summary);
    },
    async save() {
      const content: CacheFile = { version: CACHE_VERSION, key, definitions: Object.fromEntries([...used].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
      try {
        await writeFileWhole(file, JSON.stringify(content));
      } catch {
        // Not kept: the next deploy reads these definitions again.
      }
    },
  };
}
