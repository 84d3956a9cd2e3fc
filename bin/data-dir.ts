// The data directory of a single-machine install: generated secrets kept across restarts.
// Concurrent first starts agree on one set of secrets (exclusive create, then re-read).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface DataDirSecrets {
  secretKey: string;
  encryptionKey: string;
  databasePassword: string;
}

const FILE = 'secrets.json';

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
