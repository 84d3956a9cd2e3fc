// What the last type check of a functions folder found, kept beside its incremental build
// information (runner/typecheck.ts), so that the next check reads only the functions an edit
// reaches. TypeScript's incremental builder cannot do that alone: it parses every file of the
// folder to learn which changed (1.2 s of the 3.6 s of CPU one edit cost in a folder of 282
// functions), where checking one function costs its own files plus the ES library's, zod's and
// the SDK's declarations (1.6 s).
//
// A check may read only the functions an edit reaches when nothing but the folder's own source
// files changed, none of them in a way that reaches past the files importing it:
// - the same TypeScript, compiler options, sandbox globals and SDK location (`environment`), and
//   every declaration file the last check read from outside the folder (the ES library, zod, the
//   SDK, a package in the folder's node_modules) the same size with the same modification time;
// - the same files in the folder (a file added or removed can change what an import resolves
//   to), and no package.json or npm record of node_modules changed;
// - no file of the folder declares globals or augments a module (a script without imports or
//   exports, `declare global`, `declare module '…'`, a triple-slash reference): such a file
//   reaches every function, so every check is a whole one while the folder has one.
// Otherwise the whole folder is checked (incrementally) and the state written afresh. Files are
// compared by content (sha256), hashed before the check reads them: a file edited during a check
// differs from its recorded hash next time, and is checked again.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { writeFileWhole } from '../server/files.js';
import { listFiles } from './build-cache.js';
import type { BuildProblem, FunctionSource } from './bundle.js';

/** Bumped when the state's shape or meaning changes: an older state is ignored. */
export const STATE_VERSION = 1;

/** Files whose change can change what imports resolve to anywhere in the folder. */
const PACKAGE_FILES = new Set(['package.json', '.package-lock.json']);

export interface CheckState {
  version: number;
  /** A hash of what the check depends on besides files: TypeScript's version, options, globals, locations. */
  environment: string;
  /** Absolute path of each file the last check read from outside the folder → `size:mtimeMs`. */
  dependencies: Record<string, string>;
  /** The folder's files (relative, `/`-separated, sorted): its shape. */
  listing: string[];
  /** sha256 of each file of the listing, and of each other file of the folder the last check read. */
  files: Record<string, string>;
  /** Per function (its relative path): the files of the folder it reaches, itself included. */
  reach: Record<string, string[]>;
  /** Per file of the folder a function reaches: its problems. */
  problems: Record<string, BuildProblem[]>;
  /** Per function: what its default export has wrong. */
  exportProblems: Record<string, BuildProblem[]>;
  /** The check's warnings (TypeScript misconfigured), repeated when no function needs checking. */
  warnings: string[];
  /** A file of the folder reaches every function (globals, augmentations): every check is a whole one. */
  global: boolean;
}

export type CheckPlan =
  /** The state from the last check, if it could be read: its findings for unchanged functions still serve a whole check. */
  | { kind: 'whole'; state: CheckState | undefined; listing: string[]; files: Record<string, string> }
  | { kind: 'subset'; state: CheckState; affected: FunctionSource[]; listing: string[]; files: Record<string, string> };

/** How the state names a file of the folder: its path from the folder, `/`-separated. */
export const folderPath = (functionsDir: string, file: string): string => path.relative(functionsDir, file).split(path.sep).join('/');

export function environmentOf(parts: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify({ version: STATE_VERSION, parts }))
    .digest('hex');
}

// Synchronous: the checker's process has nothing else to do meanwhile, and a folder's few hundred
// small files read in a loop take a tenth of the time they take awaited one by one.
export function hashFile(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/** `size:mtimeMs` of a file, undefined if it is gone. */
export function fileStamp(file: string): string | undefined {
  const stats = statSync(file, { throwIfNoEntry: false });
  return stats === undefined ? undefined : `${stats.size}:${stats.mtimeMs}`;
}

export async function readCheckState(file: string): Promise<CheckState | undefined> {
  try {
    const state = JSON.parse(await readFile(file, 'utf8')) as CheckState;
    return state.version === STATE_VERSION ? state : undefined;
  } catch {
    return undefined;
  }
}

export async function writeCheckState(file: string, state: CheckState): Promise<void> {
  await writeFileWhole(file, JSON.stringify(state));
}

/**
 * Whether the next check may read only the functions the folder's changes reach, and which. The
 * folder's files are hashed here, before the check reads them; the plan carries the hashes for
 * the state the check then writes.
 */
export async function planCheck(stateFile: string, environment: string, sources: FunctionSource[], functionsDir: string): Promise<CheckPlan> {
  const listing = (await listFiles(functionsDir, true)).map((file) => folderPath(functionsDir, file));
  const files: Record<string, string> = {};
  for (const file of listing) {
    const hash = hashFile(path.join(functionsDir, file));
    if (hash !== undefined) files[file] = hash;
  }
  const state = await readCheckState(stateFile);
  const whole: CheckPlan = { kind: 'whole', state, listing, files };
  // No state, or TypeScript, its options, the globals or the SDK's location moved.
  if (state === undefined || state.environment !== environment) return whole;
  // A file of the folder declares globals or augments a module; or files were added or removed.
  if (state.global || !isDeepStrictEqual(listing, state.listing)) return whole;
  const entries = sources.map((source) => source.relativePath).sort();
  if (!isDeepStrictEqual(entries, Object.keys(state.reach).sort())) return whole;
  // A declaration file read from outside the folder changed (the ES library, zod, the SDK, a package).
  for (const [file, stamp] of Object.entries(state.dependencies)) {
    if (fileStamp(file) !== stamp) return whole;
  }
  // Files the last check read that the listing leaves out (in dot folders).
  for (const file of Object.keys(state.files)) {
    if (Object.hasOwn(files, file)) continue;
    const hash = hashFile(path.join(functionsDir, file));
    if (hash === undefined) return whole;
    files[file] = hash;
  }
  const changed = new Set(Object.keys(files).filter((file) => files[file] !== state.files[file]));
  // What imports resolve to may have changed anywhere.
  for (const file of changed) if (PACKAGE_FILES.has(path.posix.basename(file))) return whole;
  const affected = sources.filter((source) => (state.reach[source.relativePath] ?? []).some((file) => changed.has(file)));
  return { kind: 'subset', state, affected, listing, files };
}
