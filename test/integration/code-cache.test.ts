// requireWithCodeCache (runner/code-cache.ts) on a real CommonJS file and real V8 code caches.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requireWithCodeCache } from '../../runner/code-cache.js';

let dir: string;
let moduleFile: string;
let cacheFile: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-code-cache-'));
  moduleFile = path.join(dir, 'module.js');
  cacheFile = path.join(dir, 'module.v8-code-cache');
  // A module as the compiler's: its own requires, __dirname, exports through module.exports.
  await writeFile(
    moduleFile,
    `const path = require('node:path');
     function words(text) { return text.split(/\\s+/).filter(Boolean).map((word) => word.toUpperCase()); }
     module.exports = { shout: (text) => words(text).join(' '), here: path.basename(__dirname) };`,
  );
});

afterEach(() => rm(dir, { recursive: true, force: true }));

type Shouter = { shout(text: string): string; here: string };

describe('requireWithCodeCache', () => {
  it('loads the module as require does, keeps a cache after it has run, and the next load takes it', async () => {
    const first = requireWithCodeCache<Shouter>(moduleFile, cacheFile);
    expect(first.fromCache).toBe(false);
    expect(first.exports.shout('hello  there')).toBe('HELLO THERE');
    expect(first.exports.here).toBe(path.basename(dir));
    await first.saveCodeCache();
    const made = await stat(cacheFile);
    expect(made.size).toBeGreaterThan(0);

    const second = requireWithCodeCache<Shouter>(moduleFile, cacheFile);
    expect(second.fromCache).toBe(true);
    expect(second.exports.shout('again')).toBe('AGAIN');
    // Taken, it is not written again.
    await second.saveCodeCache();
    expect((await stat(cacheFile)).ino).toBe(made.ino);
  });

  it('loads without a cache V8 refuses (damaged, or made for other source) and writes a good one instead', async () => {
    await writeFile(cacheFile, Buffer.from('not a code cache at all'));
    const damaged = requireWithCodeCache<Shouter>(moduleFile, cacheFile);
    expect(damaged.fromCache).toBe(false);
    expect(damaged.exports.shout('still works')).toBe('STILL WORKS');
    await damaged.saveCodeCache();
    expect(requireWithCodeCache<Shouter>(moduleFile, cacheFile).fromCache).toBe(true);

    // The module changed (an upgrade): the cache of its old source is refused, then made again.
    await writeFile(moduleFile, `${await readFile(moduleFile, 'utf8')}\nmodule.exports.version = 2;\n`);
    const upgraded = requireWithCodeCache<Shouter & { version: number }>(moduleFile, cacheFile);
    expect(upgraded.fromCache).toBe(false);
    expect(upgraded.exports.version).toBe(2);
    await upgraded.saveCodeCache();
    expect(requireWithCodeCache<Shouter>(moduleFile, cacheFile).fromCache).toBe(true);
  });

  it('never fails for want of a place to keep the cache', async () => {
    const nowhere = path.join(dir, 'missing-folder', 'cache');
    const loaded = requireWithCodeCache<Shouter>(moduleFile, nowhere);
    expect(loaded.exports.shout('ok')).toBe('OK');
    await expect(loaded.saveCodeCache()).resolves.toBeUndefined();
  });

  it('reads a module with characters beyond ASCII as UTF-8, from its cache too', async () => {
    await writeFile(moduleFile, `module.exports = { shout: (text) => \`¡\${text.toUpperCase()}! — ✓\`, here: 'é' };`);
    const first = requireWithCodeCache<Shouter>(moduleFile, cacheFile);
    expect(first.exports.shout('olé')).toBe('¡OLÉ! — ✓');
    await first.saveCodeCache();
    const second = requireWithCodeCache<Shouter>(moduleFile, cacheFile);
    expect(second.fromCache).toBe(true);
    expect(second.exports.shout('olé')).toBe('¡OLÉ! — ✓');
    expect(second.exports.here).toBe('é');
  });
});
