// `patchbay deploy`: bundle and inspect the functions here, then upload them to a running server.
// With the data directory of `patchbay start` here, its build caches serve (only what changed is
// bundled, checked and inspected again).
// A function that does not build is uploaded as a failure (its deployed version stays) and
// listed with its problems; `--strict` refuses the whole folder instead.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import type { Config } from '../server/config.js';
import { formatProblem } from '../runner/bundle.js';
import { buildDeployment, type Deployment } from '../runner/deploy.js';
import { createSandbox } from '../runner/sandbox/index.js';
import { serverUrlOf } from './data-dir.js';
import { buildCachesIn } from './deploy-at-start.js';

export interface DeployCommandOptions {
  /** All or nothing: a `BundleError` when any function does not build. */
  strict?: boolean;
}

export async function deployToServer(config: Config, out: NodeJS.WritableStream, options: DeployCommandOptions = {}): Promise<void> {
  const serverUrl = await serverUrlOf(config);
  const secretKey = config.secretKey ?? (await storedSecretKey(config.dataDir));
  if (secretKey === undefined) throw new Error(`no secret key: set PATCHBAY_SECRET_KEY (or run from the folder whose ${config.dataDir} holds it)`);
  const sandbox = createSandbox({ size: 2 });
  let deployment: Deployment;
  try {
    // The caches `patchbay start` keeps in the data directory, when this folder has one.
    deployment = await buildDeployment(config.functionsDir, sandbox, {
      typecheck: config.typecheckFunctions,
      strict: options.strict === true,
      ...buildCachesIn(config.dataDir),
    });
  } finally {
    await sandbox.close();
  }
  const { inputs, failures, bundled } = deployment;
  const body = JSON.stringify({
    functions: inputs.map((f) => ({
      integration_key: f.integrationKey,
      kind: f.kind,
      name: f.name,
      source_path: f.sourcePath,
      hash: f.hash,
      code: f.code,
      ...(f.sourceMap === undefined ? {} : { source_map: f.sourceMap }),
      config: f.config,
    })),
    failures: failures.map((f) => ({ integration_key: f.integrationKey, kind: f.kind, name: f.name, source_path: f.sourcePath, problems: f.problems })),
  });
  const response = await request(`${serverUrl}/functions/deploy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/json' },
    body,
  });
  const answer = (await response.body.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.statusCode !== 200) {
    const error = answer.error as { code?: string; message?: string } | undefined;
    throw new Error(`${serverUrl} refused the deploy: ${response.statusCode} ${error?.code ?? ''} ${error?.message ?? ''}`.trim());
  }
  const list = (key: string) => (answer[key] as string[] | undefined) ?? [];
  out.write(`deployed ${inputs.length} functions to ${serverUrl}\n`);
  const fresh = new Set(bundled);
  const reused = inputs.filter((input) => !fresh.has(input.sourcePath)).length;
  if (reused > 0) out.write(`  (${reused} unchanged since the last build: bundles from the data directory's cache)\n`);
  for (const key of ['added', 'updated', 'removed', 'unchanged', 'failed']) {
    for (const name of list(key)) out.write(`  ${key.padEnd(9)} ${name}\n`);
  }
  if (failures.length > 0) {
    out.write(`${failures.length} functions do not build; their deployed version, if any, still serves:\n`);
    for (const problem of failures.flatMap((f) => f.problems)) out.write(`  ${formatProblem(problem)}\n`);
  }
}

/** The key `npm start` generated and kept in the data directory, when there is one. */
export async function storedSecretKey(dataDir: string): Promise<string | undefined> {
  try {
    const secrets = JSON.parse(await readFile(path.join(dataDir, 'secrets.json'), 'utf8')) as { secretKey?: string };
    return secrets.secretKey;
  } catch {
    return undefined;
  }
}
