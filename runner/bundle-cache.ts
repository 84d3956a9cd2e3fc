// Per-function bundle cache, in a folder of the data directory: a function whose every input (its
// own file, the helpers and packages it bundles, Patchbay's SDK and shims) has the same content as
// when it was last bundled, in a functions folder holding the same files, built by the same
// Patchbay with the same settings, is not bundled again. `patchbay start` after an edit to one of
// many functions bundles that one and those sharing the edited file (282 functions: esbuild took
// ~10 s for all of them). Keyed by content, never by modification time; an entry it cannot read
// is a miss, and one it cannot write is only a miss next time: the cache never fails a build.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileWhole } from '../server/files.js';

/** Bumped when an entry's shape or what a bundle is made of changes: older entries miss. */
const CACHE_VERSION = 2;

export interface CachedBundle {
  code: string;
  hash: string;
  bytes: number;
  sourceMap?: string;
}

/**
 * What is kept of a function: the inputs its bundle was made from and which bundle. The bundle's
 * code and map are files of their own, named by the bundle's hash (read as they are, no JSON to
 * parse: 282 functions' 70 MB of entries took ~2 s of CPU to read as JSON).
 */
interface Entry {
  version: number;
  key: string;
  relativePath: string;
  /** Absolute path of each input file → sha256 of its content when it was bundled. */
  inputs: Record<string, string>;
  hash: string;
  bytes: number;
  hasSourceMap: boolean;
}

/** A function whose inputs are all unchanged: which bundle it has, its code not read yet. */
export interface CacheHit {
  hash: string;
  bytes: number;
  /** The files the bundle was made from (absolute paths), all as they were. */
  inputs: string[];
  /**
   * The bundle's code and map. Undefined when they are gone or damaged (the file must hash to the
   * bundle's name), which also forgets the function's entry: the next build bundles it again.
   */
  read(): Promise<CachedBundle | undefined>;
}

export interface BundleCache {
  /** A function whose inputs are all unchanged, else undefined. */
  get(relativePath: string): Promise<CacheHit | undefined>;
  /**
   * Keeps a fresh bundle and the files it was made from, unless one of them was modified after
   * `builtSince` (epoch ms): edited while it was bundled, its content now may not be what was
   * bundled. The caller gives the build's start less a margin for the file system's coarse clock.
   */
  put(relativePath: string, inputs: string[], bundle: CachedBundle, builtSince: number): Promise<void>;
  /** Forgets every function but these (removed or renamed ones), and the bundles none of them uses. */
  keepOnly(relativePaths: string[]): Promise<void>;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const entryFile = (dir: string, relativePath: string) => path.join(dir, `${sha256(relativePath).slice(0, 40)}.json`);
const codeFile = (dir: string, hash: string) => path.join(dir, `${hash}.js`);
const mapFile = (dir: string, hash: string) => path.join(dir, `${hash}.map.json`);

/**
 * The names of every file under the functions folder (its node_modules included), hashed: a file
 * added or removed anywhere can change what an import resolves to, so it makes every entry miss.
 */
export async function folderShape(root: string): Promise<string> {
  const names = (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(root, path.join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
  return sha256(names.join('\0'));
}

/** `key`: what every entry must have been made under (Patchbay's settings and the folder's shape). */
export function openBundleCache(dir: string, key: string): BundleCache {
  // Each file is read and hashed once per build, however many functions bundle it (zod).
  const hashes = new Map<string, Promise<string | undefined>>();
  const hashOf = (file: string) => {
    let hashing = hashes.get(file);
    if (hashing === undefined) {
      hashing = readFile(file).then(sha256, () => undefined);
      hashes.set(file, hashing);
    }
    return hashing;
  };
  // The bundles this build took or kept: keepOnly leaves these.
  const used = new Set<string>();
  let made: Promise<unknown> | undefined;

  return {
    async get(relativePath) {
      let entry: Entry;
      try {
        entry = JSON.parse(await readFile(entryFile(dir, relativePath), 'utf8')) as Entry;
      } catch {
        return undefined;
      }
      if (entry.version !== CACHE_VERSION || entry.key !== key || entry.relativePath !== relativePath || typeof entry.hash !== 'string') return undefined;
      const files = Object.entries(entry.inputs);
      const current = await Promise.all(files.map(([file]) => hashOf(file)));
      if (!files.every(([, hash], index) => current[index] === hash)) return undefined;
      used.add(entry.hash);
      const { hash, bytes, hasSourceMap } = entry;
      const read = async (): Promise<CachedBundle | undefined> => {
        try {
          const [code, sourceMap] = await Promise.all([readFile(codeFile(dir, hash), 'utf8'), hasSourceMap ? readFile(mapFile(dir, hash), 'utf8') : undefined]);
          // Named by its hash, the file must hash to it (a damaged or half-copied cache is a miss).
          if (sha256(code) === hash) return { code, hash, bytes, ...(sourceMap === undefined ? {} : { sourceMap }) };
        } catch {
          // gone: as damaged
        }
        used.delete(hash);
        await rm(entryFile(dir, relativePath), { force: true }).catch(() => undefined);
        return undefined;
      };
      return { hash, bytes, inputs: files.map(([file]) => file), read };
    },

    async put(relativePath, inputs, bundle, builtSince) {
      used.add(bundle.hash);
      await store(relativePath, inputs, bundle, builtSince).catch(() => undefined);
    },

    async keepOnly(relativePaths) {
      const kept = new Set(relativePaths.map((relativePath) => path.basename(entryFile(dir, relativePath))));
      for (const hash of used) {
        kept.add(path.basename(codeFile(dir, hash)));
        kept.add(path.basename(mapFile(dir, hash)));
      }
      const present = await readdir(dir).catch(() => [] as string[]);
      await Promise.all(present.filter((name) => !kept.has(name)).map((name) => rm(path.join(dir, name), { force: true }).catch(() => undefined)));
    },
  };

  async function store(relativePath: string, inputs: string[], bundle: CachedBundle, builtSince: number): Promise<void> {
    const stats = await Promise.all(inputs.map((file) => stat(file).catch(() => undefined)));
    if (stats.some((stats) => stats === undefined || stats.mtimeMs >= builtSince)) return;
    const hashed = await Promise.all(inputs.map((file) => hashOf(file)));
    if (hashed.some((hash) => hash === undefined)) return;
    const entry: Entry = {
      version: CACHE_VERSION,
      key,
      relativePath,
      inputs: Object.fromEntries(inputs.map((file, index) => [file, hashed[index] as string])),
      hash: bundle.hash,
      bytes: bundle.bytes,
      hasSourceMap: bundle.sourceMap !== undefined,
    };
    made ??= mkdir(dir, { recursive: true });
    await made;
    // The bundle's files before the entry that names them.
    await writeFileWhole(codeFile(dir, bundle.hash), bundle.code);
    if (bundle.sourceMap !== undefined) await writeFileWhole(mapFile(dir, bundle.hash), bundle.sourceMap);
    await writeFileWhole(entryFile(dir, relativePath), JSON.stringify(entry));
  }
}
