// Builds the guest runtime (guest/runtime.ts and what it imports) into one script with esbuild,
// once per process at first use. The build is a pure function of files shipped with Patchbay, so
// the promise is memoised at module level; a failed build is retried on the next call. dist/
// ships it built (GUEST_RUNTIME_FILE, written by scripts/dist.mjs with `buildGuestRuntime`): a
// compiled Patchbay reads it and never starts esbuild to serve.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built runtime beside this file in dist/. */
export const GUEST_RUNTIME_FILE = 'guest-runtime.built.js';

// Scripts end with `void 0` so that running one returns undefined: isolated-vm hands a script's
// last value back to the host as a reference, which keeps its whole context alive (a leak).
const SCRIPT_SUFFIX = '\n;void 0;\n';

let building: Promise<string> | undefined;

export function loadGuestRuntime(): Promise<string> {
  const built = path.join(path.dirname(fileURLToPath(import.meta.url)), GUEST_RUNTIME_FILE);
  building ??= (existsSync(built) ? readFile(built, 'utf8') : buildGuestRuntime()).catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}

export async function buildGuestRuntime(): Promise<string> {
  // Loaded only to build: a compiled Patchbay reads the built runtime instead.
  const esbuild = await import('esbuild');
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Sources under tsx; compiled .js next to this file in dist/.
  const entry = ['runtime.ts', 'runtime.js'].map((name) => path.join(here, 'guest', name)).find((file) => existsSync(file));
  if (entry === undefined) throw new Error(`The sandbox guest runtime is missing from ${path.join(here, 'guest')}`);
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    target: 'es2022',
    // Class names (URL, TextDecoder…) are visible to functions; esbuild would otherwise rename
    // the ones that shadow globals.
    keepNames: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('esbuild produced no guest runtime');
  return output.text + SCRIPT_SUFFIX;
}
