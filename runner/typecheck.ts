// Type-checks function files with the TypeScript compiler API as the bundler sees them:
// `patchbay` is Patchbay's sdk/functions, bare packages come from the functions folder and then
// from Patchbay's node_modules, and only the sandbox's globals exist. Reports problems in the
// user's own files only. Never fails for want of TypeScript: it warns and checks nothing.
import { createHash } from 'node:crypto';
import { existsSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type TS from 'typescript';
import { SDK_MODULE_NAMES, type BuildProblem, type FunctionSource } from './bundle.js';
import { requireWithCodeCache } from './code-cache.js';
import { fileStamp, stampOf } from './build-cache.js';
import { environmentOf, folderPath, hashFile, listedTest, planCheck, STATE_VERSION, userFileTest, writeCheckState, type CheckPlan, type CheckState } from './typecheck-state.js';

export interface TypecheckLocations {
  /** sdk/functions.ts, or the compiled sdk/functions.d.ts. */
  sdkTypes: string;
  /** Bare packages the functions folder lacks are resolved as if imported from here. */
  resolveFromDir: string;
  /** The Node modules functions may import (`crypto`, `node:url`…) → their shim's types. */
  nodeModules?: Record<string, string>;
}

export interface TypecheckResult {
  problems: BuildProblem[];
  /** Per entry (its `relativePath`): the user files it imports, itself included, transitively. */
  reach: Record<string, string[]>;
  /**
   * The functions (relative paths) whose files this check read: every one when it checked the
   * whole folder, else those the folder's changes reach; the others' problems are the last check's.
   */
  checked: string[];
  warnings: string[];
  /** The files the checks whose findings these are read from outside the folder, and where their imports found nothing. */
  outside: { stamps: Record<string, string>; missing: string[] };
  durationMs: number;
}

// The isolate has the language (lib es2023) plus the few web globals
// runner/sandbox/guest/globals.ts installs, declared here as that file implements them: no DOM,
// no Node (`types: []`). test/integration/bundle.test.ts checks both lists name the same globals.
const SANDBOX_GLOBALS_FILE = '/__patchbay__/sandbox-globals.d.ts';
const SANDBOX_GLOBALS = `import type { FetchHeaders, FetchResponse } from 'patchbay';
declare global {
  interface Console {
    log(...data: unknown[]): void;
    info(...data: unknown[]): void;
    debug(...data: unknown[]): void;
    trace(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
    dir(...data: unknown[]): void;
  }
  var console: Console;
  class URLSearchParams implements Iterable<[string, string]> {
    constructor(init?: string | Record<string, string> | Iterable<readonly [string, string]> | URLSearchParams);
    readonly size: number;
    append(name: string, value: string): void;
    delete(name: string, value?: string): void;
    get(name: string): string | null;
    getAll(name: string): string[];
    has(name: string, value?: string): boolean;
    set(name: string, value: string): void;
    sort(): void;
    forEach(callback: (value: string, name: string, params: URLSearchParams) => void, thisArg?: unknown): void;
    entries(): IterableIterator<[string, string]>;
    keys(): IterableIterator<string>;
    values(): IterableIterator<string>;
    [Symbol.iterator](): IterableIterator<[string, string]>;
    toString(): string;
  }
  class URL {
    constructor(url: string | URL, base?: string | URL);
    static canParse(url: string | URL, base?: string | URL): boolean;
    href: string;
    readonly origin: string;
    protocol: string;
    username: string;
    password: string;
    host: string;
    hostname: string;
    port: string;
    pathname: string;
    search: string;
    hash: string;
    readonly searchParams: URLSearchParams;
    toString(): string;
    toJSON(): string;
  }
  class TextEncoder {
    readonly encoding: string;
    encode(input?: string): Uint8Array;
    encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
  }
  class TextDecoder {
    constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
    readonly encoding: string;
    readonly fatal: boolean;
    readonly ignoreBOM: boolean;
    decode(input?: ArrayBuffer | ArrayBufferView, options?: { stream?: boolean }): string;
  }
  function atob(data: string): string;
  function btoa(data: string): string;
  function structuredClone<T>(value: T): T;
  var crypto: {
    randomUUID(): string;
    getRandomValues<T extends ArrayBufferView>(array: T): T;
  };
  // Their members are sdk/functions.ts's FetchHeaders and FetchResponse (what
  // nango.uncontrolledFetch resolves with); the constructors are the sandbox's own.
  interface Headers extends FetchHeaders {
    forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void;
  }
  var Headers: { prototype: Headers; new (init?: Headers | Record<string, string> | Iterable<readonly [string, string]>): Headers };
  interface Response extends FetchResponse {
    readonly type: 'basic';
    readonly headers: Headers;
    readonly body: null;
    clone(): Response;
  }
  var Response: {
    prototype: Response;
    new (body?: string | ArrayBuffer | ArrayBufferView | URLSearchParams | null, init?: { status?: number; statusText?: string; headers?: Headers | Record<string, string> | Iterable<readonly [string, string]> }): Response;
    json(data: unknown, init?: { status?: number; statusText?: string; headers?: Record<string, string> }): Response;
  };
  // Not installed by the runtime: runner/bundle.ts injects the bundled \`buffer\` package into the
  // functions that use it (sdk/node/buffer.ts).
  var Buffer: typeof import('buffer/index.js').Buffer;
  type Buffer = import('buffer/index.js').Buffer;
  // Loose on purpose, like lib.dom's: \`new Promise((resolve) => setTimeout(resolve, ms))\` must type-check.
  function setTimeout(callback: (...args: any[]) => void, delayMs?: number, ...args: any[]): number;
  function setInterval(callback: (...args: any[]) => void, delayMs?: number, ...args: any[]): number;
  function clearTimeout(id: number | undefined): void;
  function clearInterval(id: number | undefined): void;
}
`;

// A chain of "Type A is not assignable to type B" can run to dozens of lines on zod types.
const MAX_MESSAGE_CHAIN_LINES = 3;

let loading: Promise<typeof TS | undefined> | undefined;

/** Writes TypeScript's code cache, when it was loaded with one that did not serve. */
let saveCodeCache: () => Promise<void> = async () => undefined;

/**
 * TypeScript, loaded once per process (the checker's process loads it as it starts, the first
 * call decides how); with `codeCacheFile`, through a V8 code cache kept there (runner/code-cache.ts),
 * made after the first check.
 *
 * Loaded lazily: a process that deploys nothing never needs it, and an install without it still
 * deploys. With `require`, not `import()`: imported, node's ESM loader first parses
 * typescript.js's 9 MB to learn whether it is a module and then again for its CommonJS export
 * names, which doubled the load (0.4 → 0.9 s of CPU, more on a busy machine; the type check is a
 * cold start's longest step).
 */
export function loadTypeScript(codeCacheFile?: string): Promise<typeof TS | undefined> {
  loading ??= new Promise((resolve) => {
    try {
      const require = createRequire(import.meta.url);
      if (codeCacheFile === undefined) return resolve(require('typescript') as typeof TS);
      const loaded = requireWithCodeCache<typeof TS>(require.resolve('typescript'), codeCacheFile);
      saveCodeCache = loaded.saveCodeCache;
      resolve(loaded.exports);
    } catch {
      resolve(undefined);
    }
  });
  return loading;
}

/**
 * `buildInfoFile`: where the check keeps what it learned of the folder between checks: TypeScript's
 * incremental build information (files unchanged since, whose dependencies' types did not change
 * either, keep their diagnostics instead of being checked again), and beside it what the last check
 * found per function (runner/typecheck-state.ts), with which an edit to a few files reads only the
 * functions it reaches.
 */
export async function typecheckFunctions(sources: FunctionSource[], functionsDir: string, locations: TypecheckLocations, buildInfoFile?: string): Promise<TypecheckResult> {
  const started = performance.now();
  const ts = await loadTypeScript();
  if (ts === undefined) {
    const outside = { stamps: {}, missing: [] };
    return { problems: [], reach: {}, checked: [], warnings: ['type check skipped: the typescript package is not installed'], outside, durationMs: 0 };
  }
  forgetParsedDependenciesLater();
  const { findings, checked, outside } = buildInfoFile === undefined ? checkOnce(ts, sources, functionsDir, locations) : await checkWithState(ts, sources, functionsDir, locations, buildInfoFile);
  // After the check: the cache then holds the checker's functions, compiled on the way.
  await saveCodeCache();
  return {
    problems: [...Object.values(findings.problems).flat(), ...Object.values(findings.exportProblems).flat()],
    reach: findings.reach,
    checked: checked.map((source) => source.relativePath),
    warnings: findings.warnings,
    outside,
    durationMs: performance.now() - started,
  };
}

function checkOnce(ts: typeof TS, sources: FunctionSource[], functionsDir: string, locations: TypecheckLocations) {
  const { findings, dependencies, missing } = examine(ts, sources, functionsDir, locations);
  return { findings, checked: sources, outside: { stamps: dependencies, missing } };
}

/** What a check found. File and function names are relative to the functions folder, `/`-separated. */
interface Findings {
  /** Per file of the folder a function reaches: its problems (none included). */
  problems: Record<string, BuildProblem[]>;
  /** Per function: what its default export has wrong (none included). */
  exportProblems: Record<string, BuildProblem[]>;
  /** Per function: the files of the folder it reaches, itself included. */
  reach: Record<string, string[]>;
  warnings: string[];
}

interface Examined {
  findings: Findings;
  /** A file the check read reaches every function (runner/typecheck-state.ts). */
  global: boolean;
  /** The files the check read outside the folder's listing → their `size:mtimeMs` when it read them. */
  dependencies: Record<string, string>;
  /** Where resolving imports looked and found nothing, outside what the folder's listing shows. */
  missing: string[];
  /** The files of the folder the check read (relative). */
  userFiles: string[];
}

/**
 * Whole when it must be, else only the functions the folder's changes reach, the others' findings
 * taken from the last check (runner/typecheck-state.ts); writes what it found for the next one.
 */
async function checkWithState(ts: typeof TS, sources: FunctionSource[], functionsDir: string, locations: TypecheckLocations, buildInfoFile: string) {
  const stateFile = `${buildInfoFile}.last-check.json`;
  // The checker's own file stands for its code: another Patchbay may check otherwise.
  const checker = fileStamp(fileURLToPath(import.meta.url));
  const environment = environmentOf({ typescript: ts.version, options: compilerOptions(ts), globals: SANDBOX_GLOBALS, locations, functionsDir, checker });
  const plan = await planCheck(stateFile, environment, sources, functionsDir);
  const save = async (findings: Findings, examined: Examined | undefined, previous: CheckState | undefined) => {
    const files = { ...plan.files };
    for (const file of examined?.userFiles ?? []) {
      if (Object.hasOwn(files, file)) continue;
      const hash = hashFile(path.join(functionsDir, file));
      if (hash !== undefined) files[file] = hash;
    }
    const dependencies = { ...previous?.dependencies, ...examined?.dependencies };
    // The last check's still hold: the plan found them missing.
    const missing = [...new Set([...(previous?.missing ?? []), ...(examined?.missing ?? [])])];
    const state: CheckState = { version: STATE_VERSION, environment, dependencies, missing, listing: plan.listing, files, ...findings, global: examined?.global ?? false };
    // Unsaved, the next check is a whole one.
    await writeCheckState(stateFile, state).catch(() => undefined);
    return { stamps: dependencies, missing };
  };

  if (plan.kind === 'subset') {
    const { state, affected } = plan;
    const examined = affected.length === 0 ? undefined : examine(ts, affected, functionsDir, locations);
    if (examined === undefined || !examined.global) {
      const reach = { ...state.reach, ...examined?.findings.reach };
      const problems: Record<string, BuildProblem[]> = {};
      for (const file of new Set(Object.values(reach).flat())) problems[file] = examined?.findings.problems[file] ?? state.problems[file] ?? [];
      const findings: Findings = {
        problems,
        exportProblems: { ...state.exportProblems, ...examined?.findings.exportProblems },
        reach,
        warnings: examined?.findings.warnings ?? state.warnings,
      };
      return { findings, checked: affected, outside: await save(findings, examined, state) };
    }
    // A file the edit reached now declares globals: every function may see it.
  }
  const examined = examine(ts, sources, functionsDir, locations, { buildInfoFile, exportProblems: unchangedExportProblems(plan, environment) });
  const outside = await save(examined.findings, examined, undefined);
  // Where builds before the state file kept the default exports' problems; nothing reads it now.
  try {
    rmSync(`${buildInfoFile}.exports.json`, { force: true });
  } catch {
    // not ours to worry about: nothing reads it
  }
  return { findings: examined.findings, checked: sources, outside };
}

/**
 * The default exports' problems of the functions whose files are as the last check found them.
 * The incremental builder knows which files changed since the last whole check, whose build
 * information it keeps, but a subset check may have checked a function since, in a version of its
 * files that is gone again: its recorded problems are not those of the files the builder has.
 */
function unchangedExportProblems(plan: CheckPlan, environment: string): Record<string, BuildProblem[]> | undefined {
  const state = plan.state;
  // Another checker (or TypeScript, or options) may find otherwise.
  if (state === undefined || state.environment !== environment) return undefined;
  const unchanged = (file: string) => state.files[file] !== undefined && state.files[file] === plan.files[file];
  const kept: Record<string, BuildProblem[]> = {};
  for (const [name, problems] of Object.entries(state.exportProblems)) if (state.reach[name]?.every(unchanged) === true) kept[name] = problems;
  return kept;
}

/**
 * Checks `roots` and every file they import. With `incremental`, through TypeScript's incremental
 * builder: what it knows unchanged keeps its diagnostics, and default exports of entries it did
 * not check again keep `incremental.exportProblems` (asking the checker for a default export's
 * type checks the whole expression: 4.5 of the 8 s of a check of 282 functions).
 */
function examine(
  ts: typeof TS,
  roots: FunctionSource[],
  functionsDir: string,
  locations: TypecheckLocations,
  incremental?: { buildInfoFile: string; exportProblems: Record<string, BuildProblem[]> | undefined },
): Examined {
  const options = compilerOptions(ts);
  if (incremental !== undefined) Object.assign(options, { incremental: true, tsBuildInfoFile: incremental.buildInfoFile });
  const isUserFile = userFileTest(functionsDir);
  const read: ReadByHost = { imports: new Map(), missing: new Set(), stamps: new Map() };
  const host = createHost(ts, options, locations, functionsDir, read);
  const rootNames = [SANDBOX_GLOBALS_FILE, ...roots.map((source) => source.file)];
  const builder = incremental === undefined ? undefined : ts.createIncrementalProgram({ rootNames, options, host });
  const program = builder?.getProgram() ?? ts.createProgram({ rootNames, options, host });
  const relative = (fileName: string) => folderPath(functionsDir, fileName);
  /** The files `from` reaches through imports; through packages (node_modules) too with `intoPackages`. */
  const reached = (from: string[], intoPackages: boolean) => {
    const seen = new Set(from);
    for (const file of seen) {
      for (const imported of read.imports.get(file) ?? []) if (intoPackages || !inPackage(imported)) seen.add(imported);
    }
    return seen;
  };
  // What every program holds whatever the functions import: TypeScript's library, the sandbox's
  // globals, the SDK and what its types import (zod's), the shims of Node's modules. Their global
  // declarations are the environment's, not a function's.
  const everyProgram = reached([SANDBOX_GLOBALS_FILE, locations.sdkTypes, ...Object.values(locations.nodeModules ?? {})], true);

  // Incremental, the whole program's diagnostics are asked for at once: that is what checks the
  // files changed since the last check (and those their changes affect) and takes the others'
  // from the build information; asked file by file, every file would count as changed next time.
  let semantic: Map<string, TS.Diagnostic[]> | undefined;
  // The files checked this time (undefined: all of them).
  let affected: Set<string> | undefined;
  if (builder !== undefined) {
    affected = new Set();
    for (let next = builder.getSemanticDiagnosticsOfNextAffectedFile(); next !== undefined; next = builder.getSemanticDiagnosticsOfNextAffectedFile()) {
      if ('fileName' in next.affected) affected?.add(next.affected.fileName);
      else affected = undefined; // the whole program
    }
    semantic = new Map();
    for (const diagnostic of builder.getSemanticDiagnostics()) {
      const fileName = diagnostic.file?.fileName;
      if (fileName === undefined) continue;
      const known = semantic.get(fileName);
      if (known === undefined) semantic.set(fileName, [diagnostic]);
      else known.push(diagnostic);
    }
  }

  const problems: Record<string, BuildProblem[]> = {};
  const userFiles: string[] = [];
  let global = false;
  for (const sourceFile of program.getSourceFiles()) {
    if (!isUserFile(sourceFile.fileName)) {
      // A package or a file beside the folder that declares globals: in a whole check they reach
      // every function, whichever imports them.
      if (!everyProgram.has(sourceFile.fileName) && !program.isSourceFileDefaultLibrary(sourceFile)) global ||= reachesEveryFile(ts, program, sourceFile);
      continue;
    }
    userFiles.push(relative(sourceFile.fileName));
    global ||= reachesEveryFile(ts, program, sourceFile);
    if (sourceFile.isDeclarationFile) continue;
    const syntactic = program.getSyntacticDiagnostics(sourceFile);
    // Semantic errors in a file that does not parse are noise.
    const diagnostics =
      syntactic.length > 0 ? syntactic : semantic === undefined ? program.getSemanticDiagnostics(sourceFile) : (semantic.get(sourceFile.fileName) ?? []);
    problems[relative(sourceFile.fileName)] = diagnostics
      .filter((diagnostic) => diagnostic.category === ts.DiagnosticCategory.Error)
      .map((diagnostic) => toProblem(ts, diagnostic, functionsDir));
  }

  const previous = incremental?.exportProblems;
  const known = (source: FunctionSource) => previous !== undefined && affected !== undefined && !affected.has(source.file) && Array.isArray(previous[source.relativePath]);
  const exportProblems: Record<string, BuildProblem[]> = {};
  for (const source of roots) exportProblems[source.relativePath] = known(source) ? (previous?.[source.relativePath] as BuildProblem[]) : [];
  for (const problem of checkDefaultExports(ts, program, roots.filter((source) => !known(source)))) exportProblems[problem.file]?.push(problem);

  // Options or global errors mean this module is misconfigured, not the user's code.
  const warnings = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map(
    (diagnostic) => `type check: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`,
  );
  // Through files outside the folder too (../common/x.ts importing a type of the folder's).
  const reach: Record<string, string[]> = {};
  for (const source of roots) reach[source.relativePath] = [...reached([source.file], false)].filter(isUserFile).map(relative);
  if (builder !== undefined) {
    // With noEmit, emitting writes the build information only. Unwritten, the next check is a full one.
    try {
      builder.emit();
    } catch (error) {
      warnings.push(`type check: its build information was not saved (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  const dependencies = Object.fromEntries(read.stamps);
  return { findings: { problems, exportProblems, reach, warnings }, global, dependencies, missing: [...read.missing], userFiles };
}

/**
 * Whether what a file declares reaches past the files importing it: a script (no import or
 * export: its declarations are global), a global or module augmentation, a triple-slash reference.
 */
function reachesEveryFile(ts: typeof TS, program: TS.Program, sourceFile: TS.SourceFile): boolean {
  if (sourceFile.fileName.endsWith('.json')) return false;
  if (!ts.isExternalModule(sourceFile)) {
    // A CommonJS file (module.exports, require) is a module too, known once it is bound: making
    // the checker binds every file, as the check's diagnostics do anyway.
    if (!isJavaScript(sourceFile.fileName)) return true;
    // (isExternalOrCommonJsModule is TypeScript's, not in its public types; without it, global.)
    const isModule = (ts as unknown as { isExternalOrCommonJsModule?: (file: TS.SourceFile) => boolean }).isExternalOrCommonJsModule;
    if (isModule === undefined) return true;
    program.getTypeChecker();
    return !isModule(sourceFile);
  }
  if (sourceFile.referencedFiles.length > 0 || sourceFile.typeReferenceDirectives.length > 0 || sourceFile.libReferenceDirectives.length > 0) return true;
  return sourceFile.statements.some(
    (statement) => ts.isModuleDeclaration(statement) && (ts.isStringLiteral(statement.name) || (statement.flags & ts.NodeFlags.GlobalAugmentation) !== 0),
  );
}

function compilerOptions(ts: typeof TS): TS.CompilerOptions {
  return {
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    // Node 20's V8 has ES2023's library (findLast, toSorted…); syntax is lowered to ES2022.
    lib: ['lib.es2023.d.ts'],
    types: [],
    // esbuild compiles file by file: flag what only a whole-program compiler could emit.
    isolatedModules: true,
    esModuleInterop: true,
    allowJs: true,
    checkJs: false,
    resolveJsonModule: true,
    allowImportingTsExtensions: true,
  };
}

/**
 * A source file with the version an incremental check compares with the last one's: a hash of its
 * text, as TypeScript's own incremental hosts set it (a property its public types do not declare).
 */
function versioned(sourceFile: TS.SourceFile | undefined): TS.SourceFile | undefined {
  const file = sourceFile as (TS.SourceFile & { version?: string }) | undefined;
  if (file !== undefined && file.version === undefined) file.version = createHash('sha256').update(file.text).digest('base64');
  return file;
}

interface CachedSourceFile {
  sourceFile: TS.SourceFile;
  mtimeMs: number;
}

// Declaration files under node_modules (TypeScript's lib, zod) are most of a check's parsing:
// kept across checks in this process, re-read when their mtime changes. The options never
// change, so a parsed file is valid for every program.
const parsedDependencies = new Map<string, CachedSourceFile>();
// …but not for the life of a server that checks once at start: ~150 MB of syntax trees are
// dropped after a minute without checks.
const FORGET_PARSED_AFTER_MS = 60_000;
let forgetTimer: NodeJS.Timeout | undefined;

function forgetParsedDependenciesLater(): void {
  if (forgetTimer !== undefined) clearTimeout(forgetTimer);
  forgetTimer = setTimeout(() => parsedDependencies.clear(), FORGET_PARSED_AFTER_MS);
  forgetTimer.unref();
}

const inPackage = (fileName: string) => fileName.includes('/node_modules/');
const isJavaScript = (fileName: string) => /\.[cm]?jsx?$/.test(fileName);

/** What a check's host saw while TypeScript read the program. */
interface ReadByHost {
  /** Per file, the files its imports resolved to: which functions a problem breaks. */
  imports: Map<string, Set<string>>;
  /**
   * Where resolution looked and found nothing, that the folder's listing does not show: outside
   * the folder, in its dot folders, a package not installed. Made later, any of them may be what
   * an import resolves to: one that did not resolve, or one that resolved farther away (a
   * package installed nearer, a .d.ts made beside a .js).
   */
  missing: Set<string>;
  /** `size:mtimeMs` of each file read outside the folder's listing, and each package.json read there, taken as it was read. */
  stamps: Map<string, string>;
}

function createHost(
  ts: typeof TS,
  options: TS.CompilerOptions,
  locations: TypecheckLocations,
  functionsDir: string,
  read: ReadByHost,
): TS.CompilerHost {
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  const cache = ts.createModuleResolutionCache(host.getCurrentDirectory(), (name) => host.getCanonicalFileName(name), options);
  const fallbackImporter = path.join(locations.resolveFromDir, '__patchbay_resolve__.ts');
  const folderImporter = path.join(functionsDir, '__patchbay_resolve__.ts');
  const sdkDir = path.dirname(locations.sdkTypes);
  const isSdkFile = (fileName: string) => !path.relative(sdkDir, fileName).startsWith('..');

  const directoryExists = host.directoryExists?.bind(host);
  const listed = listedTest(functionsDir);
  const packageRoots = new Map<string, boolean>();
  /** Keeps where a lookup found nothing (ReadByHost.missing). */
  const noteMissing = (fileName: string) => {
    if (listed(fileName)) return;
    const modules = fileName.lastIndexOf('/node_modules/');
    if (modules === -1) {
      read.missing.add(fileName);
      return;
    }
    // In node_modules, what matters is whether the package is there: what is inside one that is
    // changes with its package.json (stamped as read: an install rewrites it).
    const [scope, name] = fileName.slice(modules + '/node_modules/'.length).split('/');
    const root = fileName.slice(0, modules + '/node_modules/'.length) + (scope?.startsWith('@') === true && name !== undefined ? `${scope}/${name}` : scope);
    let present = packageRoots.get(root);
    if (present === undefined) packageRoots.set(root, (present = existsSync(root)));
    if (!present) read.missing.add(root);
  };
  host.fileExists = (fileName) => {
    if (fileName === SANDBOX_GLOBALS_FILE) return true;
    const exists = fileExists(fileName);
    if (!exists) noteMissing(fileName);
    return exists;
  };
  if (directoryExists !== undefined) {
    host.directoryExists = (directoryName) => {
      const exists = directoryExists(directoryName);
      if (!exists) noteMissing(directoryName);
      return exists;
    };
  }
  host.readFile = (fileName) => {
    if (fileName === SANDBOX_GLOBALS_FILE) return SANDBOX_GLOBALS;
    // What a package.json says (exports, imports, types) decides where imports resolve.
    if (path.basename(fileName) === 'package.json' && !listed(fileName)) stamp(fileName);
    return readFile(fileName);
  };
  const stamp = (fileName: string) => {
    const stats = statSync(fileName, { throwIfNoEntry: false });
    if (stats !== undefined) read.stamps.set(fileName, stampOf(stats));
    return stats;
  };
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    if (fileName === SANDBOX_GLOBALS_FILE) return versioned(ts.createSourceFile(fileName, SANDBOX_GLOBALS, languageVersion));
    // The folder's listed files are the listing's and their hashes'; the others are stamped before
    // they are read: a change made while the check runs is seen by the next one.
    if (listed(fileName)) return versioned(getSourceFile(fileName, languageVersion, onError, shouldCreate));
    const stats = stamp(fileName);
    if (!inPackage(fileName)) return versioned(getSourceFile(fileName, languageVersion, onError, shouldCreate));
    const mtimeMs = stats?.mtimeMs;
    const cached = parsedDependencies.get(fileName);
    if (cached !== undefined && cached.mtimeMs === mtimeMs) return cached.sourceFile;
    const sourceFile = versioned(getSourceFile(fileName, languageVersion, onError, shouldCreate));
    if (sourceFile !== undefined && mtimeMs !== undefined) parsedDependencies.set(fileName, { sourceFile, mtimeMs });
    return sourceFile;
  };

  // The same resolution as runner/bundle.ts gives esbuild: `patchbay` (and the names Nango's
  // functions use) aliased, then the importer's node_modules, then Patchbay's. The sdk's own
  // bare imports (zod's types) are resolved from the functions folder first: a folder with its
  // own zod must see one zod, or its schemas would not fit createAction's parameter types.
  const resolve = (specifier: string, containingFile: string): TS.ResolvedModuleWithFailedLookupLocations => {
    if ((SDK_MODULE_NAMES as readonly string[]).includes(specifier)) {
      const resolvedFileName = locations.sdkTypes;
      return { resolvedModule: { resolvedFileName, extension: extensionOf(ts, resolvedFileName), isExternalLibraryImport: false } };
    }
    const shim = locations.nodeModules !== undefined && Object.hasOwn(locations.nodeModules, specifier) ? locations.nodeModules[specifier] : undefined;
    if (shim !== undefined) return { resolvedModule: { resolvedFileName: shim, extension: extensionOf(ts, shim), isExternalLibraryImport: false } };
    const bare = !specifier.startsWith('.') && !path.isAbsolute(specifier);
    if (bare && isSdkFile(containingFile)) {
      const fromFolder = ts.resolveModuleName(specifier, folderImporter, options, host, cache);
      if (fromFolder.resolvedModule !== undefined) return fromFolder;
    }
    const resolved = ts.resolveModuleName(specifier, containingFile, options, host, cache);
    if (resolved.resolvedModule !== undefined || !bare) return resolved;
    return ts.resolveModuleName(specifier, fallbackImporter, options, host, cache);
  };
  host.resolveModuleNameLiterals = (literals, containingFile) =>
    literals.map((literal) => {
      const resolved = resolve(literal.text, containingFile);
      const target = resolved.resolvedModule?.resolvedFileName;
      if (target !== undefined) {
        const edges = read.imports.get(containingFile) ?? new Set<string>();
        edges.add(target);
        read.imports.set(containingFile, edges);
      }
      return resolved;
    });
  return host;
}

function extensionOf(ts: typeof TS, fileName: string): TS.Extension {
  if (fileName.endsWith('.d.ts')) return ts.Extension.Dts;
  return fileName.endsWith('.ts') ? ts.Extension.Ts : ts.Extension.Js;
}

function toProblem(ts: typeof TS, diagnostic: TS.Diagnostic, functionsDir: string): BuildProblem {
  const file = diagnostic.file as TS.SourceFile;
  const { line, character } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
  return {
    file: folderPath(functionsDir, file.fileName),
    line: line + 1,
    column: character + 1,
    message: `${flatten(ts, diagnostic.messageText)} (TS${diagnostic.code})`,
  };
}

// One line per problem: the head of the chain says where, its tail says why.
function flatten(ts: typeof TS, messageText: string | TS.DiagnosticMessageChain): string {
  const lines = ts
    .flattenDiagnosticMessageText(messageText, '\n')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (lines.length <= MAX_MESSAGE_CHAIN_LINES) return lines.join(' ');
  return [lines[0], '…', ...lines.slice(-(MAX_MESSAGE_CHAIN_LINES - 1))].join(' ');
}

/**
 * Each entry file must default-export what its folder promises: a file in actions/ a
 * `createAction(...)`, one in syncs/ a `createSync(...)`. Otherwise the deploy would accept a
 * function that cannot run.
 */
function checkDefaultExports(ts: typeof TS, program: TS.Program, sources: FunctionSource[]): BuildProblem[] {
  const checker = program.getTypeChecker();
  const problems: BuildProblem[] = [];
  for (const source of sources) {
    const sourceFile = program.getSourceFile(source.file);
    if (sourceFile === undefined || program.getSyntacticDiagnostics(sourceFile).length > 0) continue;
    const expected = source.kind === 'action' ? 'createAction' : 'createSync';
    const moduleSymbol = checker.getSymbolAtLocation(sourceFile);
    const defaultExport = moduleSymbol === undefined ? undefined : checker.getExportsOfModule(moduleSymbol).find((symbol) => symbol.escapedName === 'default');
    if (defaultExport === undefined) {
      problems.push({ file: source.relativePath, line: 0, column: 0, message: `no default export: write \`export default ${expected}({...})\`` });
      continue;
    }
    const target = defaultExport.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(defaultExport) : defaultExport;
    const exportType = checker.getTypeOfSymbolAtLocation(target, sourceFile);
    // `any` comes from an import that did not resolve, which is reported already.
    if (exportType.flags & ts.TypeFlags.Any) continue;
    const typeProperty = exportType.getProperty('type');
    const typeOfType = typeProperty === undefined ? undefined : checker.getTypeOfSymbolAtLocation(typeProperty, sourceFile);
    const actual = typeOfType?.isStringLiteral() === true ? typeOfType.value : undefined;
    if (actual !== source.kind) {
      const statement = sourceFile.statements.find(
        (node) => ts.isExportAssignment(node) || (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((modifier) => modifier.kind === ts.SyntaxKind.DefaultKeyword)),
      );
      const at = statement === undefined ? undefined : sourceFile.getLineAndCharacterOfPosition(statement.getStart(sourceFile));
      problems.push({
        file: source.relativePath,
        line: at === undefined ? 0 : at.line + 1,
        column: at === undefined ? 0 : at.character + 1,
        message: `a file in ${source.kind === 'action' ? 'actions' : 'syncs'}/ must default-export ${expected}({...})${actual === undefined ? '' : `, not one of type '${actual}'`}`,
      });
    }
  }
  return problems;
}
