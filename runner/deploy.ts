// Deploy: bundle every function in a folder, evaluate each once in the sandbox to read its
// definition, and hand back the set to store. Nothing is stored when one function fails.
import { bundleFunctions, BundleError, type BuildProblem } from './bundle.js';
import { parseFrequency } from '../server/functions/frequency.js';
import type { FunctionInput } from '../server/store/index.js';
import type { Sandbox } from './sandbox/index.js';

export interface DeployOptions {
  typecheck?: boolean;
  /** esbuild warnings and a skipped type check: worth telling, never fatal. */
  onWarning?: (message: string) => void;
}

export async function buildDeployment(functionsDir: string, sandbox: Sandbox, options: DeployOptions = {}): Promise<FunctionInput[]> {
  const built = await bundleFunctions(functionsDir, {
    typecheck: options.typecheck ?? true,
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
  });
  const problems: BuildProblem[] = [];
  const inputs: FunctionInput[] = [];
  await Promise.all(
    built.map(async (fn) => {
      const inspected = await sandbox.inspect({ hash: fn.hash, code: fn.code });
      if (!inspected.ok) {
        problems.push({ file: fn.relativePath, line: 0, column: 0, message: inspected.message });
        return;
      }
      const { summary } = inspected;
      if (summary.type !== fn.kind) {
        problems.push({
          file: fn.relativePath,
          line: 0,
          column: 0,
          message: `is in ${fn.kind}s/ but its default export is ${summary.type === 'action' ? 'createAction' : summary.type === 'sync' ? 'createSync' : summary.type}(…)`,
        });
        return;
      }
      let frequencyMs: number | undefined;
      if (summary.type === 'sync') {
        const frequency = parseFrequency(summary.frequency ?? '');
        if (!frequency.ok) {
          problems.push({ file: fn.relativePath, line: 0, column: 0, message: `frequency: ${frequency.reason}` });
          return;
        }
        frequencyMs = frequency.ms;
      }
      inputs.push({
        integrationKey: fn.integration,
        kind: fn.kind,
        name: fn.name,
        sourcePath: fn.relativePath,
        hash: fn.hash,
        code: fn.code,
        config: { ...summary, ...(frequencyMs === undefined ? {} : { frequencyMs }) },
      });
    }),
  );
  if (problems.length > 0) throw new BundleError(problems);
  return inputs.sort((a, b) => a.sourcePath.localeCompare(b.sourcePath));
}
