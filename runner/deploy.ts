// Deploy: bundle every function in a folder, evaluate each once in the sandbox to read its
// definition, and hand back the set to store, with the functions that do not build. Strict, a
// single function that fails refuses the whole folder.
import { buildFunctions, bundleErrorOf, type BuildProblem, type FunctionFailure } from './bundle.js';
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
}

export interface Deployment {
  /** The functions that build, sorted by path. */
  inputs: FunctionInput[];
  /** The functions that do not, sorted by path: their deployed version (if any) stays. */
  failures: FunctionFailureInput[];
  /** The functions esbuild bundled (relative paths); the others' bundles came from the bundle cache. */
  bundled: string[];
  /** The functions the type check read (relative paths); the others' problems came from its last check. */
  typeChecked: string[];
}

/**
 * `sandbox` reads the definitions of bundles whose definition is not kept; it is asked only for
 * those, so a lazy one makes no isolate when every definition is kept.
 */
export async function buildDeployment(functionsDir: string, sandbox: Pick<Sandbox, 'inspect'>, options: DeployOptions = {}): Promise<Deployment> {
  const { built, failed, bundled, typeChecked } = await buildFunctions(functionsDir, {
    typecheck: options.typecheck ?? true,
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    ...(options.bundleCacheDir === undefined ? {} : { bundleCacheDir: options.bundleCacheDir }),
    ...(options.typecheckCacheFile === undefined ? {} : { typecheckCacheFile: options.typecheckCacheFile }),
  });
  const definitions = options.definitionCacheFile === undefined ? undefined : await openDefinitionCache(options.definitionCacheFile, await inspectFingerprint());
  const failures: FunctionFailure[] = [...failed];
  const inputs: FunctionInput[] = [];
  await Promise.all(
    built.map(async (fn) => {
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
        code: fn.code,
        sourceMap: fn.sourceMap,
        config: { ...summary, ...(frequencyMs === undefined ? {} : { frequencyMs }) },
      });
    }),
  );
  await definitions?.save();
  failures.sort((a, b) => a.relativePath.localeCompare(b.relativePath));
  if (options.strict === true && failures.length > 0) throw bundleErrorOf(failures);
  return {
    inputs: inputs.sort((a, b) => a.sourcePath.localeCompare(b.sourcePath)),
    failures: failures.map((f) => ({ integrationKey: f.integration, kind: f.kind, name: f.name, sourcePath: f.relativePath, problems: f.problems })),
    bundled,
    typeChecked,
  };
}

async function inspect(sandbox: Pick<Sandbox, 'inspect'>, definitions: DefinitionCache | undefined, bundle: { hash: string; code: string }): Promise<InspectResult> {
  const kept = definitions?.get(bundle.hash);
  if (kept !== undefined) return { ok: true, summary: kept };
  const inspected = await sandbox.inspect({ hash: bundle.hash, code: bundle.code });
  if (inspected.ok) definitions?.set(bundle.hash, inspected.summary);
  return inspected;
}
