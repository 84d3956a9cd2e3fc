// `patchbay deploy`: bundle and inspect the functions here, then upload them to a running server.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import type { Config } from '../server/config.js';
import { buildDeployment } from '../runner/deploy.js';
import { createSandbox } from '../runner/sandbox/index.js';

export async function deployToServer(config: Config, out: NodeJS.WritableStream): Promise<void> {
  const secretKey = config.secretKey ?? (await storedSecretKey(config.dataDir));
  if (secretKey === undefined) throw new Error(`no secret key: set PATCHBAY_SECRET_KEY (or run from the folder whose ${config.dataDir} holds it)`);
  const sandbox = createSandbox({ size: 2 });
  let inputs;
  try {
    inputs = await buildDeployment(config.functionsDir, sandbox, { typecheck: config.typecheckFunctions });
  } finally {
    await sandbox.close();
  }
  const body = JSON.stringify({
    functions: inputs.map((f) => ({
      integration_key: f.integrationKey,
      kind: f.kind,
      name: f.name,
      source_path: f.sourcePath,
      hash: f.hash,
      code: f.code,
      config: f.config,
    })),
  });
  const response = await request(`${config.serverUrl}/functions/deploy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/json' },
    body,
  });
  const answer = (await response.body.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.statusCode !== 200) {
    const error = answer.error as { code?: string; message?: string } | undefined;
    throw new Error(`${config.serverUrl} refused the deploy: ${response.statusCode} ${error?.code ?? ''} ${error?.message ?? ''}`.trim());
  }
  const list = (key: string) => (answer[key] as string[] | undefined) ?? [];
  out.write(`deployed ${inputs.length} functions to ${config.serverUrl}\n`);
  for (const key of ['added', 'updated', 'removed', 'unchanged']) {
    for (const name of list(key)) out.write(`  ${key.padEnd(9)} ${name}\n`);
  }
}

async function storedSecretKey(dataDir: string): Promise<string | undefined> {
  try {
    const secrets = JSON.parse(await readFile(path.join(dataDir, 'secrets.json'), 'utf8')) as { secretKey?: string };
    return secrets.secretKey;
  } catch {
    return undefined;
  }
}
