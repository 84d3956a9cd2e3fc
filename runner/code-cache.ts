// Requires a large CommonJS file (TypeScript's compiler: 9 MB of JavaScript) with a V8 code cache
// kept in a file: the next process skips parsing and compiling what the cache holds. The cache is
// made after the module has done its work, so it holds the functions compiled lazily on the way
// (typecheck of the 6 example functions: ~0.25 s of CPU less, of ~1.5 s). V8 refuses a cache made
// by another V8, with other flags or for other source, and the file is then made again; any
// failure falls back to a plain `require`. The file is trusted as the data directory is.
import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { writeFileWhole } from '../server/files.js';

export interface CachedRequire<T> {
  exports: T;
  /** V8 took the code from the cache file. */
  fromCache: boolean;
  /** Writes the cache if there was none or V8 refused it; once per process, and never fails. */
  saveCodeCache(): Promise<void>;
}

export function requireWithCodeCache<T>(file: string, cacheFile: string): CachedRequire<T> {
  let cached: Buffer | undefined;
  try {
    cached = readFileSync(cacheFile);
  } catch {
    cached = undefined;
  }
  let script: vm.Script;
  try {
    // CommonJS's own wrapper, so the module sees what `require` gives it.
    script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${readSource(file)}\n})`, {
      filename: file,
      ...(cached === undefined ? {} : { cachedData: cached }),
    });
  } catch {
    return { exports: createRequire(file)(file) as T, fromCache: false, saveCodeCache: async () => undefined };
  }
  const module = { exports: {} as T };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, path.dirname(file));
  const fromCache = cached !== undefined && script.cachedDataRejected !== true;
  let save = !fromCache;
  return {
    exports: module.exports,
    fromCache,
    async saveCodeCache() {
      if (!save) return;
      save = false;
      // Not kept, the next process compiles again.
      await writeFileWhole(cacheFile, script.createCachedData()).catch(() => undefined);
    },
  };
}

/**
 * The file's text. TypeScript's is ASCII only: read as latin1 it is the same string, made without
 * UTF-8 decoding (9 MB: ~65 ms against ~105 ms in a fresh process).
 */
function readSource(file: string): string {
  const bytes = readFileSync(file);
  return bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
}
