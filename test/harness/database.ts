// A fresh database per test file, cloned from the migrated template. Dropped when the file
// passes; kept (and its name printed) when a test failed, as evidence.
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, inject } from 'vitest';
import { createPool } from '../../server/store/index.js';
import { TEMPLATE_DATABASE, withDatabase } from './postgres.js';

export interface TestDatabase {
  url: string;
  name: string;
  /** Drops the database unless a test of this file failed. */
  release(): Promise<void>;
}

let failedInThisFile = false;
afterEach((context) => {
  if (context.task.result?.state === 'fail') failedInThisFile = true;
});

async function withAdmin<T>(work: (admin: ReturnType<typeof createPool>) => Promise<T>): Promise<T> {
  const admin = createPool({ connectionString: inject('adminDatabaseUrl'), max: 1 });
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const hash = createHash('sha1').update(label).digest('hex').slice(0, 8);
  const name = `t_${hash}_${randomBytes(3).toString('hex')}`;
  await withAdmin(async (admin) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
        return;
      } catch (error) {
        // 55006: the template is briefly in use by a concurrent clone; try again.
        if ((error as { code?: string }).code !== '55006' || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 + attempt * 25));
      }
    }
  });
  return {
    url: withDatabase(inject('adminDatabaseUrl'), name),
    name,
    async release() {
      if (failedInThisFile) {
        process.stderr.write(`kept database ${name} of the failed tests in ${label}\n`);
        return;
      }
      await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** An empty database (no migrations), for tests of the migrations themselves. */
export async function createEmptyDatabase(label: string): Promise<TestDatabase> {
  const hash = createHash('sha1').update(label).digest('hex').slice(0, 8);
  const name = `e_${hash}_${randomBytes(3).toString('hex')}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE template0`));
  return {
    url: withDatabase(inject('adminDatabaseUrl'), name),
    name,
    release: () => withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
