import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintFunctions, isUnchangedSince, readBuildCache, toDeployedState, writeBuildCache } from '../../../runner/build-cache.js';
import type { DeployedFunction } from '../../../server/store/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-build-cache-'));
  await mkdir(path.join(dir, 'github', 'actions'), { recursive: true });
  await mkdir(path.join(dir, 'node_modules', 'some-package'), { recursive: true });
  await writeFile(path.join(dir, 'github', 'actions', 'get-repo.ts'), 'export default 1;\n');
  await writeFile(path.join(dir, 'node_modules', 'some-package', 'index.js'), 'module.exports = 1;\n');
  await writeFile(path.join(dir, 'node_modules', '.package-lock.json'), '{"packages":{}}\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const deployed = (bundleHash: string, config: Record<string, unknown> = { type: 'action' }): DeployedFunction => ({
  integrationKey: 'github',
  kind: 'action',
  name: 'get-repo',
  bundleHash,
  sourcePath: 'github/actions/get-repo.ts',
  config,
  enabled: true,
  deployedAt: new Date(),
});

describe('functions build cache', () => {
  it('gives the same fingerprint for the same files, and another when a file, the type check setting or npm’s record changes', async () => {
    const first = await fingerprintFunctions(dir, { typecheck: true });
    expect(await fingerprintFunctions(dir, { typecheck: true })).toBe(first);
    expect(await fingerprintFunctions(dir, { typecheck: false })).not.toBe(first);

    // A package's own files are not read one by one; npm's record of the tree is.
    await writeFile(path.join(dir, 'node_modules', 'some-package', 'index.js'), 'module.exports = 2;\n');
    expect(await fingerprintFunctions(dir, { typecheck: true })).toBe(first);
    await writeFile(path.join(dir, 'node_modules', '.package-lock.json'), '{"packages":{"x":{}}}\n');
    const installed = await fingerprintFunctions(dir, { typecheck: true });
    expect(installed).not.toBe(first);

    await writeFile(path.join(dir, 'github', 'actions', 'get-repo.ts'), 'export default 2;\n');
    expect(await fingerprintFunctions(dir, { typecheck: true })).not.toBe(installed);
  });

  it('reads back what it wrote for the same fingerprint only', async () => {
    const file = path.join(dir, 'functions-build.json');
    const state = toDeployedState([deployed('a')], []);
    await writeBuildCache(file, 'f1', state, { stamps: {}, missing: [], again: false });
    expect((await readBuildCache(file, 'f1')).cached?.state).toEqual(state);
    expect((await readBuildCache(file, 'f2')).cached).toBeUndefined();
    // What the last deploy left in the database, whatever the fingerprint.
    expect((await readBuildCache(file, 'f2')).deployedBundles).toEqual(new Set(['a']));
    await writeFile(file, '{ not json');
    expect(await readBuildCache(file, 'f1')).toEqual({ cached: undefined, deployedBundles: new Set() });
    expect(await readFile(file, 'utf8')).toBe('{ not json');
    // JSON, but not a whole entry.
    for (const damaged of ['null', '{"version":2}', '{"version":2,"fingerprint":"f1","state":{"functions":[null,{"bundleHash":"b"}]}}']) {
      await writeFile(file, damaged);
      expect((await readBuildCache(file, 'f2')).deployedBundles).toEqual(new Set(damaged.includes('"b"') ? ['b'] : []));
    }
  });

  it('takes its entry for a miss once a file the build read from outside the folder changed, or one appeared where an import looked', async () => {
    const file = path.join(dir, 'functions-build.json');
    const helper = path.join(dir, 'shared', 'helper.ts');
    const looked = path.join(dir, 'shared', 'helper.d.ts');
    await mkdir(path.dirname(helper), { recursive: true });
    await writeFile(helper, 'export const a = 1;\n');
    const stats = await stat(helper);
    await writeBuildCache(file, 'f1', toDeployedState([deployed('a')], []), { stamps: { [helper]: `${stats.size}:${stats.mtimeMs}` }, missing: [looked], again: false });
    expect((await readBuildCache(file, 'f1')).cached).toBeDefined();
    await writeFile(looked, 'export declare const a: number;\n');
    expect((await readBuildCache(file, 'f1')).cached).toBeUndefined();
    await rm(looked);
    expect((await readBuildCache(file, 'f1')).cached).toBeDefined();
    await writeFile(helper, 'export const a = 22;\n');
    expect((await readBuildCache(file, 'f1')).cached).toBeUndefined();
    // A build that asked for the next start to build again.
    await writeBuildCache(file, 'f1', toDeployedState([deployed('a')], []), { stamps: {}, missing: [], again: true });
    expect((await readBuildCache(file, 'f1')).cached).toBeUndefined();
  });

  it('sees a deploy made since (another bundle or config) as a change, key order as none', async () => {
    const entry = { version: 2, fingerprint: 'f', state: toDeployedState([deployed('a', { type: 'action', b: 1, a: 2 })], []), outside: { stamps: {}, missing: [], again: false } };
    expect(isUnchangedSince(entry, toDeployedState([deployed('a', { a: 2, type: 'action', b: 1 })], []))).toBe(true);
    expect(isUnchangedSince(entry, toDeployedState([deployed('b', { type: 'action', b: 1, a: 2 })], []))).toBe(false);
    expect(isUnchangedSince(entry, toDeployedState([], []))).toBe(false);
  });
});
