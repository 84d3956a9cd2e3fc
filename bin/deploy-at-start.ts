// `patchbay start` deploys its functions folder before serving. Unchanged since the last start
// (same files, same Patchbay, nobody deployed since: runner/build-cache.ts), that costs a hash of
// the folder and one query; otherwise the folder is built (esbuild, the type check process, one
// isolate reading definitions) and deployed, and building's resources are let go at once. The
// build starts with the process (bin/patchbay.ts begins it before it loads the server's modules),
// beside the database's start (beginDeployAtStart).
// Never strict: a function that does not build keeps its deployed version and the others serve.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type pino from 'pino';
import { deployFunctions } from '../server/functions/deploy.js';
import type { Config } from '../server/config.js';
import type { Store } from '../server/store/index.js';
import { usesDataDir } from './data-dir.js';
import { fingerprintFunctions, isUnchangedSince, readBuildCache, toDeployedState, writeBuildCache, type DeployedState } from '../runner/build-cache.js';
import type { Sandbox } from '../runner/sandbox/index.js';
import type { Deployment, DeployOptions } from '../runner/deploy.js';

/** In the data directory, beside secrets.json. */
export const BUILD_CACHE_FILE = 'functions-build.json';
/** Also there: each function's last bundle, reused while its files are unchanged (runner/bundle-cache.ts). */
export const BUNDLE_CACHE_DIR = 'functions-bundles';
/** And the type check's incremental state: only what an edit affects is checked again (runner/typecheck.ts). */
export const TYPECHECK_CACHE_FILE = 'functions-typecheck.tsbuildinfo';
/** And the definitions read from bundles, by bundle hash (runner/definition-cache.ts). */
export const DEFINITION_CACHE_FILE = 'functions-definitions.json';

/** The build caches of a data directory, if it exists: a start or deploy that has none makes none. */
export function buildCachesIn(dataDir: string): Pick<DeployOptions, 'bundleCacheDir' | 'typecheckCacheFile' | 'definitionCacheFile'> {
  if (!existsSync(dataDir)) return {};
  return {
    bundleCacheDir: path.join(dataDir, BUNDLE_CACHE_DIR),
    typecheckCacheFile: path.join(dataDir, TYPECHECK_CACHE_FILE),
    definitionCacheFile: path.join(dataDir, DEFINITION_CACHE_FILE),
  };
}

export interface StartBuildDeps {
  functionsDir: string;
  dataDir: string;
  /** Whether this start keeps the data directory (bin/data-dir.ts usesDataDir); if not, caches are kept only in one that exists. */
  keepsDataDir: boolean;
  typecheck: boolean;
  logger: pino.Logger;
}

export interface StartDeployDeps {
  store: Store;
  /** Tells every process the deployed set changed. */
  deployed: () => void;
}

export type StartDeployOutcome = 'unchanged' | 'deployed';

export interface StartDeploy {
  /** Once the database is up: deploys what was built, or finds nothing to deploy. */
  finish(deps: StartDeployDeps): Promise<StartDeployOutcome>;
  /** The start failed before `finish`: lets a build under way end and gives its resources back. */
  cancel(): Promise<void>;
}

interface Build {
  deployment: Promise<Deployment>;
  /** performance.now() when the build began (it may begin before the database is up). */
  startedAt: number;
  /** Closes the isolate that read the definitions and stops esbuild and the type check process. */
  release(): Promise<void>;
}

/**
 * Starts before the database does. Without a build cache matching the folder (a first start, a
 * changed file, another Patchbay) the folder is built whatever the database holds, so the build
 * (the type check is most of a cold start's CPU) runs beside initdb, PostgreSQL's start and the
 * migrations rather than after them. With a matching cache, `finish` asks the database whether
 * anyone deployed since, and only then builds.
 */
export function beginDeployAtStart(deps: StartBuildDeps): StartDeploy {
  const { logger } = deps;
  const cacheFile = path.join(deps.dataDir, BUILD_CACHE_FILE);
  const checked = (async () => {
    const fingerprint = await fingerprintFunctions(deps.functionsDir, { typecheck: deps.typecheck });
    const { cached, deployedBundles } = await readBuildCache(cacheFile, fingerprint);
    return { fingerprint, cached, held: deployedBundles };
  })();
  let build: Promise<Build> | undefined;
  const startBuild = (held: ReadonlySet<string>) => (build ??= buildFolder(deps, held));
  // Started here, awaited by `finish` or `cancel`: a failure meanwhile is not unhandled.
  const early = checked.then(({ cached, held }) => (cached === undefined ? startBuild(held) : undefined));
  early.catch(() => undefined);

  return {
    async finish({ store, deployed }) {
      const { fingerprint, cached, held } = await checked;
      const current = async (): Promise<DeployedState> => toDeployedState(await store.functions.list(), await store.functions.failures());
      if (cached !== undefined && isUnchangedSince(cached, await current())) {
        logger.info({ dir: deps.functionsDir, functions: cached.state.functions.length }, 'functions unchanged since the last start: nothing to build');
        await reportFailures(logger, cached.state.failures);
        return 'unchanged';
      }
      const { deployment, startedAt, release } = await startBuild(held);
      try {
        // Loaded by the build already.
        const { withCode } = await import('../runner/deploy.js');
        const { inputs, failures, bundled, typeChecked, outside } = await withCode(await deployment, (hashes) => store.functions.storedBundles(hashes));
        const buildMs = Math.round(performance.now() - startedAt);
        const changes = await deployFunctions({ store, deployed }, inputs, failures);
        logger.info({ dir: deps.functionsDir, ...changes, bundled, typeChecked, buildMs }, `deployed ${inputs.length} functions (built in ${buildMs} ms)`);
        await reportFailures(logger, failures);
        // With DATABASE_URL and keys from the environment there may be no data directory: no cache then.
        if (existsSync(deps.dataDir)) {
          await writeBuildCache(cacheFile, fingerprint, await current(), outside).catch((error: unknown) =>
            logger.warn({ err: error, file: cacheFile }, 'the functions build cache could not be written; the next start builds again'),
          );
        }
      } finally {
        await release();
      }
      return 'deployed';
    },
    // Only the early build can be under way: `finish` was not called.
    async cancel() {
      const started = await early.catch(() => undefined);
      if (started === undefined) return;
      await started.deployment.catch(() => undefined);
      await started.release();
    },
  };
}

/** The deploy at start of `config`'s functions folder, if there is one. */
export function beginStartDeploy(config: Config, logger: pino.Logger): StartDeploy | undefined {
  if (!existsSync(config.functionsDir)) return undefined;
  return beginDeployAtStart({ functionsDir: config.functionsDir, dataDir: config.dataDir, keepsDataDir: usesDataDir(config), typecheck: config.typecheckFunctions, logger });
}

/** `held`: the bundles the last deploy left the database holding (runner/deploy.ts heldBundles). */
async function buildFolder(deps: StartBuildDeps, held: ReadonlySet<string>): Promise<Build> {
  const startedAt = performance.now();
  // Loaded only when there is something to build: a start with nothing to build (and the runner
  // thread, which builds nothing) never loads esbuild.
  const { prepareBuildResources, releaseBuildResources } = await import('../runner/bundle.js');
  // The caches may write before the database's start makes the data directory: made here as
  // bin/data-dir.ts makes it (0755: the embedded PostgreSQL's user must reach its folder inside).
  // A start that keeps none (DATABASE_URL, keys from the environment) makes none for them.
  if (deps.keepsDataDir) await mkdir(deps.dataDir, { recursive: true, mode: 0o755 });
  const caches = buildCachesIn(deps.dataDir);
  // The type check process first: it loads TypeScript while the rest loads here.
  prepareBuildResources({ typecheck: deps.typecheck, typecheckCacheFile: caches.typecheckCacheFile });
  const [{ buildDeployment }, { createSandbox }] = await Promise.all([import('../runner/deploy.js'), import('../runner/sandbox/index.js')]);
  // Made at the first definition not kept: with all of them kept, no isolate at all. A second
  // isolate only when definitions wait (a first start: 282 functions read in 3.2 s with one).
  let inspector: Sandbox | undefined;
  const lazyInspector: Pick<Sandbox, 'inspect'> = { inspect: (bundle) => (inspector ??= createSandbox({ size: 2, minIsolates: 1 })).inspect(bundle) };
  const deployment = buildDeployment(deps.functionsDir, lazyInspector, {
    typecheck: deps.typecheck,
    onWarning: (message) => deps.logger.warn(message),
    ...caches,
    heldBundles: held,
  });
  deployment.catch(() => undefined);
  return {
    deployment,
    startedAt,
    release: async () => {
      await inspector?.close();
      await releaseBuildResources();
    },
  };
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
