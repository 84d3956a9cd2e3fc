// writeFileWhole (server/files.ts) on the real file system.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileWhole } from '../../../server/files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-files-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('writeFileWhole', () => {
  it('replaces the content and leaves no staging file behind', async () => {
    const file = path.join(dir, 'state.json');
    await writeFile(file, '{"old": true}');
    await writeFileWhole(file, '{"new": true}');
    expect(await readFile(file, 'utf8')).toBe('{"new": true}');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('lets two writes of one file at once both succeed, the file holding one of them whole', async () => {
    const file = path.join(dir, 'bundle.js');
    const a = 'a'.repeat(4 * 1024 * 1024);
    const b = 'b'.repeat(4 * 1024 * 1024);
    await Promise.all([writeFileWhole(file, a), writeFileWhole(file, b)]);
    expect([a, b]).toContain(await readFile(file, 'utf8'));
    expect(await readdir(dir)).toEqual(['bundle.js']);
  });

  it('fails where it cannot write, and leaves nothing there', async () => {
    await expect(writeFileWhole(path.join(dir, 'missing', 'file'), 'x')).rejects.toThrow();
    expect(await readdir(dir)).toEqual([]);
  });
});
