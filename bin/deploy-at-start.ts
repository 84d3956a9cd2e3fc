// `patchbay start` deploys its functions folder before serving. Unchanged since the last start
// (same files, same Patchbay, nobody deployed since: runner/build-cache.ts), that costs a hash of
// the folder and one query; otherwise the folder is built (esbuild, the type check thread, one
// isolate reading definitions) and deployed, and building's resources are let go at once.
// Never strict: a function that does not build keeps its deployed version and the others serve.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type pino from 'pino';
import { deployFunctions } from '../server/functions/deploy.js';
import type { Store } from '../server/store/index.js';
import { fingerprintFunctions, isUnchangedSince, readBuildCache, toDeployedState, writeBuildCache, type DeployedState } from '../runner/build-cache.js';
import { createSandbox, type Sandbox } from '../runner/sandbox/index.js';

/** In the data directory, beside secrets.json. */
export const BUILD_CACHE_FILE = 'functions-build.json';

export interface StartDeployDeps {
  functionsDir: string;
  dataDir: string;
  typecheck: boolean;
  store: Store;
  /** Tells every process the deployed set changed. */
  deployed: () => void;
  logger: pino.Logger;
  /** This thread's sandbox when the runner runs here; else one isolate is made and closed. */
  sandbox: Sandbox | undefined;
}

export type StartDeployOutcome = 'unchanged' | 'deployed';

export async function deployAtStart(deps: StartDeployDeps): Promise<StartDeployOutcome> {
  const { store, logger } = deps;
  const cacheFile = path.join(deps.dataDir, BUILD_CACHE_FILE);
  const fingerprint = await fingerprintFunctions(deps.functionsDir, { typecheck: deps.typecheck });
  const cached = await readBuildCache(cacheFile, fingerprint);
  const current = async (): Promise<DeployedState> => toDeployedState(await store.functions.list(), await store.functions.failures());
  if (cached !== undefined && isUnchangedSince(cached, await current())) {
    logger.info({ dir: deps.functionsDir, functions: cached.state.functions.length }, 'functions unchanged since the last start: nothing to build');
    await reportFailures(logger, cached.state.failures);
    return 'unchanged';
  }

  // Loaded only when there is something to build: a start with nothing to build (and the runner
  // thread, which builds nothing) never loads esbuild.
  const [{ buildDeployment }, { releaseBuildResources }] = await Promise.all([import('../runner/deploy.js'), import('../runner/bundle.js')]);
  const inspector = deps.sandbox ?? createSandbox({ size: 1 });
  try {
    const { inputs, failures } = await buildDeployment(deps.functionsDir, inspector, {
      typecheck: deps.typecheck,
      onWarning: (message) => logger.warn(message),
    });
    const changes = await deployFunctions({ store, deployed: deps.deployed }, inputs, failures);
    logger.info({ dir: deps.functionsDir, ...changes }, `deployed ${inputs.length} functions`);
    await reportFailures(logger, failures);
    // With DATABASE_URL and keys from the environment there may be no data directory: no cache then.
    if (existsSync(deps.dataDir)) {
      await writeBuildCache(cacheFile, fingerprint, await current()).catch((error: unknown) =>
        logger.warn({ err: error, file: cacheFile }, 'the functions build cache could not be written; the next start builds again'),
      );
    }
  } finally {
    if (inspector !== deps.sandbox) await inspector.close();
    await releaseBuildResources();
  }
  return 'deployed';
}

async function reportFailures(logger: pino.Logger, failures: DeployedState['failures']): Promise<void> {
  if (failures.length === 0) return;
  const { formatProblem } = await import('../runner/bundle.js');
  for (const failure of failures) {
    logger.error(
      { function: failure.sourcePath, problems: failure.problems },
      `${failure.sourcePath} does not build; its deployed version, if any, still serves:\n${failure.problems.map(formatProblem).join('\n')}`,
    );
  }
}
