// The database of a `patchbay start` child running on its embedded PostgreSQL, for benchmarks
// that read run state or write a baseline beside Patchbay: the child chooses a free port at each
// start and keeps the password in its data directory, so both are read back from there.
//
// <dataDir>/secrets.json holds `databasePassword` (bin/data-dir.ts); the cluster is
// <dataDir>/postgres, whose postmaster.pid has the port on its fourth line (PostgreSQL's
// documented layout: pid, data directory, start time, port, socket directory, listen address…).
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export async function embeddedDatabaseUrl(dataDir: string): Promise<string> {
  const secrets = JSON.parse(await readFile(path.join(dataDir, 'secrets.json'), 'utf8')) as { databasePassword?: unknown };
  if (typeof secrets.databasePassword !== 'string' || secrets.databasePassword === '') {
    throw new Error(`${dataDir}/secrets.json has no databasePassword: is Patchbay running on its embedded PostgreSQL?`);
  }
  const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const port = Number(lines[3]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`${pidFile} names no port (line 4: ${JSON.stringify(lines[3])})`);
  return `postgres://postgres:${encodeURIComponent(secrets.databasePassword)}@127.0.0.1:${port}/postgres`;
}
