// The dashboard's script: the ES modules of ./ui with Preact and htm from node_modules, bundled by
// esbuild into one minified file (one request instead of ~20 module fetches: the login page ready
// in 734 ms instead of 1041 ms p50 on a busy 2-core machine, 68 KB of script instead of 97 KB;
// 73 KB and 494 ms on a quiet one with today's pages).
// dist/ ships it built (DASHBOARD_BUNDLE_FILE, written by scripts/dist.mjs with
// `buildDashboardBundle`), so a compiled Patchbay never starts esbuild to serve it; from the
// sources it is built at first use. Memoised per process; a failed build is retried.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built bundle beside this file in dist/. */
export const DASHBOARD_BUNDLE_FILE = 'app.bundle.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

let building: Promise<Buffer> | undefined;

export function loadDashboardBundle(): Promise<Buffer> {
  const built = path.join(HERE, DASHBOARD_BUNDLE_FILE);
  const attempt = (building ??= existsSync(built) ? readFile(built) : buildDashboardBundle());
  attempt.catch(() => {
    if (building === attempt) building = undefined;
  });
  return attempt;
}

export async function buildDashboardBundle(): Promise<Buffer> {
  // Loaded only to build: a compiled Patchbay reads the built bundle instead.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(HERE, 'ui', 'app.js')],
    bundle: true,
    format: 'esm',
    target: 'es2020',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('esbuild produced no dashboard bundle');
  return Buffer.from(output.contents);
}
