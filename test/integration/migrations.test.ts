import { afterAll, describe, expect, it } from 'vitest';
import { createPool, migrate } from '../../server/store/index.js';
import { createEmptyDatabase } from '../harness/database.js';

describe('migrations', () => {
  const pools: ReturnType<typeof createPool>[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
  });

  it('apply exactly once when five processes start at the same moment', async () => {
    const database = await createEmptyDatabase('migrations');
    for (let i = 0; i < 5; i++) pools.push(createPool({ connectionString: database.url, max: 2 }));
    const results = await Promise.all(pools.map((pool) => migrate(pool)));
    const applied = results.flat();
    const files = results.find((r) => r.length > 0) ?? [];
    expect(files.length).toBeGreaterThan(0);
    expect(applied).toEqual(files); // one process applied them all, the others nothing
    const { rows } = await (pools[0] as ReturnType<typeof createPool>).query<{ name: string }>(
      'SELECT name FROM patchbay_migrations ORDER BY name',
    );
    expect(rows.map((r) => r.name)).toEqual(files);
    // and a later start is a no-op
    expect(await migrate(pools[1] as ReturnType<typeof createPool>)).toEqual([]);
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
    await database.release();
  });
});
