// The per-function bundle cache (runner/bundle-cache.ts) through buildFunctions: real esbuild,
// real files. The files are dated a minute back, as files edited before a start are: a file
// modified during a build (or dated after its start) is never cached.
import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { buildFunctions, releaseBuildResources, type BuildOutcome } from '../../runner/bundle.js';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';

const folders: FunctionsFolder[] = [];
let cacheDir: string;

afterAll(async () => {
  await releaseBuildResources();
  await Promise.all(folders.map((folder) => folder.remove()));
});

beforeEach(() => {
  cacheDir = path.join(os.tmpdir(), `patchbay-bundle-cache-${process.pid}-${Math.random().toString(36).slice(2)}`);
  folders.push({ dir: cacheDir, write: async () => undefined, remove: () => rm(cacheDir, { recursive: true, force: true }) });
});

const action = (body: string, imports = '') => `${imports}
import { createAction } from 'patchbay';
export default createAction({ description: 'test', exec: async () => ${body} });
`;

const FILES = {
  'demo/lib/greeting.ts': `export const greeting = 'hello';\n`,
  'demo/actions/a.ts': action('({ said: greeting + " a" })', `import { greeting } from '../lib/greeting';`),
  'demo/actions/b.ts': action('({ said: greeting + " b" })', `import { greeting } from '../lib/greeting';`),
  'demo/actions/c.ts': action('({ said: "c" })'),
};

const MINUTE_AGO = () => new Date(Date.now() - 60_000);

async function folder(): Promise<FunctionsFolder> {
  const made = await writeFunctions(FILES);
  folders.push(made);
  for (const file of Object.keys(FILES)) await utimes(path.join(made.dir, file), MINUTE_AGO(), MINUTE_AGO());
  return made;
}

/** Writes a file as an edit made a minute before the build. */
async function edit(made: FunctionsFolder, file: string, text: string, when = MINUTE_AGO()): Promise<void> {
  await made.write(file, text);
  await utimes(path.join(made.dir, file), when, when);
}

const build = (made: FunctionsFolder) => buildFunctions(made.dir, { typecheck: false, bundleCacheDir: cacheDir });
const codes = (outcome: BuildOutcome) => Object.fromEntries(outcome.built.map((fn) => [fn.relativePath, fn.code]));

describe('the bundle cache', () => {
  it('gives unchanged functions the bundles they had, without bundling them again', async () => {
    const made = await folder();
    const first = await build(made);
    expect(first.bundled).toEqual(['demo/actions/a.ts', 'demo/actions/b.ts', 'demo/actions/c.ts']);
    const second = await build(made);
    expect(second.bundled).toEqual([]);
    expect(second.built.map(({ relativePath, hash, bytes, sourceMap }) => ({ relativePath, hash, bytes, sourceMap }))).toEqual(
      first.built.map(({ relativePath, hash, bytes, sourceMap }) => ({ relativePath, hash, bytes, sourceMap })),
    );
    // The same code a build without the cache makes.
    const uncached = await buildFunctions(made.dir, { typecheck: false });
    expect(codes(second)).toEqual(codes(uncached));
  });

  it('bundles again exactly the functions that import an edited file, with the edit in them', async () => {
    const made = await folder();
    await build(made);
    await edit(made, 'demo/lib/greeting.ts', `export const greeting = 'good morning';\n`);
    const after = await build(made);
    expect(after.bundled).toEqual(['demo/actions/a.ts', 'demo/actions/b.ts']);
    expect(codes(after)['demo/actions/a.ts']).toContain('good morning');
    expect(codes(after)['demo/actions/c.ts']).not.toContain('good morning');
    expect((await build(made)).bundled).toEqual([]);
  });

  it('bundles every function again when a file is added anywhere in the folder (an import may now resolve to it)', async () => {
    const made = await folder();
    await build(made);
    await edit(made, 'demo/lib/greeting/index.ts', `export const greeting = 'from the folder';\n`);
    const after = await build(made);
    expect(after.bundled).toEqual(['demo/actions/a.ts', 'demo/actions/b.ts', 'demo/actions/c.ts']);
  });

  it('does not keep a bundle whose file was modified after the build began', async () => {
    const made = await folder();
    // Dated after the build's start, as a file saved while esbuild was reading it would be.
    await edit(made, 'demo/actions/c.ts', action('({ said: "c2" })'), new Date(Date.now() + 60_000));
    expect((await build(made)).bundled).toEqual(['demo/actions/a.ts', 'demo/actions/b.ts', 'demo/actions/c.ts']);
    expect((await build(made)).bundled).toEqual(['demo/actions/c.ts']);
  });

  it('takes an entry it cannot read for a miss, and forgets removed functions', async () => {
    const made = await folder();
    await build(made);
    const entries = await readdir(cacheDir);
    expect(entries).toHaveLength(3);
    for (const entry of entries) await writeFile(path.join(cacheDir, entry), '{"version": 1, "key": ');
    const rebuilt = await build(made);
    expect(rebuilt.bundled).toHaveLength(3);
    expect(rebuilt.built).toHaveLength(3);

    await rm(path.join(made.dir, 'demo/actions/c.ts'));
    const after = await build(made);
    expect(after.built.map((fn) => fn.name)).toEqual(['a', 'b']);
    expect(await readdir(cacheDir)).toHaveLength(2);
    const kept = JSON.parse(await readFile(path.join(cacheDir, (await readdir(cacheDir))[0] as string), 'utf8')) as { relativePath: string };
    expect(['demo/actions/a.ts', 'demo/actions/b.ts']).toContain(kept.relativePath);
  });

  it('caches nothing of a function that does not build, and bundles it again once fixed', async () => {
    const made = await folder();
    await edit(made, 'demo/actions/c.ts', action('({ said: missing })', `import { missing } from '../lib/nowhere';`));
    const broken = await build(made);
    expect(broken.failed.map((failure) => failure.name)).toEqual(['c']);
    expect(broken.bundled).toEqual(['demo/actions/a.ts', 'demo/actions/b.ts']);
    await edit(made, 'demo/actions/c.ts', action('({ said: "c" })'));
    const fixed = await build(made);
    expect(fixed.failed).toEqual([]);
    expect(fixed.bundled).toEqual(['demo/actions/c.ts']);
  });
});
