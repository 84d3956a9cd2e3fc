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
// - no file the last check read declares globals or augments a module (a script without imports
//   or exports, `declare global`, `declare module '…'`, a triple-slash reference), in the folder or
//   out of it (a package, a shared file beside the folder; not TypeScript's library, the SDK and
//   zod, which every check reads): such a file reaches every function, so every check is a whole
//   one while one is read.
// Otherwise the whole folder is checked (incrementally) and the state written afresh. Files are
// compared by content (sha256), hashed before the check reads them: a file edited during a check
// differs from its recorded hash next time, and is checked again. Files outside the folder are
// stamped as they are read. A function reaches the folder's files through files outside it too
// (../common/x.ts importing a type of the folder's). And where resolving imports looked and found
// nothing, outside what the folder's listing shows (`missing`: a file beside the folder, a
// node_modules above it, a package not installed), must still be missing: made, it may be what an
// import that did not resolve now resolves to, or a nearer answer for one that did.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { writeFileWhole } from '../server/files.js';
import { listFiles, unchangedSince } from './build-cache.js';
import type { BuildProblem, FunctionSource } from './bundle.js';

/** Bumped when the state's shape or meaning changes: an older state is ignored. */
export const STATE_VERSION = 2;

/** Files whose change can change what imports resolve to anywhere in the folder. */
const PACKAGE_FILES = new Set(['package.json', '.package-lock.json']);

export interface CheckState {
  version: number;
  /** A hash of what the check depends on besides files: TypeScript's version, options, globals, locations. */
  environment: string;
  /** Absolute path of each file the last check read outside the folder's listing (and each package.json it read there) → `size:mtimeMs`. */
  dependencies: Record<string, string>;
  /** Absolute paths where resolving imports found nothing, outside what the listing shows: made, they may change what an import resolves to. */
  missing: string[];
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
  /** A file the check read reaches every function (globals, augmentations): every check is a whole one. */
  global: boolean;
}

export type CheckPlan =
  /** The state from the last check, if it could be read: its findings for unchanged functions still serve a whole check. */
  | { kind: 'whole'; state: CheckState | undefined; listing: string[]; files: Record<string, string> }
  | { kind: 'subset'; state: CheckState; affected: FunctionSource[]; listing: string[]; files: Record<string, string> };

/** How the state names a file of the folder: its path from the folder, `/`-separated. */
export const folderPath = (functionsDir: string, file: string): string => path.relative(functionsDir, file).split(path.sep).join('/');

/** The parts of a path inside the folder, undefined for one outside it. */
function partsInside(functionsDir: string, fileName: string): string[] | undefined {
  const inside = path.relative(functionsDir, fileName);
  if (inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) return undefined;
  return inside.split(path.sep);
}

/** Whether a file is the user's: in the folder, not in a package of its node_modules. */
export function userFileTest(functionsDir: string): (fileName: string) => boolean {
  return (fileName) => partsInside(functionsDir, fileName)?.includes('node_modules') === false;
}

/** Whether a path is one the folder's listing would show if it existed (runner/build-cache.ts listFiles): nor in node_modules, nor in a dot folder. */
export function listedTest(functionsDir: string): (fileName: string) => boolean {
  return (fileName) => {
    const parts = partsInside(functionsDir, fileName);
    return parts !== undefined && parts[0] !== '' && parts.every((part) => part !== 'node_modules' && !part.startsWith('.'));
  };
}

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

/** A state of this version, whole: a damaged one is no state (the next check is a whole one). */
export async function readCheckState(file: string): Promise<CheckState | undefined> {
  try {
    const state = JSON.parse(await readFile(file, 'utf8')) as CheckState;
    return state.version === STATE_VERSION && isWhole(state) ? state : undefined;
  } catch {
    return undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');
const everyValue = (value: unknown, test: (item: unknown) => boolean) => isRecord(value) && Object.values(value).every(test);

const isProblems = (value: unknown) =>
  Array.isArray(value) &&
  value.every((problem) => isRecord(problem) && typeof problem.file === 'string' && typeof problem.line === 'number' && typeof problem.column === 'number' && typeof problem.message === 'string');

function isWhole(state: CheckState): boolean {
  return (
    typeof state.environment === 'string' &&
    typeof state.global === 'boolean' &&
    isStrings(state.listing) &&
    isStrings(state.missing) &&
    isStrings(state.warnings) &&
    everyValue(state.dependencies, (stamp) => typeof stamp === 'string') &&
    everyValue(state.files, (hash) => typeof hash === 'string') &&
    everyValue(state.reach, isStrings) &&
    everyValue(state.problems, isProblems) &&
    everyValue(state.exportProblems, isProblems)
  );
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
  // A declaration file read from outside the folder changed (the ES library, zod, the SDK, a
  // package); or a file or package appeared that imports may now resolve to (one that did not
  // resolve may now, one that did may go elsewhere).
  if (!unchangedSince(state.dependencies, state.missing)) return whole;
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
