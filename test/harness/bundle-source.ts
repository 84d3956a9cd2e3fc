// Bundles a function's source text the way runner/bundle.ts does (esbuild IIFE assigning
// `__patchbay_exports`, `patchbay` aliased to sdk/functions.ts, ending with `;void 0;`), for
// sandbox tests that need a bundle without a functions folder.
import { createHash } from 'node:crypto';
import path from 'node:path';
import * as esbuild from 'esbuild';
import type { FunctionBundle } from '../../runner/sandbox/index.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SDK_ENTRY = path.join(ROOT, 'sdk/functions.ts');

export async function bundleSource(contents: string): Promise<FunctionBundle> {
  const result = await esbuild.build({
    stdin: { contents, resolveDir: ROOT, loader: 'ts', sourcefile: 'function.ts' },
    bundle: true,
    format: 'iife',
    globalName: '__patchbay_exports',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    alias: { patchbay: SDK_ENTRY },
  });
  const code = `${(result.outputFiles[0] as esbuild.OutputFile).text}\n;void 0;\n`;
  return { hash: createHash('sha256').update(code).digest('hex'), code };
}

const cache = new Map<string, Promise<FunctionBundle>>();

/** bundleSource, memoised by source text (a test file bundles the same function many times). */
export function bundleOnce(contents: string): Promise<FunctionBundle> {
  let bundle = cache.get(contents);
  if (bundle === undefined) {
    bundle = bundleSource(contents);
    cache.set(contents, bundle);
  }
  return bundle;
}

/**
 * An action whose exec body is `body` (it sees `nango`, `input`, and `ActionError` from
 * patchbay); `top` goes before the definition. No schemas unless `top` defines `schemas`.
 */
export function actionSource(body: string, top = ''): string {
  return [
    `import { createAction, ActionError } from 'patchbay';`,
    top,
    `export default createAction({ description: 'test action', ...(typeof schemas === 'undefined' ? {} : schemas), async exec(nango, input) {\n${body}\n} } as any);`,
  ].join('\n');
}

/** A sync whose exec body is `body` (it sees `nango`) and onWebhook body `webhook` (`nango`, `payload`). */
export function syncSource(body: string, top = '', webhook = ''): string {
  return [
    `import { createSync } from 'patchbay';`,
    `import { z } from 'zod';`,
    top,
    `export default createSync({ description: 'test sync', frequency: 'every hour', models: { Item: z.object({ id: z.string(), name: z.string() }) }, async exec(nango) {\n${body}\n}, async onWebhook(nango, payload) {\n${webhook}\n} });`,
  ].join('\n');
}
