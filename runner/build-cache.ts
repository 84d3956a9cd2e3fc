// Remembers, in the data directory, which build of a functions folder was last deployed, so that a
// start whose folder and Patchbay are unchanged deploys nothing and builds nothing: no esbuild, no
// type check, no isolate to read definitions. Keyed by content (a fingerprint of the folder's files
// and of Patchbay's own build inputs), and by what the build read from outside the folder (helpers
// beside it, packages above it: size and modification time, and paths its imports found missing).
// Never decides what to deploy; a cache it cannot read is a miss.
import { createHash } from 'node:crypto';
import { existsSync, statSync, type Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import { writeFileWhole } from '../server/files.js';
import type { DeployedFunction, FunctionFailure, FunctionFailureInput } from '../server/store/index.js';
import type { OutsideInputs } from './bundle.js';

/** Bumped when the file's shape changes: an older file is a miss. */
const CACHE_VERSION = 2;

/** What the functions table held after the deploy of a fingerprint. */
export interface DeployedState {
  functions: Array<Pick<DeployedFunction, 'integrationKey' | 'kind' | 'name' | 'bundleHash' | 'sourcePath' | 'config' | 'enabled'>>;
  failures: FunctionFailureInput[];
}

export interface BuildCacheEntry {
  version: number;
  fingerprint: string;
  state: DeployedState;
  outside: OutsideInputs;
}

/** The deployed state as comparable data: sorted, without timestamps. */
export function toDeployedState(functions: DeployedFunction[], failures: FunctionFailure[]): DeployedState {
  const label = (f: { integrationKey: string; kind: string; name: string }) => `${f.integrationKey}\0${f.kind}\0${f.name}`;
  const byLabel = <T extends { integrationKey: string; kind: string; name: string }>(a: T, b: T) => (label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0);
  return {
    functions: functions
      .map(({ integrationKey, kind, name, bundleHash, sourcePath, config, enabled }) => ({ integrationKey, kind, name, bundleHash, sourcePath, config, enabled }))
      .sort(byLabel),
    failures: failures.map(({ integrationKey, kind, name, sourcePath, problems }) => ({ integrationKey, kind, name, sourcePath, problems })).sort(byLabel),
  };
}

/** Whether the database holds what the cached deploy left there (nobody deployed since). */
export function isUnchangedSince(entry: BuildCacheEntry, current: DeployedState): boolean {
  // Through JSON both sides: jsonb and the file keep keys in different orders, values alike.
  return isDeepStrictEqual(JSON.parse(JSON.stringify(entry.state)), JSON.parse(JSON.stringify(current)));
}

export interface BuildCacheRead {
  /** The entry, if it was made under this fingerprint. */
  cached: BuildCacheEntry | undefined;
  /**
   * The bundles (by hash) the last deploy left the database holding, whatever the fingerprint:
   * what a start after an edit need not read the code of (runner/deploy.ts heldBundles).
   */
  deployedBundles: Set<string>;
}

export async function readBuildCache(file: string, fingerprint: string): Promise<BuildCacheRead> {
  let entry: BuildCacheEntry | undefined;
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as BuildCacheEntry | null;
    // A damaged file is no entry.
    if (parsed?.version === CACHE_VERSION && typeof parsed.state === 'object' && parsed.state !== null) entry = parsed;
  } catch {
    entry = undefined;
  }
  const functions: unknown = entry?.state.functions;
  const hashes = Array.isArray(functions) ? functions.map((fn: { bundleHash?: unknown } | null) => fn?.bundleHash) : [];
  return {
    cached: entry?.fingerprint === fingerprint && outsideUnchanged(entry.outside) ? entry : undefined,
    deployedBundles: new Set(hashes.filter((hash): hash is string => typeof hash === 'string')),
  };
}

/** Whether every file the build read from outside the folder is as it was, and nothing appeared where its imports looked. */
function outsideUnchanged(outside: OutsideInputs | undefined): boolean {
  if (typeof outside?.stamps !== 'object' || outside.stamps === null || !Array.isArray(outside.missing) || outside.again !== false) return false;
  return unchangedSince(outside.stamps, outside.missing);
}

/** How a file read outside the folder is remembered: `size:mtimeMs`. */
export const stampOf = (stats: Pick<Stats, 'size' | 'mtimeMs'>): string => `${stats.size}:${stats.mtimeMs}`;

/** A file's stamp (stampOf), undefined if it is gone. */
export function fileStamp(file: string): string | undefined {
  const stats = statSync(file, { throwIfNoEntry: false });
  return stats === undefined ? undefined : stampOf(stats);
}

/**
 * Whether files are as they were stamped and paths found missing are still missing: what the
 * start asks of the last build's outside inputs, and the type check of its last check's.
 */
export function unchangedSince(stamps: Record<string, string>, missing: readonly unknown[]): boolean {
  for (const [file, stamp] of Object.entries(stamps)) if (fileStamp(file) !== stamp) return false;
  return !missing.some((file) => typeof file !== 'string' || existsSync(file));
}

export async function writeBuildCache(file: string, fingerprint: string, state: DeployedState, outside: OutsideInputs): Promise<void> {
  const entry: BuildCacheEntry = { version: CACHE_VERSION, fingerprint, state, outside };
  await writeFileWhole(file, `${JSON.stringify(entry)}\n`);
}

/**
 * sha256 over every file a build of `functionsDir` depends on: the folder's own files (its
 * node_modules through npm's lockfile of the installed tree, not file by file), Patchbay's function
 * SDK and runner (bundle options, type check, guest runtime), the definitions' frequency parser,
 * and Patchbay's lockfile (esbuild, TypeScript and zod versions), plus the type check setting.
 */
export async function fingerprintFunctions(functionsDir: string, options: { typecheck: boolean }): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`patchbay-functions-build ${CACHE_VERSION} typecheck=${options.typecheck}\n`);
  const add = async (label: string, file: string) => {
    const content = await readFile(file).catch(() => undefined);
    if (content === undefined) return;
    hash.update(`${label}\0${content.length}\0`);
    hash.update(content);
  };
  const root = path.resolve(functionsDir);
  for (const file of await listFiles(root, true)) await add(`functions/${path.relative(root, file)}`, file);

  // runner/build-cache.ts from source, dist/runner/build-cache.js compiled: the SDK and the
  // frequency parser are found the same way from here.
  const runnerDir = path.dirname(fileURLToPath(import.meta.url));
  const patchbayDir = path.dirname(runnerDir);
  // dist/ in a checkout type-checks against the checkout's sdk/ sources (runner/bundle.ts).
  const sourceSdk = path.basename(patchbayDir) === 'dist' ? [path.join(patchbayDir, '..', 'sdk')] : [];
  for (const dir of [runnerDir, path.join(patchbayDir, 'sdk'), ...sourceSdk, path.join(patchbayDir, 'server', 'functions')]) {
    for (const file of await listFiles(dir, false)) await add(`patchbay/${path.relative(patchbayDir, file)}`, file);
  }
  for (let dir = patchbayDir; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package-lock.json'))) {
      await add('patchbay/package-lock.json', path.join(dir, 'package-lock.json'));
      break;
    }
    if (path.dirname(dir) === dir) break;
  }
  return hash.digest('hex');
}

/** Every file below `dir`, sorted; dotfiles skipped, node_modules reduced to npm's record of it. */
export async function listFiles(dir: string, withModules: boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const full = path.join(dir, entry.name);
    if (entry.name === 'node_modules') {
      // npm rewrites it on every install: a package added, removed or upgraded changes it.
      if (withModules) files.push(path.join(full, '.package-lock.json'));
      continue;
    }
    if (entry.name.startsWith('.')) continue;
    // A symbolic link counts as what it points to (a linked checkout, a shared folder).
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await stat(full).then((s) => s.isDirectory(), () => false)));
    if (isDir) {
      files.push(...(await listFiles(full, withModules)));
    } else {
      files.push(full);
    }
  }
  return files;
}
