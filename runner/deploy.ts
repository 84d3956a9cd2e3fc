// Deploy: bundle every function in a folder, evaluate each once in the sandbox to read its
// definition, and hand back the set to store, with the functions that do not build. Strict, a
// single function that fails refuses the whole folder.
import { buildFunctions, bundleErrorOf, type BuildProblem, type BuiltFunction, type FunctionFailure, type OutsideInputs, type UnreadFunction } from './bundle.js';
import { parseFrequency } from '../server/functions/frequency.js';
import type { FunctionFailureInput, FunctionInput } from '../server/store/index.js';
import { openDefinitionCache, type DefinitionCache } from './definition-cache.js';
import { inspectFingerprint, type InspectResult, type Sandbox } from './sandbox/index.js';

export interface DeployOptions {
  typecheck?: boolean;
  /** Throw a `BundleError` when any function fails, instead of deploying the others (CI). */
  strict?: boolean;
  /** esbuild warnings and a skipped type check: worth telling, never fatal. */
  onWarning?: (message: string) => void;
  /** Bundles kept between builds (`patchbay start`: in the data directory); see runner/bundle-cache.ts. */
  bundleCacheDir?: string;
  /** The type check's incremental state between deploys (`patchbay start`: in the data directory). */
  typecheckCacheFile?: string;
  /** Definitions kept by bundle hash (`patchbay start`: in the data directory); see runner/definition-cache.ts. */
  definitionCacheFile?: string;
  /**
   * Bundles (by hash) the database is expected to hold (`patchbay start`: those of its last
   * deploy). A function the bundle cache gives one of, whose definition is kept, is deployed
   * without its code: `withCode` reads it only if the database lacks it after all.
   */
  heldBundles?: ReadonlySet<string>;
}

export interface Deployment {
  /** The functions that build, sorted by path; without their code when it was left unread (`heldBundles`). */
  inputs: FunctionInput[];
  /** Per bundle hash left unread: reads its code from the bundle cache, or bundles it again (undefined if that gives another bundle). */
  unread: Map<string, UnreadFunction['read']>;
  /** The functions that do not, sorted by path: their deployed version (if any) stays. */
  failures: FunctionFailureInput[];
  /** The functions esbuild bundled (relative paths); the others' bundles came from the bundle cache. */
  bundled: string[];
  /** The functions the type check read (relative paths); the others' problems came from its last check. */
  typeChecked: string[];
  /** What the build read from outside the folder (runner/bundle.ts OutsideInputs). */
  outside: OutsideInputs;
}

/**
 * `sandbox` reads the definitions of bundles whose definition is not kept; it is asked only for
 * those, so a lazy one makes no isolate when every definition is kept.
 */
export async function buildDeployment(functionsDir: string, sandbox: Pick<Sandbox, 'inspect'>, options: DeployOptions = {}): Promise<Deployment> {
  const definitionCacheFile = options.definitionCacheFile;
  // Opened while the build starts: the bundle cache asks it which definitions are kept.
  const opening = definitionCacheFile === undefined ? undefined : inspectFingerprint().then((fingerprint) => openDefinitionCache(definitionCacheFile, fingerprint));
  opening?.catch(() => undefined);
  const held = options.heldBundles;
  const { built, failed, bundled, typeChecked, unread, outside } = await buildFunctions(functionsDir, {
    typecheck: options.typecheck ?? true,
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    ...(options.bundleCacheDir === undefined ? {} : { bundleCacheDir: options.bundleCacheDir }),
    ...(options.typecheckCacheFile === undefined ? {} : { typecheckCacheFile: options.typecheckCacheFile }),
    ...(held === undefined || opening === undefined ? {} : { leaveCode: async (hash: string) => held.has(hash) && (await opening).get(hash) !== undefined }),
  });
  const definitions = await opening;
  const failures: FunctionFailure[] = [...failed];
  const inputs: FunctionInput[] = [];
  await Promise.all(
    [...built, ...unread].map(async (fn) => {
      const fail = (message: string) => {
        const problem: BuildProblem = { file: fn.relativePath, line: 0, column: 0, message };
        failures.push({ integration: fn.integration, kind: fn.kind, name: fn.name, relativePath: fn.relativePath, problems: [problem] });
      };
      const inspected = await inspect(sandbox, definitions, fn);
      if (!inspected.ok) return fail(inspected.message);
      const { summary } = inspected;
      if (summary.type !== fn.kind) {
        return fail(`is in ${fn.kind}s/ but its default export is ${summary.type === 'action' ? 'createAction' : summary.type === 'sync' ? 'createSync' : summary.type}(…)`);
      }
      let frequencyMs: number | undefined;
      if (summary.type === 'sync') {
        const frequency = parseFrequency(summary.frequency ?? '');
        if (!frequency.ok) return fail(`frequency: ${frequency.reason}`);
        frequencyMs = frequency.ms;
      }
      inputs.push({
        integrationKey: fn.integration,
        kind: fn.kind,
        name: fn.name,
        sourcePath: fn.relativePath,
        hash: fn.hash,
        ...('code' in fn ? { code: fn.code, sourceMap: fn.sourceMap } : {}),
        config: { ...summary, ...(frequencyMs === undefined ? {} : { frequencyMs }) },
      });
    }),
  );
  await definitions?.save();
  failures.sort((a, b) => a.relativePath.localeCompare(b.relativePath));
  if (options.strict === true && failures.length > 0) throw bundleErrorOf(failures);
  return {
    inputs: inputs.sort((a, b) => a.sourcePath.localeCompare(b.sourcePath)),
    unread: new Map(unread.map((fn) => [fn.hash, fn.read])),
    failures: failures.map(toFailureInput),
    bundled,
    typeChecked,
    outside,
  };
}

const toFailureInput = (f: FunctionFailure): FunctionFailureInput => ({ integrationKey: f.integration, kind: f.kind, name: f.name, sourcePath: f.relativePath, problems: f.problems });

/**
 * The deployment with the code of every bundle `stored` (asked with the hashes left unread) says
 * the database lacks, read now from the bundle cache (or bundled again). A function whose bundle
 * came out different (a file changed during the start) moves to the failures: its deployed
 * version, if any, keeps serving, and the next start builds the folder again.
 */
export async function withCode(deployment: Deployment, stored: (hashes: string[]) => Promise<ReadonlySet<string>>): Promise<Deployment> {
  const codeless = deployment.inputs.filter((input) => input.code === undefined);
  if (codeless.length === 0) return deployment;
  const held = await stored([...new Set(codeless.map((input) => input.hash))]);
  const read = new Map<string, Promise<Pick<BuiltFunction, 'code' | 'sourceMap'> | undefined>>();
  const inputs: FunctionInput[] = [];
  const failures = [...deployment.failures];
  for (const input of deployment.inputs) {
    if (input.code !== undefined || held.has(input.hash)) {
      inputs.push(input);
      continue;
    }
    let reading = read.get(input.hash);
    if (reading === undefined) {
      reading = deployment.unread.get(input.hash)?.() ?? Promise.resolve(undefined);
      read.set(input.hash, reading);
    }
    const bundle = await reading;
    if (bundle !== undefined) {
      inputs.push({ ...input, code: bundle.code, ...(bundle.sourceMap === undefined ? {} : { sourceMap: bundle.sourceMap }) });
      continue;
    }
    const { integrationKey, kind, name, sourcePath } = input;
    const problem: BuildProblem = { file: sourcePath, line: 0, column: 0, message: 'its files changed while Patchbay started; the next start builds it again' };
    failures.push({ integrationKey, kind, name, sourcePath, problems: [problem] });
  }
  failures.sort((a, b) => a.sourcePath.localeCompare(b.sourcePath));
  return { ...deployment, inputs, failures };
}

async function inspect(sandbox: Pick<Sandbox, 'inspect'>, definitions: DefinitionCache | undefined, bundle: { hash: string; code?: string }): Promise<InspectResult> {
  const kept = definitions?.get(bundle.hash);
  if (kept !== undefined) return { ok: true, summary: kept };
  // Left unread only with a kept definition (buildDeployment's leaveCode).
  if (bundle.code === undefined) return { ok: false, message: 'its definition is not kept and its code was not read' };
  const inspected = await sandbox.inspect({ hash: bundle.hash, code: bundle.code });
  if (inspected.ok) definitions?.set(bundle.hash, inspected.summary);
  return inspected;
}
