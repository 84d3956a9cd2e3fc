// The data directory of a single-machine install: generated secrets kept across restarts, and
// the address of the server running on it (so `patchbay deploy` finds a server started on any port).
// Concurrent first starts agree on one set of secrets (exclusive create, then re-read).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../server/config.js';
import { writeFileWhole } from '../server/files.js';

export interface DataDirSecrets {
  secretKey: string;
  encryptionKey: string;
  databasePassword: string;
}

const FILE = 'secrets.json';

/**
 * Whether Patchbay keeps a data directory: for the embedded PostgreSQL, or for keys the
 * environment does not give. With DATABASE_URL and both keys from the environment it makes none.
 */
export function usesDataDir(config: Pick<Config, 'databaseUrl' | 'secretKey' | 'encryptionKey'>): boolean {
  return config.databaseUrl === undefined || config.secretKey === undefined || config.encryptionKey === undefined;
}

export async function loadDataDirSecrets(dataDir: string): Promise<{ secrets: DataDirSecrets; created: boolean }> {
  // 0755: the embedded PostgreSQL runs as another user and must reach its folder inside.
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  const file = path.join(dataDir, FILE);
  const fresh: DataDirSecrets = {
    // A UUID v4, the format Nango's clients and tooling expect of a secret key.
    secretKey: randomUUID(),
    encryptionKey: randomBytes(32).toString('hex'),
    databasePassword: randomBytes(18).toString('base64url'),
  };
  try {
    await writeFile(file, `${JSON.stringify(fresh, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    return { secrets: fresh, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stored = JSON.parse(await readFile(file, 'utf8')) as Partial<DataDirSecrets>;
  if (!stored.secretKey || !stored.encryptionKey || !stored.databasePassword) {
    throw new Error(`${file} is incomplete; restore it from a backup or remove the data directory`);
  }
  return { secrets: stored as DataDirSecrets, created: false };
}

const SERVER_FILE = 'server.json';

interface ServerAddress {
  url: string;
  pid: number;
}

/** Records where this process serves; the returned function removes the record (at stop). */
export async function recordServerAddress(dataDir: string, url: string): Promise<() => Promise<void>> {
  const file = path.join(dataDir, SERVER_FILE);
  await writeFileWhole(file, `${JSON.stringify({ url, pid: process.pid } satisfies ServerAddress)}\n`);
  return async () => {
    const current = await readServerAddress(dataDir);
    if (current?.pid === process.pid) await rm(file, { force: true });
  };
}

async function readServerAddress(dataDir: string): Promise<ServerAddress | undefined> {
  try {
    const address = JSON.parse(await readFile(path.join(dataDir, SERVER_FILE), 'utf8')) as Partial<ServerAddress>;
    return typeof address.url === 'string' && typeof address.pid === 'number' ? { url: address.url, pid: address.pid } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Where the CLI reaches the server: PATCHBAY_URL (or PORT) when given; else the server running on
 * this data directory, whatever port it took; else `config.serverUrl` (port 3003).
 */
export async function serverUrlOf(config: Config): Promise<string> {
  if (config.serverUrlGiven) return config.serverUrl;
  const running = await readServerAddress(config.dataDir);
  return running !== undefined && isAlive(running.pid) ? running.url : config.serverUrl;
}
