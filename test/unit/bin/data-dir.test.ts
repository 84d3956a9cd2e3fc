import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordServerAddress, serverUrlOf } from '../../../bin/data-dir.js';
import { loadConfig } from '../../../server/config.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-data-dir-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe('the server address in the data directory', () => {
  it('sends the CLI to the server running on the data directory, whatever its port', async () => {
    const config = loadConfig({ PATCHBAY_DATA_DIR: dataDir });
    expect(await serverUrlOf(config)).toBe('http://127.0.0.1:3003');
    const forget = await recordServerAddress(dataDir, 'http://127.0.0.1:41234');
    expect(await serverUrlOf(config)).toBe('http://127.0.0.1:41234');
    // PATCHBAY_URL or PORT, when given, win.
    expect(await serverUrlOf(loadConfig({ PATCHBAY_DATA_DIR: dataDir, PORT: '4000' }))).toBe('http://127.0.0.1:4000');
    expect(await serverUrlOf(loadConfig({ PATCHBAY_DATA_DIR: dataDir, PATCHBAY_URL: 'http://patchbay.internal:3003' }))).toBe('http://patchbay.internal:3003');
    await forget();
    expect(await serverUrlOf(config)).toBe('http://127.0.0.1:3003');
  });

  it('ignores the address of a server that is no longer running', async () => {
    // No process has pid 2^22 + 1 (above Linux's pid_max).
    await writeFile(path.join(dataDir, 'server.json'), JSON.stringify({ url: 'http://127.0.0.1:41234', pid: 4_194_305 }));
    expect(await serverUrlOf(loadConfig({ PATCHBAY_DATA_DIR: dataDir }))).toBe('http://127.0.0.1:3003');
  });
});
