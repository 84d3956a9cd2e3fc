// The deployed set's store (server/store/functions.ts replaceAll) on a real database: bundles are
// content-addressed, written once, and a redeploy sends only those the database lacks.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCipher } from '../../server/credentials/cipher.js';
import { createPool, createStore, type FunctionInput, type Pool, type Store } from '../../server/store/index.js';
import { createTestDatabase, type TestDatabase } from '../harness/database.js';

let database: TestDatabase;
let pool: Pool;
let store: Store;
/** The text of every query the store's pool ran, in order. */
const queries: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase('function-store');
  pool = createPool({ connectionString: database.url, max: 2 });
  // Observed at the driver's edge: what goes over the wire, not how the store is written.
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [config, values] = args as [string | { text: string }, unknown[] | undefined];
      queries.push(`${typeof config === 'string' ? config : config.text}\n${JSON.stringify(values ?? [])}`);
      return query(...args);
    };
  });
  store = createStore(pool, createCipher(randomBytes(32)));
});

afterAll(async () => {
  await pool?.end();
  await database?.release();
});

function fn(name: string, code: string, sourceMap?: string): FunctionInput {
  return {
    integrationKey: 'demo',
    kind: 'action',
    name,
    sourcePath: `demo/actions/${name}.ts`,
    hash: createHash('sha256').update(code).digest('hex'),
    code,
    ...(sourceMap === undefined ? {} : { sourceMap }),
    config: { type: 'action', description: name, version: '0.0.1', hasInput: false, hasOutput: false, hasOnWebhook: false },
  };
}

const deploy = async (functions: FunctionInput[]) => {
  queries.length = 0;
  const changes = await store.transaction((tx) => tx.functions.replaceAll(functions));
  return { changes, sent: queries.filter((query) => query.includes('INSERT INTO function_bundles')).join('\n') };
};

describe('replaceAll', () => {
  it('sends a bundle to the database once: a redeploy of the same code sends none, an edit only its own', async () => {
    const a = fn('a', 'var a = "code of a";', '{"version":3,"sources":["a.ts"],"mappings":""}');
    const b = fn('b', 'var b = "code of b";', '{"version":3,"sources":["b.ts"],"mappings":""}');
    const first = await deploy([a, b]);
    expect(first.changes.added).toEqual(['demo/actions/a', 'demo/actions/b']);
    expect(first.sent).toContain('code of a');
    expect(first.sent).toContain('code of b');

    const again = await deploy([a, b]);
    expect(again.changes.unchanged).toEqual(['demo/actions/a', 'demo/actions/b']);
    expect(again.sent).toBe('');

    const edited = fn('b', 'var b = "edited code of b";', '{"version":3,"sources":["b.ts"],"mappings":"AAAA"}');
    const third = await deploy([a, edited]);
    expect(third.changes.updated).toEqual(['demo/actions/b']);
    expect(third.sent).toContain('edited code of b');
    expect(third.sent).not.toContain('code of a');
    expect((await store.functions.bundles([a.hash, edited.hash])).get(edited.hash)).toBe(edited.code);
    expect(await store.functions.sourceMap(edited.hash)).toBe(edited.sourceMap);
  });

  it('stores a large deploy whole, its bundles in several inserts', async () => {
    const many = Array.from({ length: 120 }, (_unused, index) => fn(`many-${index}`, `var n = ${index}; // ${'x'.repeat(index)}`, `{"version":3,"sources":["m${index}.ts"],"mappings":""}`));
    const { changes } = await deploy(many);
    expect(changes.added).toHaveLength(120);
    const stored = await store.functions.bundles(many.map((f) => f.hash));
    expect(many.every((f) => stored.get(f.hash) === f.code)).toBe(true);
    expect(await store.functions.sourceMap((many[119] as FunctionInput).hash)).toBe('{"version":3,"sources":["m119.ts"],"mappings":""}');
  });

  it('gives a bundle stored without a source map the map of the next deploy of the same code', async () => {
    const bare = fn('c', 'var c = "code of c";');
    await deploy([bare]);
    expect(await store.functions.sourceMap(bare.hash)).toBeUndefined();
    // Without a map still: nothing to send.
    expect((await deploy([bare])).sent).toBe('');
    const mapped = { ...bare, sourceMap: '{"version":3,"sources":["c.ts"],"mappings":"AAAA"}' };
    expect((await deploy([mapped])).sent).toContain('code of c');
    expect(await store.functions.sourceMap(bare.hash)).toBe(mapped.sourceMap);
    expect((await deploy([mapped])).sent).toBe('');
  });
});
