// Definitions kept between deploys (runner/definition-cache.ts) through buildDeployment: real
// esbuild, a real sandbox whose run count says how many bundles it evaluated, real files.
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { releaseBuildResources } from '../../runner/bundle.js';
import { buildDeployment, type Deployment } from '../../runner/deploy.js';
import { createSandbox, type Sandbox } from '../../runner/sandbox/index.js';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';

const folders: FunctionsFolder[] = [];
const sandboxes: Sandbox[] = [];
let cacheFile: string;

afterAll(async () => {
  await releaseBuildResources();
  await Promise.all(folders.map((folder) => folder.remove()));
});

beforeEach(() => {
  cacheFile = path.join(os.tmpdir(), `patchbay-definitions-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
});

afterEach(async () => {
  await rm(cacheFile, { force: true });
  await Promise.all(sandboxes.splice(0).map((sandbox) => sandbox.close()));
});

const action = (description: string) => `
import { createAction } from 'patchbay';
export default createAction({ description: '${description}', exec: async () => ({ ok: true }) });
`;

const FILES = {
  'demo/actions/a.ts': action('first'),
  'demo/actions/b.ts': action('second'),
  'demo/syncs/items.ts': `
import { createSync } from 'patchbay';
export default createSync({ description: 'items', frequency: 'every hour', models: { Item: {} }, exec: async () => undefined });
`,
};

async function folder(files: Record<string, string> = FILES): Promise<FunctionsFolder> {
  const made = await writeFunctions(files);
  folders.push(made);
  return made;
}

/** A deploy with a sandbox of its own: `runs` is how many bundles it had to evaluate. */
async function deploy(made: FunctionsFolder): Promise<{ deployment: Deployment; runs: number }> {
  const sandbox = createSandbox({ size: 1 });
  sandboxes.push(sandbox);
  const deployment = await buildDeployment(made.dir, sandbox, { typecheck: false, definitionCacheFile: cacheFile });
  return { deployment, runs: sandbox.stats().runs };
}

const configs = (deployment: Deployment) => Object.fromEntries(deployment.inputs.map((input) => [input.sourcePath, input.config]));

describe('kept definitions', () => {
  it('give a second deploy the same definitions without evaluating any bundle', async () => {
    const made = await folder();
    const first = await deploy(made);
    expect(first.runs).toBe(3);
    expect(configs(first.deployment)['demo/syncs/items.ts']).toMatchObject({ type: 'sync', frequency: 'every hour', frequencyMs: 3_600_000, models: ['Item'] });
    const second = await deploy(made);
    expect(second.runs).toBe(0);
    expect(configs(second.deployment)).toEqual(configs(first.deployment));
    expect(second.deployment.failures).toEqual([]);
  });

  it('read an edited function again, and only it', async () => {
    const made = await folder();
    await deploy(made);
    await made.write('demo/actions/b.ts', action('second, edited'));
    const after = await deploy(made);
    expect(after.runs).toBe(1);
    expect(configs(after.deployment)['demo/actions/b.ts']).toMatchObject({ type: 'action', description: 'second, edited' });
    expect(configs(after.deployment)['demo/actions/a.ts']).toMatchObject({ description: 'first' });
  });

  it('keep no failure: a function whose top level throws is evaluated on every deploy, and kept once fixed', async () => {
    const made = await folder({ ...FILES, 'demo/actions/broken.ts': `${action('broken')}\nthrow new Error('not configured');\n` });
    const first = await deploy(made);
    expect(first.deployment.failures.map((failure) => [failure.sourcePath, failure.problems[0]?.message])).toEqual([
      ['demo/actions/broken.ts', expect.stringContaining('not configured')],
    ]);
    const again = await deploy(made);
    expect(again.runs).toBe(1);
    expect(again.deployment.failures).toEqual(first.deployment.failures);
    await made.write('demo/actions/broken.ts', action('fixed'));
    expect((await deploy(made)).runs).toBe(1);
    const fixed = await deploy(made);
    expect(fixed.runs).toBe(0);
    expect(fixed.deployment.failures).toEqual([]);
    expect(configs(fixed.deployment)['demo/actions/broken.ts']).toMatchObject({ description: 'fixed' });
  });

  it('are all read again from a file made under another sandbox, or one that does not parse', async () => {
    const made = await folder();
    const first = await deploy(made);
    const kept = JSON.parse(await readFile(cacheFile, 'utf8')) as { key: string; definitions: Record<string, { description?: string }> };
    // A kept definition that another guest runtime would read differently is never used.
    for (const summary of Object.values(kept.definitions)) summary.description = 'from another sandbox';
    await writeFile(cacheFile, JSON.stringify({ ...kept, key: 'another' }));
    const other = await deploy(made);
    expect(other.runs).toBe(3);
    expect(configs(other.deployment)).toEqual(configs(first.deployment));
    await writeFile(cacheFile, '{"version": 1, "definitions": ');
    expect((await deploy(made)).runs).toBe(3);
    expect((await deploy(made)).runs).toBe(0);
  });

  it('forget removed functions, and never fail a deploy when the file cannot be written', async () => {
    const made = await folder();
    await deploy(made);
    await rm(path.join(made.dir, 'demo/actions/a.ts'));
    expect((await deploy(made)).runs).toBe(0);
    // b.ts's and the sync's are left.
    expect(Object.keys((JSON.parse(await readFile(cacheFile, 'utf8')) as { definitions: object }).definitions)).toHaveLength(2);
    cacheFile = path.join(made.dir, 'no-such-folder', 'definitions.json');
    const unwritable = await deploy(made);
    expect(unwritable.runs).toBe(2);
    expect(unwritable.deployment.inputs.map((input) => input.sourcePath)).toEqual(['demo/actions/b.ts', 'demo/syncs/items.ts']);
  });
});
