// Turns a functions folder into one self-contained, content-hashed script per action or sync,
// in the exact shape runner/sandbox evaluates. Reads and bundles files; never runs them.
// Problems (names, syntax, imports, types) are reported with file:line:column relative to the
// folder and tied to the functions they break: `buildFunctions` gives the functions that build
// and the failures of the others, `bundleFunctions` is all or nothing.
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { folderShape, openBundleCache } from './bundle-cache.js';
import { prepareTypecheckProcess, stopTypecheckProcess, typecheckInProcess } from './typecheck-process.js';
import { stampOf } from './build-cache.js';
import { listedTest } from './typecheck-state.js';

export type FunctionKind = 'action' | 'sync';

export interface FunctionSource {
  integration: string;
  kind: FunctionKind;
  name: string;
  /** Absolute path of the entry file. */
  file: string;
  /** Path from the functions folder, with `/` separators: `github/actions/create-issue.ts`. */
  relativePath: string;
}

export interface BuiltFunction extends FunctionSource {
  /** An IIFE assigning `BUNDLE_GLOBAL`, ending with `BUNDLE_SUFFIX`. */
  code: string;
  /** sha256 hex of `code`: equal sources give equal hashes on any machine. */
  hash: string;
  /** UTF-8 size of `code`. */
  bytes: number;
  /**
   * Source map (v3 JSON) of `code`, kept beside it, never in it: the code and its hash do not
   * change with it. `sources` are relative to the functions folder, without their contents.
   */
  sourceMap?: string;
}

export interface BuildProblem {
  /** Relative to the functions folder, `/` separators (`../` when the file lies outside it). */
  file: string;
  /** 1-based; 0 when the problem concerns the whole file. */
  line: number;
  /** 1-based; 0 when the problem concerns the whole file. */
  column: number;
  message: string;
}

/** A function of the folder that does not build, with every problem that stops it. */
export interface FunctionFailure {
  integration: string;
  kind: FunctionKind;
  name: string;
  relativePath: string;
  /** Sorted; a problem in a helper appears in the failure of every function importing it. */
  problems: BuildProblem[];
}

export interface BuildOutcome {
  /** In the order of discovery. */
  built: BuiltFunction[];
  failed: FunctionFailure[];
  /** The functions esbuild bundled this time (relative paths); the others' bundles came from `bundleCacheDir`. */
  bundled: string[];
  /** The functions the type check read this time (relative paths); the others' problems came from the last check. */
  typeChecked: string[];
  /** What the build read from outside the folder, and where it looked in vain (OutsideInputs). */
  outside: OutsideInputs;
  /** Functions that build, taken from the bundle cache with their code left unread (BundleOptions.leaveCode). */
  unread: UnreadFunction[];
}

/**
 * The build's inputs from outside the functions folder, which the folder's own fingerprint
 * (runner/build-cache.ts) does not cover: helpers beside the folder, packages in a node_modules
 * above it, Patchbay's SDK and packages, TypeScript's library. A start whose folder is unchanged
 * builds again all the same when one of these changed, or one of the `missing` paths appeared.
 */
export interface OutsideInputs {
  /**
   * Absolute path → `size:mtimeMs` when it was read (CHANGED_DURING_BUILD if it was modified while
   * the build ran), of each file read outside the folder's listing (beside it, in node_modules, in
   * its dot folders).
   */
  stamps: Record<string, string>;
  /** Where the type check's import resolution looked and found nothing (runner/typecheck-state.ts `missing`). */
  missing: string[];
  /**
   * The next start builds again whatever it finds: a function esbuild could not bundle (it records
   * no inputs, and its problem may be in a file beside the folder; an import it could not resolve
   * may resolve now), or a type check that did not run (crashed).
   */
  again: boolean;
}

/** A stamp no file has: the next start builds again. */
export const CHANGED_DURING_BUILD = 'changed-during-build';

/**
 * A function that builds, whose bundle the caller said it holds already (BundleOptions.leaveCode):
 * taken from the bundle cache without reading its code, which `read` gives if it is needed after
 * all (bundled again when the cached files are gone or damaged; undefined if that gives another
 * bundle, a file having changed since).
 */
export interface UnreadFunction extends FunctionSource {
  hash: string;
  bytes: number;
  read(): Promise<Pick<BuiltFunction, 'code' | 'sourceMap'> | undefined>;
}

export interface BundleOptions {
  /** Type-check the functions before accepting them. Default true. */
  typecheck?: boolean;
  /** Receives what is worth telling but does not stop a deploy (esbuild warnings, a skipped type check). */
  onWarning?: (message: string) => void;
  /** Where bundles are kept between builds (runner/bundle-cache.ts); without it every function is bundled. */
  bundleCacheDir?: string;
  /**
   * Bundles (by hash) whose code the caller has no use for (its database holds them, their
   * definitions are kept): a function the bundle cache gives one of is returned in `unread`, its
   * code not read. A start after editing one of 282 functions read 70 MB of unchanged code and maps
   * for nothing: ~0.7 s of its ~3 s build.
   */
  leaveCode?: (hash: string) => boolean | Promise<boolean>;
  /** Where the type check keeps what it learned between checks (runner/typecheck.ts); without it every file is checked. */
  typecheckCacheFile?: string;
}

/**
 * Module names a function may import Patchbay's function SDK by: `patchbay`, the documented
 * one, and the names functions written for Nango use, so they deploy unchanged.
 */
export const SDK_MODULE_NAMES = ['patchbay', 'nango', '@nangohq/runner-sdk'] as const;

/**
 * Node modules functions may import, each resolved to a sandbox-safe shim in sdk/node/ (bundled
 * only into the functions that import it): Nango's runner allows `crypto` and `url`, and Nango's
 * templates also use `Buffer` and `querystring`. Any other Node module fails the build.
 */
export const NODE_SHIM_MODULES: Readonly<Record<string, string>> = {
  buffer: 'buffer',
  'node:buffer': 'buffer',
  crypto: 'crypto',
  'node:crypto': 'crypto',
  url: 'url',
  'node:url': 'url',
  querystring: 'querystring',
  'node:querystring': 'querystring',
};

/** The global the IIFE assigns; the sandbox reads `globalThis[BUNDLE_GLOBAL].default`. */
export const BUNDLE_GLOBAL = '__patchbay_exports';

/**
 * Appended to every bundle so that evaluating the script returns `undefined`: isolated-vm hands
 * a script's last value back to the host, and that reference keeps the script's whole context
 * (its heap, every closure in it) alive until the host lets go of it: the context leaks.
 */
export const BUNDLE_SUFFIX = '\n;void 0;\n';

export class BundleError extends Error {
  readonly problems: BuildProblem[];

  constructor(problems: BuildProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'BundleError';
    this.problems = problems;
  }
}

/** The problems of failed functions as one error; a helper's problem, in several, is told once. */
export function bundleErrorOf(failures: Array<{ problems: BuildProblem[] }>): BundleError {
  const problems = new Map(failures.flatMap((failure) => failure.problems).map((problem) => [formatProblem(problem), problem]));
  return new BundleError(sortProblems([...problems.values()]));
}

/** `github/actions/create-issue.ts:12:5 message`, the form editors and terminals link. */
export function formatProblem(problem: BuildProblem): string {
  return problem.line > 0 ? `${problem.file}:${problem.line}:${problem.column} ${problem.message}` : `${problem.file} ${problem.message}`;
}

const FUNCTION_NAME = /^[a-zA-Z0-9_-]+$/;
// Integration folders are provider config keys, which Nango allows to contain these characters.
const INTEGRATION_NAME = /^[a-zA-Z0-9~:.@ _-]+$/;
const KIND_OF_FOLDER: Record<string, FunctionKind> = { actions: 'action', syncs: 'sync' };

/** The functions of a folder, sorted; throws `BundleError` when a name is unusable. */
export async function discoverFunctions(functionsDir: string): Promise<FunctionSource[]> {
  const { sources, problems } = await scanFunctions(path.resolve(functionsDir));
  if (problems.length > 0) throw new BundleError(problems);
  return sources;
}

/** Bundles (and by default type-checks) every function of a folder; all or nothing. */
export async function bundleFunctions(functionsDir: string, options: BundleOptions = {}): Promise<BuiltFunction[]> {
  const { built, failed } = await buildFunctions(functionsDir, options);
  if (failed.length > 0) throw bundleErrorOf(failed);
  return built;
}

/**
 * Bundles (and by default type-checks) every function of a folder: the functions that build,
 * and for each of the others the problems that stop it. A problem counts against every
 * function whose entry file reaches the file it is in.
 */
export async function buildFunctions(functionsDir: string, options: BundleOptions = {}): Promise<BuildOutcome> {
  const root = path.resolve(functionsDir);
  const since = Date.now() - FS_CLOCK_MARGIN_MS;
  const warn = options.onWarning ?? (() => {});
  const { sources, problems: scanProblems } = await scanFunctions(root);
  const platform = locatePlatform();

  // esbuild works in its own process and the type check in another: both run at once.
  const building = options.bundleCacheDir === undefined ? buildEach(sources, root, platform) : buildCached(sources, root, platform, options.bundleCacheDir, options.leaveCode);
  // Awaited below; this only keeps an early failure from counting as unhandled meanwhile.
  building.catch(() => {});
  let typeProblems: BuildProblem[] = [];
  let reach: Record<string, string[]> = {};
  let typeChecked: string[] = [];
  const outside: OutsideInputs = { stamps: {}, missing: [], again: false };
  if (options.typecheck !== false && sources.length > 0) {
    const sdkTypes = platform.sdkTypes;
    if (sdkTypes === undefined) {
      // dist/ without sdk/functions.d.ts: every `patchbay` import would fail the check.
      warn("type check skipped: Patchbay's sdk/functions type declarations are missing (compile with declaration: true)");
    } else {
      try {
        const locations = { sdkTypes, resolveFromDir: platform.runnerDir, nodeModules: platform.nodeShimTypes };
        const checked = await typecheckInProcess(sources, root, locations, options.typecheckCacheFile);
        typeProblems = checked.problems;
        reach = checked.reach;
        typeChecked = checked.checked;
        Object.assign(outside.stamps, checked.outside.stamps);
        outside.missing = checked.outside.missing;
        for (const message of checked.warnings) warn(message);
      } catch (error) {
        // A crash of the checker is our bug, not the user's: the bundles are still sound.
        warn(`type check skipped: it failed (${error instanceof Error ? error.message : String(error)})`);
        outside.again = true;
      }
    }
  }
  const results = await building;

  const built: BuiltFunction[] = [];
  const unread: UnreadFunction[] = [];
  // Built alone, functions sharing a helper each repeat its warnings.
  for (const message of new Set(results.flatMap((result) => result.warnings))) warn(message);
  const failed: FunctionFailure[] = scanProblems.map((problem) => ({ ...describeFile(problem.file), relativePath: problem.file, problems: [problem] }));
  sources.forEach((source, index) => {
    const result = results[index] as EntryResult;
    const files = new Set(reach[source.relativePath] ?? [source.relativePath]);
    // A syntax error is reported by both compilers in different words: keep esbuild's.
    const flagged = new Set(result.problems.map((problem) => `${problem.file}:${problem.line}`));
    const problems = [
      ...result.problems,
      ...typeProblems.filter((problem) => files.has(problem.file) && !flagged.has(`${problem.file}:${problem.line}`)),
    ];
    if (problems.length > 0) failed.push({ integration: source.integration, kind: source.kind, name: source.name, relativePath: source.relativePath, problems: sortProblems(problems) });
    else if (result.built !== undefined) built.push(result.built);
    else if (result.unread !== undefined) unread.push(result.unread);
  });
  const bundled = sources.filter((_source, index) => results[index]?.built !== undefined && results[index]?.cached !== true).map((source) => source.relativePath);
  // The folder's listed files are the fingerprint's.
  const listed = listedTest(root);
  const until = Date.now() + FS_CLOCK_MARGIN_MS;
  for (const file of new Set(results.flatMap((result) => result.inputs ?? []))) {
    if (listed(file)) continue;
    const stats = statSync(file, { throwIfNoEntry: false });
    if (stats === undefined) continue;
    const now = stampOf(stats);
    // Saved while the build ran (a file dated in the future is not), or since the type check
    // stamped it: esbuild may have bundled another version than the one stamped.
    const changed = (stats.mtimeMs >= since && stats.mtimeMs <= until) || (Object.hasOwn(outside.stamps, file) && outside.stamps[file] !== now);
    outside.stamps[file] = changed ? CHANGED_DURING_BUILD : now;
  }
  // A function esbuild could not bundle records no inputs: the file its problem is in may be one beside the folder.
  if (results.some((result) => result.problems.length > 0)) outside.again = true;
  return { built, failed: failed.sort((a, b) => compareText(a.relativePath, b.relativePath)), bundled, typeChecked, unread, outside };
}

/** Starts what a build with the type check will need (its process, which loads TypeScript meanwhile). */
export function prepareBuildResources(options: { typecheck: boolean; typecheckCacheFile?: string | undefined }): void {
  if (options.typecheck) prepareTypecheckProcess(options.typecheckCacheFile);
}

/**
 * Frees what building needs and serving does not: esbuild's service process (~40 MB, started again
 * by the next build) and the type check process, unless a build is under way.
 */
export async function releaseBuildResources(): Promise<void> {
  if (buildsInFlight > 0) return;
  stopTypecheckProcess();
  await esbuild.stop();
}

/** Bundles one function, without type check. Gives the same code as `bundleFunctions`. */
export async function bundleFunction(source: FunctionSource, functionsDir: string): Promise<BuiltFunction> {
  const [result] = await buildEach([source], path.resolve(functionsDir), locatePlatform());
  if (result === undefined || result.built === undefined) throw new BundleError(sortProblems(result?.problems ?? []));
  return result.built;
}

/** Integration, kind and name as far as a path tells them, for a file discovery refused. */
function describeFile(relativePath: string): { integration: string; kind: FunctionKind; name: string } {
  const [integration = '', folder = '', fileName = ''] = relativePath.split('/');
  return { integration, kind: KIND_OF_FOLDER[folder] ?? 'action', name: fileName.replace(/\.ts$/, '') };
}

// ---- discovery ----

async function scanFunctions(root: string): Promise<{ sources: FunctionSource[]; problems: BuildProblem[] }> {
  const sources: FunctionSource[] = [];
  const problems: BuildProblem[] = [];
  for (const integration of await listNames(root, 'directory')) {
    // A functions folder inside a user's repository often holds its node_modules and dotfiles.
    if (integration === 'node_modules' || integration.startsWith('.')) continue;
    for (const folder of Object.keys(KIND_OF_FOLDER)) {
      const dir = path.join(root, integration, folder);
      for (const fileName of await listNames(dir, 'file')) {
        if (!isFunctionFile(fileName)) continue;
        const name = fileName.slice(0, -'.ts'.length);
        const relativePath = `${integration}/${folder}/${fileName}`;
        if (!INTEGRATION_NAME.test(integration)) {
          problems.push(fileProblem(relativePath, `integration folder "${integration}" must be a provider config key: letters, digits and ~ : . @ _ - or space`));
        } else if (!FUNCTION_NAME.test(name)) {
          problems.push(fileProblem(relativePath, `function name "${name}" may contain only letters, digits, _ and -`));
        } else {
          sources.push({ integration, kind: KIND_OF_FOLDER[folder] as FunctionKind, name, file: path.join(dir, fileName), relativePath });
        }
      }
    }
  }

  // Actions and syncs share one namespace per integration (they are addressed by name alone).
  const byName = new Map<string, FunctionSource>();
  for (const source of sources.sort(compareSources)) {
    const key = `${source.integration}\0${source.name}`;
    const other = byName.get(key);
    if (other === undefined) byName.set(key, source);
    else problems.push(fileProblem(source.relativePath, `"${source.name}" is already the name of ${other.relativePath}; an action and a sync of one integration need different names`));
  }
  return { sources, problems };
}

function isFunctionFile(fileName: string): boolean {
  return fileName.endsWith('.ts') && !fileName.endsWith('.d.ts') && !fileName.endsWith('.test.ts') && !fileName.endsWith('.spec.ts');
}

/** Sorted names of the files or folders in `dir`; none when it does not exist. */
async function listNames(dir: string, kind: 'file' | 'directory'): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  const names: string[] = [];
  for (const entry of entries) {
    const matches = kind === 'file' ? entry.isFile() : entry.isDirectory();
    // A symbolic link counts as what it points to (a linked checkout, a shared folder).
    if (matches || (entry.isSymbolicLink() && (await isKind(path.join(dir, entry.name), kind)))) names.push(entry.name);
  }
  return names.sort();
}

async function isKind(file: string, kind: 'file' | 'directory'): Promise<boolean> {
  const stats = await stat(file).catch(() => undefined);
  return kind === 'file' ? stats?.isFile() === true : stats?.isDirectory() === true;
}

// Code-unit order, not locale order: the same on every machine.
function compareSources(a: FunctionSource, b: FunctionSource): number {
  return compareText(a.integration, b.integration) || compareText(a.kind, b.kind) || compareText(a.name, b.name);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- where Patchbay's own parts are ----

interface Platform {
  runnerDir: string;
  /** What `patchbay` bundles to: sdk/functions.ts from source, sdk/functions.js in dist/. */
  sdkEntry: string | undefined;
  /** What `patchbay` type-checks against: the source, or the compiled declarations. */
  sdkTypes: string | undefined;
  /** NODE_SHIM_MODULES' specifiers → the shim they bundle (sdk/node/*.ts, or .js in dist/). */
  nodeShims: Record<string, string>;
  /** The same specifiers → what they type-check against (the source, or the .d.ts in dist/). */
  nodeShimTypes: Record<string, string>;
  /** sdk/node/buffer-global: injected for a free `Buffer`. */
  bufferGlobal: string | undefined;
  /** Patchbay's node_modules folders, searched after the functions folder's own. */
  nodePaths: string[];
}

function locatePlatform(): Platform {
  // tsx runs runner/bundle.ts next to sdk/functions.ts; the build runs dist/runner/bundle.js
  // next to dist/sdk/functions.js. Checked per call: cheap, and the sdk may appear later.
  const runnerDir = path.dirname(fileURLToPath(import.meta.url));
  const sdk = path.join(runnerDir, '..', 'sdk');
  // dist/ inside a checkout (`npm start` compiles changed sources without declarations): the
  // sources' own types, always current, are checked against.
  const sourceSdk = path.basename(path.dirname(runnerDir)) === 'dist' ? path.join(runnerDir, '..', '..', 'sdk') : sdk;
  const nodePaths: string[] = [];
  for (let dir = path.join(runnerDir, '..'); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'node_modules'))) nodePaths.push(path.join(dir, 'node_modules'));
    if (path.dirname(dir) === dir) break;
  }
  return {
    runnerDir,
    sdkEntry: firstExisting([path.join(sdk, 'functions.ts'), path.join(sdk, 'functions.js')]),
    sdkTypes: firstExisting([path.join(sdk, 'functions.ts'), path.join(sourceSdk, 'functions.ts'), path.join(sdk, 'functions.d.ts')]),
    ...locateNodeShims(path.join(sdk, 'node'), path.join(sourceSdk, 'node')),
    bufferGlobal: firstExisting([path.join(sdk, 'node', 'buffer-global.ts'), path.join(sdk, 'node', 'buffer-global.js')]),
    nodePaths,
  };
}

function locateNodeShims(dir: string, sourceDir: string): Pick<Platform, 'nodeShims' | 'nodeShimTypes'> {
  const nodeShims: Record<string, string> = {};
  const nodeShimTypes: Record<string, string> = {};
  for (const [specifier, shim] of Object.entries(NODE_SHIM_MODULES)) {
    const entry = firstExisting([path.join(dir, `${shim}.ts`), path.join(dir, `${shim}.js`)]);
    const types = firstExisting([path.join(dir, `${shim}.ts`), path.join(sourceDir, `${shim}.ts`), path.join(dir, `${shim}.d.ts`)]);
    if (entry !== undefined) nodeShims[specifier] = entry;
    if (types !== undefined) nodeShimTypes[specifier] = types;
  }
  return { nodeShims, nodeShimTypes };
}

/**
 * Resolves exactly the NODE_SHIM_MODULES names to their shims (an esbuild `alias` would also
 * rewrite `buffer/index.js`, which the Buffer shim itself imports).
 */
const RESOLVING = Symbol('resolving');
// Injected by this name, resolved by the plugin: an injected file esbuild resolves itself is
// imported by every module of the bundle, leaving an init call and its absolute path in each.
const BUFFER_GLOBAL_SPECIFIER = 'patchbay:buffer-global';

function nodeShimPlugin(shims: Record<string, string>, bufferGlobal: string | undefined): esbuild.Plugin {
  const names = Object.keys(shims).map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return {
    name: 'patchbay-node-shims',
    setup(build) {
      if (bufferGlobal !== undefined) {
        // In a namespace of its own, so its name in the bundle is the same on every machine.
        build.onResolve({ filter: /^patchbay:buffer-global$/ }, () => ({ path: 'buffer-global', namespace: 'patchbay', sideEffects: false }));
        build.onLoad({ filter: /^buffer-global$/, namespace: 'patchbay' }, async () => ({
          contents: await readFile(bufferGlobal, 'utf8'),
          loader: bufferGlobal.endsWith('.ts') ? 'ts' : 'js',
          resolveDir: path.dirname(bufferGlobal),
        }));
      }
      if (names.length === 0) return;
      // Free of side effects: a shim nothing uses is left out (sdk/node's package.json says the same,
      // but esbuild reads it only for paths it resolves itself).
      build.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) => ({ path: shims[args.path] as string, sideEffects: false }));
      // The `buffer` package is CommonJS, which esbuild must assume has side effects: injected into
      // every bundle, it would be kept in every bundle (~45 KB). Declared free of them, it stays out
      // of the functions that never use Buffer.
      build.onResolve({ filter: /^buffer\/index\.js$/ }, async (args) => {
        if (args.importer !== shims.buffer || args.pluginData === RESOLVING) return undefined;
        const resolved = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: RESOLVING });
        return resolved.errors.length > 0 ? { errors: resolved.errors } : { path: resolved.path, sideEffects: false };
      });
    },
  };
}

function firstExisting(files: string[]): string | undefined {
  return files.find((file) => existsSync(file));
}

// ---- esbuild ----

interface BuildResult {
  /** In the order of the sources; empty when there are problems. */
  built: BuiltFunction[];
  /** The files each of `built` was made from (absolute paths), in the same order. */
  inputs: string[][];
  problems: BuildProblem[];
  warnings: string[];
}

interface EntryResult {
  /** Undefined when there are problems, or when its code was left unread. */
  built: BuiltFunction | undefined;
  /** Taken from the bundle cache with its code left unread (BundleOptions.leaveCode). */
  unread?: UnreadFunction;
  problems: BuildProblem[];
  warnings: string[];
  /** The files esbuild read for it (absolute paths), when it built or came from the cache. */
  inputs?: string[];
  /** Taken from the bundle cache rather than bundled. */
  cached?: boolean;
}

/**
 * One result per source, in their order. All are built together; when that fails (esbuild gives
 * no output at all then) each is built alone, which tells the broken ones from the others and
 * ties each problem to the functions it breaks. Equal code either way (see `buildEntries`).
 */
async function buildEach(sources: FunctionSource[], root: string, platform: Platform): Promise<EntryResult[]> {
  const together = await buildEntries(sources, root, platform);
  if (together.problems.length === 0) {
    return sources.map((_source, index) => ({ built: together.built[index], inputs: together.inputs[index], problems: [], warnings: index === 0 ? together.warnings : [] }));
  }
  return Promise.all(
    sources.map(async (source) => {
      const alone = await buildEntries([source], root, platform);
      return { built: alone.built[0], inputs: alone.inputs[0], problems: alone.problems, warnings: alone.warnings };
    }),
  );
}

/** A file's modification time may read up to a clock tick early: a file changed this close to a build's start is not cached. */
const FS_CLOCK_MARGIN_MS = 2000;

/**
 * buildEach for the functions the bundle cache has no current bundle of; the others' bundles
 * come from it. A function's esbuild warnings are told when it is bundled, not again.
 */
async function buildCached(sources: FunctionSource[], root: string, platform: Platform, cacheDir: string, leaveCode?: BundleOptions['leaveCode']): Promise<EntryResult[]> {
  const cache = openBundleCache(cacheDir, await bundleCacheKey(root, platform));
  /** buildEach, each bundle then kept in the cache. */
  const bundleAndKeep = async (missing: FunctionSource[]): Promise<EntryResult[]> => {
    const since = Date.now() - FS_CLOCK_MARGIN_MS;
    const fresh = await buildEach(missing, root, platform);
    await Promise.all(
      missing.map((source, index) => {
        const { built, inputs } = fresh[index] as EntryResult;
        if (built === undefined || inputs === undefined) return undefined;
        return cache.put(source.relativePath, inputs, { code: built.code, hash: built.hash, bytes: built.bytes, sourceMap: built.sourceMap }, since);
      }),
    );
    return fresh;
  };
  // A hit whose code cannot be read (gone, damaged) is a miss: bundled again.
  const found = await Promise.all(
    sources.map(async (source): Promise<EntryResult | undefined> => {
      const hit = await cache.get(source.relativePath);
      if (hit === undefined) return undefined;
      const { hash, bytes, inputs, read } = hit;
      if ((await leaveCode?.(hash)) === true) {
        // Needed after all and unreadable: bundled again now, from the inputs the cache found
        // unchanged, which gives the same bundle unless a file changed since.
        const readOrBundle = async () => {
          const bundle = await read();
          if (bundle !== undefined) return bundle;
          const [again] = await bundleAndKeep([source]);
          return again?.built?.hash === hash ? again.built : undefined;
        };
        return { built: undefined, unread: { ...source, hash, bytes, read: readOrBundle }, problems: [], warnings: [], inputs, cached: true };
      }
      const bundle = await read();
      if (bundle === undefined) return undefined;
      const sourceMap = bundle.sourceMap === undefined ? {} : { sourceMap: bundle.sourceMap };
      return { built: { ...source, code: bundle.code, hash, bytes, ...sourceMap }, problems: [], warnings: [], inputs, cached: true };
    }),
  );
  const fresh = await bundleAndKeep(sources.filter((_source, index) => found[index] === undefined));
  await cache.keepOnly(sources.map((source) => source.relativePath));
  let next = 0;
  return found.map((hit) => hit ?? (fresh[next++] as EntryResult));
}

/**
 * What a cached bundle must have been made under: this esbuild, these build settings and
 * Patchbay's files where they are (the SDK, the shims and Patchbay's packages are inputs of their
 * own, checked by content), the injected Buffer shim's content (loaded by a plugin, so not an
 * input esbuild names), and the folder's file names.
 */
async function bundleCacheKey(root: string, platform: Platform): Promise<string> {
  const bufferGlobal = platform.bufferGlobal === undefined ? null : await readFile(platform.bufferGlobal, 'utf8');
  const settings = JSON.stringify({ esbuild: esbuild.version, options: buildOptions({}, root, platform), platform, bufferGlobal, suffix: BUNDLE_SUFFIX });
  return `${createHash('sha256').update(settings).digest('hex')}:${await folderShape(root)}`;
}

/** esbuild builds running now: releaseBuildResources must not stop the service under them. */
let buildsInFlight = 0;

// Where esbuild would put the outputs; nothing is written (`write: false`), the paths only
// tell the outputs apart.
const OUT_DIR = '__patchbay_out__';

/**
 * One esbuild build with every function as an entry point: shared packages (zod) are parsed
 * once instead of once per function (6 examples: 55–95 ms instead of 205–270 ms in parallel
 * builds). Each entry still gets its own self-contained script, and identifiers are renamed per
 * output file, so a function's code does not depend on which others are built with it.
 */
async function buildEntries(sources: FunctionSource[], root: string, platform: Platform): Promise<BuildResult> {
  if (sources.length === 0) return { built: [], inputs: [], problems: [], warnings: [] };
  // Messages without a location cannot be tied to one entry of several.
  const fallbackFile = sources.length === 1 ? (sources[0] as FunctionSource).relativePath : '.';
  const entryPoints = Object.fromEntries(sources.map((source, index) => [String(index), source.file]));
  buildsInFlight++;
  try {
    const result = await esbuild.build(buildOptions(entryPoints, root, platform));
    const outputs = new Map(result.outputFiles.map((file) => [file.path, file.text]));
    const built = sources.map((source, index) => {
      const output = outputs.get(path.join(root, OUT_DIR, `${index}.js`));
      if (output === undefined) throw new Error(`esbuild gave no output for ${source.relativePath}`);
      const code = output + BUNDLE_SUFFIX;
      const map = outputs.get(path.join(root, OUT_DIR, `${index}.js.map`));
      const sourceMap = map === undefined ? {} : { sourceMap: relocateSourceMap(map, root) };
      return { ...source, code, hash: createHash('sha256').update(code).digest('hex'), bytes: Buffer.byteLength(code), ...sourceMap };
    });
    const inputs = sources.map((_source, index) => inputFiles(result.metafile, root, index));
    return { built, inputs, problems: [], warnings: toProblems(result.warnings, fallbackFile).map(formatProblem) };
  } catch (error) {
    if (!isBuildFailure(error)) throw error;
    return { built: [], inputs: [], problems: toProblems(error.errors, fallbackFile), warnings: toProblems(error.warnings, fallbackFile).map(formatProblem) };
  } finally {
    buildsInFlight--;
  }
}

/** The files one output was made from, as absolute paths; inputs a plugin made up (`patchbay:buffer-global`) are left out. */
function inputFiles(metafile: esbuild.Metafile, root: string, index: number): string[] {
  const output = metafile.outputs[`${OUT_DIR}/${index}.js`];
  if (output === undefined) throw new Error(`esbuild's metafile has no output ${index}`);
  return Object.keys(output.inputs)
    .filter((input) => !/^[a-z][\w-]*:/i.test(input))
    .map((input) => path.resolve(root, input));
}

function buildOptions(entryPoints: Record<string, string>, root: string, platform: Platform): esbuild.BuildOptions & { write: false; metafile: true } {
  return {
    entryPoints,
    // Which files each output was made from: the bundle cache checks them.
    metafile: true,
    outdir: OUT_DIR,
    // esbuild names files relative to this folder in its messages.
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: 'iife',
    globalName: BUNDLE_GLOBAL,
    // Neither Node nor a browser: the isolate has the language and a few web globals.
    // `neutral` reads no package.json main fields by default, hence mainFields; the `import`
    // and `default` export conditions apply (zod 4 resolves to its ESM build).
    platform: 'neutral',
    mainFields: ['module', 'main'],
    target: 'es2022',
    ...(platform.sdkEntry !== undefined ? { alias: Object.fromEntries(SDK_MODULE_NAMES.map((name) => [name, platform.sdkEntry as string])) } : {}),
    nodePaths: platform.nodePaths,
    plugins: [nodeShimPlugin(platform.nodeShims, platform.bufferGlobal)],
    // A free `Buffer` becomes the bundled shim's; a function that never names it carries none of it
    // (the shim is tree-shaken away).
    ...(platform.bufferGlobal !== undefined ? { inject: [BUFFER_GLOBAL_SPECIFIER] } : {}),
    // Fixed compiler settings: a build must not change with whatever tsconfig.json lies above
    // the folder (Patchbay's own has verbatimModuleSyntax). Setting this stops the search.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: false } },
    // Packages branch on it and the sandbox has no `process`: replaced by a constant.
    define: { [NODE_ENV_EXPRESSION]: '"production"' },
    // Whitespace minification also drops the `// path/to/file.ts` comments, whose paths depend
    // on where Patchbay is installed and would make hashes machine-specific. Identifiers keep
    // their names so stack traces stay readable. Zod bundle: 193 KB plain, 131 KB this way.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    // `external`: the map is an output of its own and the code gets no sourceMappingURL comment,
    // so bundles and hashes are what they were without maps. Without sources' contents a map is
    // smaller than its code (zod action: 583 KB code, 373 KB map); building one took no
    // measurable extra time (best of 8: 94 ms with, 94 ms without).
    sourcemap: 'external',
    sourcesContent: false,
    logLevel: 'silent',
  };
}

// Written in two parts so the architecture test, which forbids reading the environment outside
// server/config.ts by scanning for this text, does not mistake a substitution for a read.
const NODE_ENV_EXPRESSION = ['process', 'env', 'NODE_ENV'].join('.');

/** esbuild names sources relative to the output folder; runtime errors name them from the functions folder. */
function relocateSourceMap(text: string, root: string): string {
  const map = JSON.parse(text) as { sources?: string[] };
  map.sources = (map.sources ?? []).map((source) => path.relative(root, path.resolve(root, OUT_DIR, source)).split(path.sep).join('/'));
  return JSON.stringify(map);
}

function isBuildFailure(error: unknown): error is esbuild.BuildFailure {
  return error instanceof Error && Array.isArray((error as esbuild.BuildFailure).errors);
}

function toProblems(messages: esbuild.Message[], fallbackFile: string): BuildProblem[] {
  return messages.map((message) => {
    const location = message.location;
    if (location === null) return fileProblem(fallbackFile, explain(message.text));
    return { file: location.file.split(path.sep).join('/'), line: location.line, column: location.column + 1, message: explain(message.text) };
  });
}

const NODE_BUILTINS = new Set(builtinModules);
const SUPPORTED_NODE_MODULES = [...new Set(Object.values(NODE_SHIM_MODULES))].join(', ');

/** Rewrites esbuild's resolution errors into what a function author should do about them. */
function explain(text: string): string {
  const unresolved = /^Could not resolve "(.+)"$/.exec(text);
  if (unresolved === null) return text;
  const specifier = unresolved[1] as string;
  if (specifier.startsWith('node:') || NODE_BUILTINS.has(specifier.split('/')[0] as string)) {
    return `"${specifier}" is a Node module: functions run in a sandbox without Node's modules but ${SUPPORTED_NODE_MODULES}; use nango.get/post/put/patch/delete for HTTP`;
  }
  if ((SDK_MODULE_NAMES as readonly string[]).includes(specifier)) return `Could not resolve "${specifier}": Patchbay's sdk/functions is missing from this installation`;
  if (specifier.startsWith('.') || specifier.startsWith('/')) return `Could not resolve "${specifier}"`;
  const parts = specifier.split('/');
  const packageName = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
  return `Could not resolve "${specifier}": install it in the functions folder (npm install ${packageName})`;
}

// ---- problems ----

function fileProblem(file: string, message: string): BuildProblem {
  return { file, line: 0, column: 0, message };
}

function sortProblems(problems: BuildProblem[]): BuildProblem[] {
  return problems.sort((a, b) => compareText(a.file, b.file) || a.line - b.line || a.column - b.column);
}
