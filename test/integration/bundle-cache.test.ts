// The per-function bundle cache (runner/bundle-cache.ts) and the type check's incremental state
// (runner/typecheck.ts) through buildFunctions: real esbuild, real TypeScript, real files. The files are dated a minute back, as files edited before a start are: a file
// modified during a build (or dated after its start) is never cached.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { buildFunctions, releaseBuildResources, type BuildOutcome, type BuiltFunction } from '../../runner/bundle.js';
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

  it('takes an entry or a bundle it cannot read for a miss, and forgets removed functions and their bundles', async () => {
    const made = await folder();
    await build(made);
    // Per function an entry naming its inputs and bundle; per bundle its code and map, named by its hash.
    const isEntry = (name: string) => name.endsWith('.json') && !name.endsWith('.map.json');
    const files = await readdir(cacheDir);
    expect(files.filter(isEntry)).toHaveLength(3);
    expect(files.filter((name) => name.endsWith('.js'))).toHaveLength(3);
    for (const entry of files.filter(isEntry)) await writeFile(path.join(cacheDir, entry), '{"version": 2, "key": ');
    const rebuilt = await build(made);
    expect(rebuilt.bundled).toHaveLength(3);
    expect(rebuilt.built).toHaveLength(3);

    // Code that is not what its name says (damaged, half copied) is not used.
    const [code] = (await readdir(cacheDir)).filter((name) => name.endsWith('.js'));
    await writeFile(path.join(cacheDir, code as string), 'globalThis.tampered = true;');
    const repaired = await build(made);
    expect(repaired.bundled).toHaveLength(1);
    expect(repaired.built.map((fn) => fn.code).join('')).not.toContain('tampered');

    await rm(path.join(made.dir, 'demo/actions/c.ts'));
    const after = await build(made);
    expect(after.built.map((fn) => fn.name)).toEqual(['a', 'b']);
    const left = await readdir(cacheDir);
    expect(left).toHaveLength(6);
    const kept = await Promise.all(left.filter(isEntry).map(async (name) => (JSON.parse(await readFile(path.join(cacheDir, name), 'utf8')) as { relativePath: string }).relativePath));
    expect(kept.sort()).toEqual(['demo/actions/a.ts', 'demo/actions/b.ts']);
    expect(left.filter((name) => name.endsWith('.js')).sort()).toEqual(after.built.map((fn) => `${fn.hash}.js`).sort());
  });

  it('leaves unread the code of bundles the caller holds, reads it on demand, and bundles again one it cannot read', async () => {
    const made = await folder();
    const first = await build(made);
    const a = first.built.find((fn) => fn.name === 'a') as BuiltFunction;
    const held = await buildFunctions(made.dir, { typecheck: false, bundleCacheDir: cacheDir, leaveCode: (hash) => hash === a.hash });
    expect([held.bundled, held.built.map((fn) => fn.name), held.unread.map(({ relativePath, hash, bytes }) => ({ relativePath, hash, bytes }))]).toEqual([
      [],
      ['b', 'c'],
      [{ relativePath: 'demo/actions/a.ts', hash: a.hash, bytes: a.bytes }],
    ]);
    expect(await held.unread[0]?.read()).toEqual({ code: a.code, sourceMap: a.sourceMap, hash: a.hash, bytes: a.bytes });

    // Damaged where it is kept, and wanted after all: the same bundle, made again.
    await writeFile(path.join(cacheDir, `${a.hash}.js`), 'globalThis.tampered = true;');
    const damaged = await buildFunctions(made.dir, { typecheck: false, bundleCacheDir: cacheDir, leaveCode: (hash) => hash === a.hash });
    expect(damaged.unread.map((fn) => fn.name)).toEqual(['a']);
    const again = await damaged.unread[0]?.read();
    expect([again?.code, again?.sourceMap]).toEqual([a.code, a.sourceMap]);
    // …and kept again: the next build reads it from the cache.
    const next = await build(made);
    expect([next.bundled, codes(next)['demo/actions/a.ts']]).toEqual([[], a.code]);
  });

  it('builds as without it when it cannot write its folder', async () => {
    const made = await folder();
    await writeFile(cacheDir, 'a file where the folder should be');
    const first = await build(made);
    expect(first.failed).toEqual([]);
    expect(first.bundled).toHaveLength(3);
    expect((await build(made)).bundled).toHaveLength(3);
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

describe("the type check's incremental state", () => {
  let stateFile: string;
  beforeEach(() => {
    stateFile = path.join(cacheDir, 'typecheck.tsbuildinfo');
  });
  const check = (made: FunctionsFolder) => buildFunctions(made.dir, { typecheckCacheFile: stateFile });
  const failures = (outcome: BuildOutcome) => outcome.failed.map((failure) => [failure.relativePath, failure.problems.map((problem) => `${problem.file}:${problem.line} ${problem.message}`)]);

  const SHOUT = action('({ said: greeting.toUpperCase() })', `import { greeting } from '../lib/greeting';`);
  const SYNC_IN_ACTIONS = `import { createSync } from 'patchbay';
export default createSync({ description: 'a sync', frequency: 'every hour', models: {}, exec: async () => {} });
`;

  it('reports what an unchanged file has wrong on every check, and what an edit to a file it imports breaks in it', async () => {
    const made = await writeFunctions({
      ...FILES,
      'demo/actions/shout.ts': SHOUT,
      'demo/actions/wrong.ts': action('({ said: undefinedName })'),
      'demo/actions/misplaced.ts': SYNC_IN_ACTIONS,
    });
    folders.push(made);
    await mkdir(cacheDir, { recursive: true });
    const first = await check(made);
    const expected = [
      ['demo/actions/misplaced.ts', [expect.stringContaining("demo/actions/misplaced.ts:2 a file in actions/ must default-export createAction({...}), not one of type 'sync'")]],
      ['demo/actions/wrong.ts', [expect.stringContaining("demo/actions/wrong.ts:3 Cannot find name 'undefinedName'")]],
    ];
    expect(failures(first)).toEqual(expected);
    expect(existsSync(stateFile)).toBe(true);

    // Nothing changed: the problems come from the state, and are the same.
    expect(failures(await check(made))).toEqual(expected);

    // The helper's type changes: the function using it is checked again and now fails.
    await made.write('demo/lib/greeting.ts', `export const greeting = 42;\n`);
    const edited = await check(made);
    expect(failures(edited)).toEqual([
      ...expected.slice(0, 1),
      ['demo/actions/shout.ts', [expect.stringContaining("demo/actions/shout.ts:3 Property 'toUpperCase' does not exist on type '42'")]],
      ...expected.slice(1),
    ]);

    // Fixed: nothing is left over from the state.
    await made.write('demo/actions/wrong.ts', action('({ said: "right" })'));
    await made.write('demo/actions/misplaced.ts', action('({ said: "placed" })'));
    await made.write('demo/lib/greeting.ts', `export const greeting = 'hello';\n`);
    expect(failures(await check(made))).toEqual([]);
  });

  it('reads only the functions an edit reaches, through value and type-only imports, and the whole folder when files come or go', async () => {
    const made = await writeFunctions({
      ...FILES,
      'demo/lib/types.ts': `export interface Said { said: string }\n`,
      'demo/lib/unused.ts': `export const unused = 1;\n`,
      'demo/actions/typed.ts': action('value', `import type { Said } from '../lib/types';\nconst value: Said = { said: 'typed' };`),
    });
    folders.push(made);
    await mkdir(cacheDir, { recursive: true });
    const all = ['demo/actions/a.ts', 'demo/actions/b.ts', 'demo/actions/c.ts', 'demo/actions/typed.ts'];
    const first = await check(made);
    expect([first.typeChecked.sort(), failures(first)]).toEqual([all, []]);
    expect((await check(made)).typeChecked).toEqual([]);

    await made.write('demo/lib/greeting.ts', `export const greeting = 'good day';\n`);
    expect((await check(made)).typeChecked.sort()).toEqual(['demo/actions/a.ts', 'demo/actions/b.ts']);

    // Imported for its type only, the edit still reaches the function, and breaks it.
    await made.write('demo/lib/types.ts', `export interface Said { said: number }\n`);
    const retyped = await check(made);
    expect(retyped.typeChecked).toEqual(['demo/actions/typed.ts']);
    expect(failures(retyped)).toEqual([['demo/actions/typed.ts', [expect.stringContaining("demo/actions/typed.ts:2 Type 'string' is not assignable to type 'number'")]]]);

    // The problem stays reported while other functions are checked.
    await made.write('demo/actions/c.ts', action('({ said: "see" })'));
    const other = await check(made);
    expect([other.typeChecked, failures(other)]).toEqual([['demo/actions/c.ts'], failures(retyped)]);

    await made.write('demo/lib/unused.ts', `export const unused = 2;\n`);
    expect((await check(made)).typeChecked).toEqual([]);

    // A new file may be what an import now resolves to: everything is read.
    await made.write('demo/actions/d.ts', action('({ said: "d" })'));
    const added = await check(made);
    expect([added.typeChecked.sort(), failures(added)]).toEqual([[...all, 'demo/actions/d.ts'].sort(), failures(retyped)]);
  });

  it('reads the whole folder while a file of it declares globals, which reach functions that do not import it', async () => {
    const setup = (globals: string) => `export const ready = true;\n${globals}`;
    const made = await writeFunctions({
      ...FILES,
      'demo/lib/setup.ts': setup(''),
      'demo/actions/a.ts': action('({ said: String(ready) })', `import { ready } from '../lib/setup';`),
      'demo/actions/c.ts': action('({ said: region })'),
    });
    folders.push(made);
    await mkdir(cacheDir, { recursive: true });
    const cannotFind = [['demo/actions/c.ts', [expect.stringContaining("demo/actions/c.ts:3 Cannot find name 'region'")]]];
    expect(failures(await check(made))).toEqual(cannotFind);

    // The edit reaches a.ts only, but what it declares reaches c.ts.
    await made.write('demo/lib/setup.ts', setup('declare global { var region: string }\n'));
    const declared = await check(made);
    expect([declared.typeChecked.length, failures(declared)]).toEqual([3, []]);

    await made.write('demo/lib/setup.ts', setup('declare global { var zone: string }\n'));
    const renamed = await check(made);
    expect([renamed.typeChecked.length, failures(renamed)]).toEqual([3, cannotFind]);
  });

  it("checks again the functions of a folder whose own package's declarations changed", async () => {
    const made = await writeFunctions({
      ...FILES,
      'node_modules/shapes/package.json': JSON.stringify({ name: 'shapes', version: '1.0.0', type: 'module', main: 'index.js', types: 'index.d.ts' }),
      'node_modules/shapes/index.js': 'export const size = 3;\n',
      'node_modules/shapes/index.d.ts': 'export declare const size: number;\n',
      'demo/actions/c.ts': action('({ said: size.toFixed(1) })', `import { size } from 'shapes';`),
    });
    folders.push(made);
    await mkdir(cacheDir, { recursive: true });
    expect(failures(await check(made))).toEqual([]);

    await made.write('node_modules/shapes/index.d.ts', 'export declare const size: { value: number };\n');
    expect(failures(await check(made))).toEqual([['demo/actions/c.ts', [expect.stringContaining("demo/actions/c.ts:3 Property 'toFixed' does not exist on type '{ value: number; }'")]]]);
  });

  it("reports a function's default export as its files are, after a subset check saw another version of them", async () => {
    const made = await writeFunctions({ ...FILES, 'demo/actions/c.ts': SYNC_IN_ACTIONS });
    folders.push(made);
    await mkdir(cacheDir, { recursive: true });
    const misplaced = [['demo/actions/c.ts', [expect.stringContaining('must default-export createAction')]]];
    expect(failures(await check(made))).toEqual(misplaced);
    // Fixed, in a check of c alone; then broken again as it was at the last whole check, and a
    // new file makes this check a whole one, against that check's build information.
    await made.write('demo/actions/c.ts', action('({ said: "c" })'));
    expect(failures(await check(made))).toEqual([]);
    await made.write('demo/actions/c.ts', SYNC_IN_ACTIONS);
    await made.write('demo/lib/extra.ts', 'export const extra = 1;\n');
    expect(failures(await check(made))).toEqual(misplaced);
    // And the other way: fixed at a whole check, broken in a subset one, fixed again.
    await made.write('demo/actions/c.ts', action('({ said: "c" })'));
    await made.write('demo/lib/more.ts', 'export const more = 1;\n');
    expect(failures(await check(made))).toEqual([]);
    await made.write('demo/actions/c.ts', SYNC_IN_ACTIONS);
    expect(failures(await check(made))).toEqual(misplaced);
    await made.write('demo/actions/c.ts', action('({ said: "c" })'));
    await made.write('demo/lib/most.ts', 'export const most = 1;\n');
    expect(failures(await check(made))).toEqual([]);
  });

  describe('with files beside the folder', () => {
    // A project holding the functions folder, its node_modules and a shared folder next to it.
    const project = async (files: Record<string, string>) => {
      const made = await writeFunctions(files);
      folders.push(made);
      await mkdir(cacheDir, { recursive: true });
      const functionsDir = path.join(made.dir, 'functions');
      return { made, run: () => buildFunctions(functionsDir, { typecheckCacheFile: stateFile }) };
    };
    const inFunctions = (files: Record<string, string>) => Object.fromEntries(Object.entries(files).map(([file, text]) => [`functions/${file}`, text]));

    it('checks the folder again when an import that did not resolve may now: a package installed above the folder, a file made beside it', async () => {
      const { made, run } = await project(
        inFunctions({
          ...FILES,
          'demo/actions/a.ts': action('({ said: pad(3) })', `import { pad } from 'leftpadx';`),
          'demo/actions/b.ts': action("({ said: helper('b') })", `import { helper } from '../../../shared/helper';`),
        }),
      );
      const unresolved = (file: string, module: string) => [file, [expect.stringContaining(`Could not resolve "${module}"`)]];
      expect(failures(await run())).toEqual([unresolved('demo/actions/a.ts', 'leftpadx'), unresolved('demo/actions/b.ts', '../../../shared/helper')]);
      await made.write('node_modules/leftpadx/package.json', JSON.stringify({ name: 'leftpadx', version: '1.0.0', type: 'module', main: 'index.js', types: 'index.d.ts' }));
      await made.write('node_modules/leftpadx/index.js', 'export const pad = (n) => String(n);\n');
      await made.write('node_modules/leftpadx/index.d.ts', 'export declare const pad: (n: number) => string;\n');
      const installed = await run();
      expect([installed.typeChecked.length, failures(installed)]).toEqual([3, [unresolved('demo/actions/b.ts', '../../../shared/helper')]]);
      // Made, the file's types are checked against the call: only the type check can tell.
      await made.write('shared/helper.ts', 'export const helper = (n: number) => n;\n');
      const created = await run();
      expect([created.typeChecked.length, failures(created)]).toEqual([
        3,
        [['demo/actions/b.ts', [expect.stringContaining("Argument of type 'string' is not assignable to parameter of type 'number'")]]],
      ]);
      // Resolved, they are checked only when an edit reaches them.
      await made.write('shared/helper.ts', 'export const helper = (s: string) => s;\n');
      expect(failures(await run())).toEqual([]);
      await made.write('functions/demo/actions/c.ts', action('({ said: "see" })'));
      expect((await run()).typeChecked).toEqual(['demo/actions/c.ts']);
    });

    it('checks the folder again when an import that resolved may now resolve to another file', async () => {
      const { made, run } = await project({
        ...inFunctions({ ...FILES, 'demo/actions/a.ts': action("({ said: helper('a') })", `import { helper } from '../../../shared/helper';`) }),
        // CommonJS: a module, not a script whose declarations would be global.
        'shared/helper.js': 'module.exports.helper = (s) => s;\n',
      });
      const first = await run();
      expect([first.typeChecked.length, failures(first)]).toEqual([3, []]);
      expect((await run()).typeChecked).toEqual([]);
      // Its types, made beside it, are what the import now resolves to.
      await made.write('shared/helper.d.ts', 'export declare const helper: (n: number) => number;\n');
      const typed = await run();
      expect([typed.typeChecked.length, failures(typed)]).toEqual([
        3,
        [['demo/actions/a.ts', [expect.stringContaining("Argument of type 'string' is not assignable to parameter of type 'number'")]]],
      ]);
      // A package installed nearer the folder than the one an import found.
      await made.write('shared/helper.d.ts', 'export declare const helper: (s: string) => string;\n');
      await made.write('node_modules/shapes/package.json', JSON.stringify({ name: 'shapes', version: '1.0.0', main: 'index.js', types: 'index.d.ts' }));
      await made.write('node_modules/shapes/index.js', 'module.exports.size = 3;\n');
      await made.write('node_modules/shapes/index.d.ts', 'export declare const size: number;\n');
      await made.write('functions/demo/actions/c.ts', action('({ said: size.toFixed(1) })', `import { size } from 'shapes';`));
      expect(failures(await run())).toEqual([]);
      await made.write('functions/demo/node_modules/shapes/package.json', JSON.stringify({ name: 'shapes', version: '2.0.0', main: 'index.js', types: 'index.d.ts' }));
      await made.write('functions/demo/node_modules/shapes/index.js', 'module.exports.size = { value: 3 };\n');
      await made.write('functions/demo/node_modules/shapes/index.d.ts', 'export declare const size: { value: number };\n');
      const shadowed = await run();
      expect([shadowed.typeChecked.length, failures(shadowed)]).toEqual([
        3,
        [['demo/actions/c.ts', [expect.stringContaining("Property 'toFixed' does not exist on type '{ value: number; }'")]]],
      ]);
    });

    it('sees a package upgraded in place give a subpath an import looked for', async () => {
      const pkg = (version: string) => JSON.stringify({ name: 'pkgz', version, type: 'module', exports: version === '1.0.0' ? { '.': './index.js' } : { '.': './index.js', './extra': './extra.js' } });
      const { made, run } = await project({
        ...inFunctions({ ...FILES, 'demo/actions/a.ts': action('({ said: extra })', `import { extra } from 'pkgz/extra';`) }),
        'node_modules/pkgz/package.json': pkg('1.0.0'),
        'node_modules/pkgz/index.js': 'export const base = 1;\n',
        'node_modules/pkgz/index.d.ts': 'export declare const base: number;\n',
      });
      expect(failures(await run())).toEqual([['demo/actions/a.ts', [expect.stringContaining('Could not resolve "pkgz/extra"')]]]);
      await made.write('node_modules/pkgz/package.json', pkg('1.1.0'));
      await made.write('node_modules/pkgz/extra.js', "export const extra = 'x';\n");
      await made.write('node_modules/pkgz/extra.d.ts', 'export declare const extra: string;\n');
      // Another function edited: without the upgrade seen, only it would be checked.
      await made.write('functions/demo/actions/c.ts', action('({ said: "see" })'));
      const upgraded = await run();
      expect([upgraded.typeChecked.length, failures(upgraded)]).toEqual([3, []]);
    });

    it("gives the start what the build read outside the folder's listing, and asks for another build after an import esbuild could not resolve", async () => {
      const { made } = await project(
        inFunctions({
          ...FILES,
          '.types/answer.ts': 'export interface Answer { said: string }\n',
          'demo/actions/a.ts': action('answer', `import type { Answer } from '../../.types/answer';\nconst answer: Answer = { said: 'a' };`),
          'demo/actions/b.ts': action('({ said: shared })', `import { shared } from '../../../shared/value';`),
        }),
      );
      await made.write('shared/value.js', "export const shared = 'b';\n");
      await made.write('shared/value.d.ts', 'export declare const shared: string;\n');
      const functionsDir = path.join(made.dir, 'functions');
      // Saved a minute ago: a file saved while a build runs is stamped as changed.
      for (const entry of await readdir(made.dir, { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) await utimes(path.join(entry.parentPath, entry.name), MINUTE_AGO(), MINUTE_AGO());
      }
      const checked = await buildFunctions(functionsDir, { typecheckCacheFile: stateFile });
      expect(failures(checked)).toEqual([]);
      // esbuild read the .js, the type check the .d.ts and the type-only import of a dot folder.
      for (const file of ['shared/value.js', 'shared/value.d.ts', 'functions/.types/answer.ts']) expect(Object.keys(checked.outside.stamps)).toContain(path.join(made.dir, file));
      expect(Object.values(checked.outside.stamps)).not.toContain('changed-during-build');
      expect(checked.outside.again).toBe(false);

      // Without the type check, nothing else says when an import that did not resolve may.
      await made.write('functions/demo/actions/c.ts', action('({ said: gone })', `import { gone } from '../../../shared/gone';`));
      const unchecked = await buildFunctions(functionsDir, { typecheck: false });
      expect([failures(unchecked), unchecked.outside.again]).toEqual([[['demo/actions/c.ts', [expect.stringContaining('Could not resolve "../../../shared/gone"')]]], true]);
    });

    it('checks a function an edit reaches through a file outside the folder', async () => {
      const { made, run } = await project({
        ...inFunctions({
          ...FILES,
          'demo/lib/types.ts': 'export interface Row { name: string }\n',
          'demo/actions/a.ts': action('({ said: row().name.toUpperCase() })', `import { row } from '../../../shared/rows';`),
        }),
        'shared/rows.ts': `import type { Row } from '../functions/demo/lib/types';\nexport const row = (): Row => ({ name: 'x' }) as Row;\n`,
      });
      expect(failures(await run())).toEqual([]);
      await made.write('functions/demo/lib/types.ts', 'export interface Row { name: number }\n');
      const edited = await run();
      expect([edited.typeChecked, failures(edited)]).toEqual([['demo/actions/a.ts'], [['demo/actions/a.ts', [expect.stringContaining("Property 'toUpperCase' does not exist on type 'number'")]]]]);
    });

    it('reads the whole folder while a package a function imports declares globals', async () => {
      const { made, run } = await project(
        inFunctions({
          ...FILES,
          'node_modules/arr-last/package.json': JSON.stringify({ name: 'arr-last', version: '1.0.0', main: 'index.js', types: 'index.d.ts' }),
          'node_modules/arr-last/index.js': '',
          'node_modules/arr-last/index.d.ts': 'declare global { interface Array<T> { last(): T | undefined } }\nexport {};\n',
          'demo/actions/b.ts': action('({ said: "b" })', `import 'arr-last';`),
          'demo/actions/a.ts': action('({ said: String([1].last()) })'),
        }),
      );
      expect(failures(await run())).toEqual([]);
      // Only a.ts changed, and it does not import the package; what the package declares reaches it.
      await made.write('functions/demo/actions/a.ts', action('({ said: String([2].last()) })'));
      const edited = await run();
      expect([edited.typeChecked.length, failures(edited)]).toEqual([3, []]);
    });
  });

  it('checks everything again when its state cannot be read', async () => {
    const made = await writeFunctions({ ...FILES, 'demo/actions/wrong.ts': action('({ said: undefinedName })') });
    folders.push(made);
    await mkdir(cacheDir, { recursive: true });
    const expected = [['demo/actions/wrong.ts', [expect.stringContaining("Cannot find name 'undefinedName'")]]];
    expect(failures(await check(made))).toEqual(expected);
    for (const name of await readdir(cacheDir)) await writeFile(path.join(cacheDir, name), '{ not json');
    expect(failures(await check(made))).toEqual(expected);
    expect(failures(await check(made))).toEqual(expected);
    // Read, but without a part it needs.
    const lastCheck = `${stateFile}.last-check.json`;
    const { reach: _reach, ...damaged } = JSON.parse(await readFile(lastCheck, 'utf8')) as Record<string, unknown>;
    await writeFile(lastCheck, JSON.stringify(damaged));
    const again = await check(made);
    expect([again.typeChecked.length, failures(again)]).toEqual([4, expected]);
  });

  it('removes the file where earlier builds kept the default exports\' problems', async () => {
    const made = await writeFunctions(FILES);
    folders.push(made);
    await mkdir(cacheDir, { recursive: true });
    const obsolete = `${stateFile}.exports.json`;
    await writeFile(obsolete, '{}');
    expect(failures(await check(made))).toEqual([]);
    expect(await readdir(cacheDir)).not.toContain(path.basename(obsolete));
  });
});
