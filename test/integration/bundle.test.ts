// Bundling a functions folder: discovery, the script shape the sandbox relies on, stable
// hashes, and problems reported as file:line:column. Real esbuild, real TypeScript, real files
// in temporary folders outside the repository (as a user's functions usually are).
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { installGlobals } from '../../runner/sandbox/guest/globals.js';
import { BUNDLE_GLOBAL, BundleError, buildFunctions, bundleFunction, bundleFunctions, discoverFunctions, formatProblem, type BuiltFunction } from '../../runner/bundle.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

// What a function may use beyond the language: runner/sandbox/guest/globals.ts installs these,
// runner/typecheck.ts declares them.
const SANDBOX_GLOBAL_NAMES = [
  'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'atob', 'btoa', 'structuredClone', 'crypto',
  'Headers', 'Response', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'console',
];
const folders: string[] = [];

afterAll(async () => {
  await Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function functionsFolder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-bundle-'));
  folders.push(dir);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  return dir;
}

async function problemsOf(promise: Promise<unknown>): Promise<BundleError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(BundleError);
  return error as BundleError;
}

/** Evaluates a bundle as the sandbox does: a bare context with only the language's globals. */
function evaluate(fn: BuiltFunction): { completion: unknown; definition: Record<string, unknown> } {
  const context: Record<string, unknown> = {};
  const completion: unknown = runInNewContext(fn.code, context);
  const exports = context[BUNDLE_GLOBAL] as { default: Record<string, unknown> };
  return { completion, definition: exports.default };
}

const ACTION = `import * as z from 'zod';
import { createAction } from 'patchbay';

export default createAction({
  description: 'Shouts a word',
  input: z.object({ word: z.string() }),
  output: z.object({ shout: z.string() }),
  exec: async (_nango, input) => {
    return { shout: input.word.toUpperCase() };
  },
});
`;

const SYNC = `import * as z from 'zod';
import { createSync } from 'patchbay';

const Thing = z.object({ id: z.string() });

export default createSync({
  description: 'Things',
  frequency: 'every hour',
  models: { Thing },
  exec: async (nango) => {
    await nango.batchSave([{ id: '1' }], 'Thing');
  },
});
`;

describe('discoverFunctions', () => {
  it('finds actions and syncs of each integration and ignores tests, declarations, helpers and node_modules', async () => {
    const dir = await functionsFolder({
      'github/actions/create-issue.ts': ACTION,
      'github/actions/create-issue.test.ts': '',
      'github/actions/types.d.ts': '',
      'github/actions/notes.md': '',
      'github/actions/lib/helper.ts': '',
      'github/syncs/issues.ts': SYNC,
      'github/helpers.ts': '',
      'github/models/issue.ts': '',
      'slack/actions/post-message.ts': ACTION,
      'top-level.ts': '',
      'node_modules/pkg/actions/nope.ts': '',
      '.cache/actions/nope.ts': '',
    });
    const sources = await discoverFunctions(dir);
    expect(sources.map(({ integration, kind, name, relativePath }) => ({ integration, kind, name, relativePath }))).toEqual([
      { integration: 'github', kind: 'action', name: 'create-issue', relativePath: 'github/actions/create-issue.ts' },
      { integration: 'github', kind: 'sync', name: 'issues', relativePath: 'github/syncs/issues.ts' },
      { integration: 'slack', kind: 'action', name: 'post-message', relativePath: 'slack/actions/post-message.ts' },
    ]);
    expect(sources[0]?.file).toBe(path.join(dir, 'github', 'actions', 'create-issue.ts'));
  });

  it('finds nothing in a folder that does not exist', async () => {
    expect(await discoverFunctions(path.join(os.tmpdir(), 'patchbay-no-such-folder'))).toEqual([]);
  });

  it('rejects unusable names and an action and a sync sharing a name', async () => {
    const dir = await functionsFolder({
      'github/actions/create issue.ts': ACTION,
      'git/hub/actions/x.ts': ACTION,
      'git!hub/actions/x.ts': ACTION,
      'github/actions/issues.ts': ACTION,
      'github/syncs/issues.ts': SYNC,
      'my-github:prod/actions/ok.ts': ACTION,
    });
    const error = await problemsOf(discoverFunctions(dir));
    expect(error.problems.map((problem) => problem.file).sort()).toEqual(['git!hub/actions/x.ts', 'github/actions/create issue.ts', 'github/syncs/issues.ts']);
    expect(error.message).toContain('github/syncs/issues.ts "issues" is already the name of github/actions/issues.ts');
    expect(error.message).toContain('function name "create issue" may contain only letters, digits, _ and -');
  });
});

describe('bundleFunctions', () => {
  it('gives a script that defines __patchbay_exports.default, returns undefined and needs nothing from Node', async () => {
    const dir = await functionsFolder({ 'demo/actions/shout.ts': ACTION, 'demo/syncs/things.ts': SYNC });
    const [action, sync] = await bundleFunctions(dir);
    expect(action?.relativePath).toBe('demo/actions/shout.ts');
    expect(sync?.relativePath).toBe('demo/syncs/things.ts');

    const { completion, definition } = evaluate(action as BuiltFunction);
    expect(completion).toBeUndefined();
    expect(definition.type).toBe('action');
    const exec = definition.exec as (nango: unknown, input: unknown) => Promise<unknown>;
    expect(await exec({}, { word: 'hey' })).toEqual({ shout: 'HEY' });
    expect(evaluate(sync as BuiltFunction).definition.type).toBe('sync');

    for (const fn of [action, sync] as BuiltFunction[]) {
      expect(fn.code.endsWith('\n;void 0;\n')).toBe(true);
      expect(fn.code).not.toMatch(/\brequire\(/);
      expect(fn.code).not.toContain(dir);
      expect(fn.code).not.toContain(ROOT);
      expect(fn.bytes).toBe(Buffer.byteLength(fn.code));
      expect(fn.hash).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('bundles zod in: its schemas validate inside the script', async () => {
    const dir = await functionsFolder({
      'demo/actions/parse.ts': `import * as z from 'zod';
import { createAction } from 'patchbay';
const Input = z.object({ n: z.number().int() });
export default createAction({
  description: 'Parses',
  input: Input,
  output: z.object({ ok: z.boolean() }),
  exec: async (_nango, input) => ({ ok: Input.safeParse(input).success && Input.safeParse({ n: 1.5 }).success === false }),
});
`,
    });
    const [fn] = await bundleFunctions(dir, { typecheck: false });
    expect(fn?.code).toContain('ZodObject');
    const exec = evaluate(fn as BuiltFunction).definition.exec as (nango: unknown, input: unknown) => Promise<unknown>;
    expect(await exec({}, { n: 2 })).toEqual({ ok: true });
  });

  it('gives equal sources in different folders the same hash, and a changed source a new one', async () => {
    const first = await bundleFunctions(await functionsFolder({ 'demo/actions/shout.ts': ACTION }), { typecheck: false });
    const second = await bundleFunctions(await functionsFolder({ 'demo/actions/shout.ts': ACTION }), { typecheck: false });
    const changed = await bundleFunctions(await functionsFolder({ 'demo/actions/shout.ts': ACTION.replace('toUpperCase', 'toLowerCase') }), {
      typecheck: false,
    });
    expect(second[0]?.hash).toBe(first[0]?.hash);
    expect(second[0]?.code).toBe(first[0]?.code);
    expect(changed[0]?.hash).not.toBe(first[0]?.hash);
  });

  it('gives a function the same code whether it is built alone or with others', async () => {
    const dir = await functionsFolder({
      'demo/lib/shared.ts': `export const label = 'shared';\nexport function format(value: string) { return label + ':' + value; }\n`,
      'demo/actions/one.ts': `import { format } from '../lib/shared';\nconst label = 'one';\nexport default { type: 'action', exec: async () => format(label) };\n`,
      'demo/actions/two.ts': `import { format, label } from '../lib/shared';\nfunction format2() { return format(label); }\nexport default { type: 'action', exec: async () => format2() };\n`,
      'demo/actions/shout.ts': ACTION,
    });
    const together = await bundleFunctions(dir, { typecheck: false });
    const sources = await discoverFunctions(dir);
    const alone = await Promise.all(sources.map((source) => bundleFunction(source, dir)));
    expect(together.map((fn) => fn.hash)).toEqual(alone.map((fn) => fn.hash));
    const exec = evaluate(together[0] as BuiltFunction).definition.exec as () => Promise<unknown>;
    expect(await exec()).toBe('shared:one');
  });

  it('names file:line:column of a syntax error', async () => {
    const dir = await functionsFolder({
      'demo/actions/shout.ts': ACTION,
      'demo/actions/broken.ts': `import { createAction } from 'patchbay';\n\nconst x = ;\n`,
    });
    const error = await problemsOf(bundleFunctions(dir));
    expect(error.problems).toEqual([{ file: 'demo/actions/broken.ts', line: 3, column: 11, message: 'Unexpected ";"' }]);
    expect(error.message).toBe('demo/actions/broken.ts:3:11 Unexpected ";"');
  });

  it('names file and line of type errors: an output of the wrong type, a method that does not exist', async () => {
    const dir = await functionsFolder({
      'demo/actions/wrong.ts': `import * as z from 'zod';
import { createAction } from 'patchbay';

export default createAction({
  description: 'Wrong',
  input: z.object({ repo: z.string() }),
  output: z.object({ count: z.number() }),
  exec: async (nango, input) => {
    await nango.gett({ endpoint: '/repos/' + input.repo });
    return { count: 'many' };
  },
});
`,
    });
    const error = await problemsOf(bundleFunctions(dir));
    const lines = error.problems.map((problem) => `${problem.file}:${problem.line}`);
    expect(lines).toContain('demo/actions/wrong.ts:9');
    expect(error.message).toMatch(/demo\/actions\/wrong\.ts:9:\d+ Property 'gett' does not exist/);
    expect(error.message).toMatch(/Type 'string' is not assignable to type 'number'/);
    expect(error.problems.every((problem) => problem.file === 'demo/actions/wrong.ts')).toBe(true);
  });

  it('type-checks against the globals the sandbox installs, and none of Node or the DOM', async () => {
    const installed: Record<string, unknown> = {};
    installGlobals(installed);
    expect(Object.getOwnPropertyNames(installed).sort()).toEqual([...SANDBOX_GLOBAL_NAMES].sort());

    const dir = await functionsFolder({
      'demo/actions/globals.ts': `const url = new URL('/a?b=1', 'https://example.com');
url.searchParams.append('c', '2');
const params = new URLSearchParams({ q: 'x' });
const bytes = new TextEncoder().encode(btoa('hi'));
const text = new TextDecoder().decode(bytes) + atob('aGk=');
const id = crypto.randomUUID() + crypto.getRandomValues(new Uint8Array(4)).length;
const timer = setTimeout((n: number) => console.log(n), 10, 1);
clearTimeout(timer);
clearInterval(setInterval(() => console.warn('tick'), 1000));
console.info(structuredClone({ url: url.href, params: params.toString(), text, id }));
export default { type: 'action' as const };
`,
      'demo/actions/node.ts': `const a = process.env.TOKEN;
const b = require('fs');
const c = document.title;
const d = fetch('https://example.com');
export default { type: 'action' as const, a, b, c, d };
`,
    });
    const error = await problemsOf(bundleFunctions(dir));
    expect(error.problems.map((problem) => `${problem.file}:${problem.line}`)).toEqual(['demo/actions/node.ts:1', 'demo/actions/node.ts:2', 'demo/actions/node.ts:3', 'demo/actions/node.ts:4']);
    expect(error.message).toContain("Cannot find name 'process'");
  });

  it('skips type errors with typecheck: false', async () => {
    const dir = await functionsFolder({
      'demo/actions/wrong.ts': ACTION.replace('return { shout: input.word.toUpperCase() };', 'return { shout: 42 };'),
    });
    await problemsOf(bundleFunctions(dir));
    const [fn] = await bundleFunctions(dir, { typecheck: false });
    expect(fn?.name).toBe('wrong');
  });

  it('says what to do about an unresolved package, a missing file and Node modules', async () => {
    const dir = await functionsFolder({
      'demo/actions/imports.ts': `import leftPad from 'left-pad-not-installed';
import { helper } from './missing-helper';
import { readFile } from 'node:fs/promises';
import http from 'http';
export default { leftPad, helper, readFile, http };
`,
    });
    const error = await problemsOf(bundleFunctions(dir, { typecheck: false }));
    expect(error.message.split('\n')).toEqual([
      'demo/actions/imports.ts:1:21 Could not resolve "left-pad-not-installed": install it in the functions folder (npm install left-pad-not-installed)',
      'demo/actions/imports.ts:2:24 Could not resolve "./missing-helper"',
      `demo/actions/imports.ts:3:26 "node:fs/promises" is a Node module: functions run in a sandbox without Node's modules but buffer, crypto, url, querystring; use nango.get/post/put/patch/delete for HTTP`,
      `demo/actions/imports.ts:4:18 "http" is a Node module: functions run in a sandbox without Node's modules but buffer, crypto, url, querystring; use nango.get/post/put/patch/delete for HTTP`,
    ]);
  });

  it('reports every problem of the folder at once and builds nothing', async () => {
    const dir = await functionsFolder({
      'demo/actions/shout.ts': ACTION,
      'demo/actions/syntax.ts': 'export default {;\n',
      'demo/actions/types.ts': ACTION.replace('input.word.toUpperCase()', 'input.wrd'),
      'demo/syncs/shout.ts': SYNC,
    });
    const error = await problemsOf(bundleFunctions(dir));
    expect([...new Set(error.problems.map((problem) => problem.file))]).toEqual(['demo/actions/syntax.ts', 'demo/actions/types.ts', 'demo/syncs/shout.ts']);
  });

  it('reports a helper shared by two functions once', async () => {
    const dir = await functionsFolder({
      'demo/lib/helper.ts': 'export const helper = (;\n',
      'demo/actions/one.ts': `import { helper } from '../lib/helper';\nexport default helper;\n`,
      'demo/actions/two.ts': `import { helper } from '../lib/helper';\nexport default helper;\n`,
    });
    const error = await problemsOf(bundleFunctions(dir, { typecheck: false }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.file).toBe('demo/lib/helper.ts');
  });

  it('rejects an action file that default-exports a sync, and a file without a default export', async () => {
    const dir = await functionsFolder({
      'demo/actions/things.ts': SYNC,
      'demo/syncs/nothing.ts': `export const x = 1;\n`,
    });
    const error = await problemsOf(bundleFunctions(dir));
    expect(error.message).toContain("demo/actions/things.ts:6:1 a file in actions/ must default-export createAction({...}), not one of type 'sync'");
    expect(error.message).toContain('demo/syncs/nothing.ts no default export: write `export default createSync({...})`');
  });

  it("resolves packages from the functions folder's own node_modules before Patchbay's", async () => {
    const dir = await functionsFolder({
      'node_modules/slugify-lite/package.json': JSON.stringify({ name: 'slugify-lite', type: 'module', main: 'index.js', types: 'index.d.ts' }),
      // Packages often branch on NODE_ENV; the sandbox has no `process`.
      'node_modules/slugify-lite/index.js': `export const mode = process.env.NODE_ENV;\nexport default function slugify(text) { return text.toLowerCase().replace(/[^a-z0-9]+/g, '-'); }\n`,
      'node_modules/slugify-lite/index.d.ts': `export const mode: string;\nexport default function slugify(text: string): string;\n`,
      // A folder's own copy wins over Patchbay's, as Node would resolve it.
      'node_modules/zod/package.json': JSON.stringify({ name: 'zod', type: 'module', main: 'index.js' }),
      'node_modules/zod/index.js': `export const marker = 'the folder\\'s own zod';\n`,
      'demo/actions/slug.ts': `import slugify, { mode } from 'slugify-lite';
import { marker } from 'zod';
export default { type: 'action', exec: async (_nango: unknown, input: { title: string }) => ({ slug: slugify(input.title), marker, mode }) };
`,
    });
    const [fn] = await bundleFunctions(dir, { typecheck: false });
    const exec = evaluate(fn as BuiltFunction).definition.exec as (nango: unknown, input: unknown) => Promise<unknown>;
    expect(await exec({}, { title: 'Hello World' })).toEqual({ slug: 'hello-world', marker: "the folder's own zod", mode: 'production' });
  });

  it("resolves patchbay and zod from Patchbay's node_modules for a folder outside the repository, and the sdk by relative path", async () => {
    const dir = await functionsFolder({ 'demo/actions/shout.ts': ACTION });
    const relativeSdk = path.relative(path.join(dir, 'demo', 'actions'), path.join(ROOT, 'sdk', 'functions')).split(path.sep).join('/');
    await writeFile(path.join(dir, 'demo', 'actions', 'relative.ts'), ACTION.replace("'patchbay'", `'${relativeSdk}'`));
    const built = await bundleFunctions(dir);
    expect(built.map((fn) => fn.name)).toEqual(['relative', 'shout']);
    for (const fn of built) expect(evaluate(fn).definition.type).toBe('action');
  });

  it("builds functions that import the sdk as 'nango' or '@nangohq/runner-sdk', as Nango's functions do", async () => {
    const dir = await functionsFolder({
      'demo/actions/nango.ts': ACTION.replace("'patchbay'", "'nango'"),
      'demo/actions/runner-sdk.ts': ACTION.replace("'patchbay'", "'@nangohq/runner-sdk'"),
      'demo/syncs/things.ts': SYNC.replace("'patchbay'", "'nango'"),
    });
    const built = await bundleFunctions(dir);
    expect(built.map((fn) => fn.name)).toEqual(['nango', 'runner-sdk', 'things']);
    for (const fn of built) expect(evaluate(fn).definition.type).toBe(fn.kind);
    // The same module under another name: the same code as with 'patchbay'.
    const [patchbay] = await bundleFunctions(await functionsFolder({ 'demo/actions/nango.ts': ACTION }));
    expect(built[0]?.hash).toBe(patchbay?.hash);
  });

  it("type-checks and bundles with the folder's own zod, of another 4.x version than Patchbay's", async () => {
    const dir = await functionsFolder({
      'demo/actions/shout.ts': ACTION.replace("'patchbay'", "'nango'"),
      'demo/actions/wrong.ts': ACTION.replace('return { shout: input.word.toUpperCase() };', 'return { shout: 42 };'),
    });
    const ownZod = path.join(dir, 'node_modules', 'zod');
    await cp(path.join(ROOT, 'node_modules', 'zod'), ownZod, { recursive: true });
    // Another version, so that TypeScript cannot take the two copies for one package.
    const manifest = JSON.parse(await readFile(path.join(ownZod, 'package.json'), 'utf8')) as { version: string };
    await writeFile(path.join(ownZod, 'package.json'), JSON.stringify({ ...manifest, version: '4.99.0' }));
    // …and marked, to tell in the bundle which copy it holds.
    const schemas = path.join(ownZod, 'v4', 'classic', 'schemas.js');
    await writeFile(schemas, (await readFile(schemas, 'utf8')).replace('$constructor("ZodObject"', '$constructor("OwnCopyZodObject"'));
    const { built, failed } = await buildFunctions(dir);
    expect(failed.map((f) => f.problems.map(formatProblem))).toEqual([[expect.stringMatching(/^demo\/actions\/wrong\.ts:\d+:\d+ .*number.*string/)]]);
    expect(built.map((fn) => fn.name)).toEqual(['shout']);
    expect(built[0]?.code).toContain('OwnCopyZodObject');
  });

  it('builds the functions that build and reports each other one with the problems that stop it', async () => {
    const dir = await functionsFolder({
      'demo/actions/good.ts': ACTION,
      'demo/actions/syntax.ts': ACTION.replace('exec: async', 'exec: async async'),
      'demo/actions/types.ts': ACTION.replace('input.word.toUpperCase()', 'input.wrd'),
      'demo/actions/unresolved.ts': `import pad from 'left-pad-not-installed';\nconsole.log(pad);\n${ACTION}`,
      'demo/lib/broken.ts': 'export const helper: number = "one";\n',
      'demo/actions/uses-broken.ts': `import { helper } from '../lib/broken';\n${ACTION.replace('input.word.toUpperCase()', 'String(helper)')}`,
      'demo/syncs/things.ts': SYNC,
    });
    const { built, failed } = await buildFunctions(dir);
    expect(built.map((fn) => fn.relativePath)).toEqual(['demo/actions/good.ts', 'demo/syncs/things.ts']);
    for (const fn of built) expect(evaluate(fn).definition.type).toBe(fn.kind);
    expect(failed.map((f) => [f.relativePath, f.integration, f.kind, f.name])).toEqual([
      ['demo/actions/syntax.ts', 'demo', 'action', 'syntax'],
      ['demo/actions/types.ts', 'demo', 'action', 'types'],
      ['demo/actions/unresolved.ts', 'demo', 'action', 'unresolved'],
      ['demo/actions/uses-broken.ts', 'demo', 'action', 'uses-broken'],
    ]);
    const [syntax, types, unresolved, usesBroken] = failed.map((f) => f.problems.map(formatProblem));
    expect(syntax?.[0]).toMatch(/^demo\/actions\/syntax\.ts:8:\d+ /);
    expect(types).toEqual([expect.stringMatching(/^demo\/actions\/types\.ts:9:\d+ .*wrd/)]);
    expect(unresolved?.[0]).toMatch(/^demo\/actions\/unresolved\.ts:1:\d+ Could not resolve "left-pad-not-installed"/);
    // A helper's problem counts against the function importing it, where it is.
    expect(usesBroken).toEqual([expect.stringMatching(/^demo\/lib\/broken\.ts:1:\d+ .*string.*number/)]);
    // All or nothing, the same problems.
    const error = await problemsOf(bundleFunctions(dir));
    expect(new Set(error.problems.map(formatProblem))).toEqual(new Set(failed.flatMap((f) => f.problems.map(formatProblem))));
  });

  it('finds nothing to build in an empty folder', async () => {
    expect(await bundleFunctions(await functionsFolder({}))).toEqual([]);
  });
});

describe('bundleFunction', () => {
  it('builds one function without a type check', async () => {
    const dir = await functionsFolder({ 'demo/actions/shout.ts': ACTION.replace('input.word.toUpperCase()', '42') });
    const [source] = await discoverFunctions(dir);
    const fn = await bundleFunction(source!, dir);
    expect(evaluate(fn).definition.type).toBe('action');
  });
});

describe('the example functions', () => {
  it('all build and type-check', async () => {
    const warnings: string[] = [];
    const built = await bundleFunctions(path.join(ROOT, 'functions'), { onWarning: (message) => warnings.push(message) });
    expect(built.map((fn) => fn.relativePath)).toEqual(expect.arrayContaining(['github/actions/create-issue.ts', 'github/syncs/issues.ts', 'slack/actions/post-message.ts', 'notion/actions/search.ts']));
    expect(warnings).toEqual([]);
    for (const fn of built) expect(evaluate(fn).definition.type).toBe(fn.kind);
  });
});
