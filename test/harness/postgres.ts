// vitest globalSetup: one embedded PostgreSQL per test run (own directory, free port), with a
// migrated template database that every test file clones.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../bin/embedded-postgres.js';
import { createPool, migrate } from '../../server/store/index.js';

export const TEMPLATE_DATABASE = 'patchbay_template';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-test-pg-'));
  await chmod(dir, 0o755); // the embedded PostgreSQL runs as user 'postgres' when we are root
  const database = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), password: 'test', fast: true, maxConnections: 100 });
  const admin = createPool({ connectionString: database.url, max: 1 });
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();
  const template = createPool({ connectionString: withDatabase(database.url, TEMPLATE_DATABASE), max: 1 });
  await migrate(template);
  await template.end();
  project.provide('adminDatabaseUrl', database.url);
  return async () => {
    await database.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
