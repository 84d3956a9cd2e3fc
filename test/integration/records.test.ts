import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCipher } from '../../server/credentials/cipher.js';
import { createPool, createStore, type Pool, type RecordScope, type Store } from '../../server/store/index.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';

const KEY = 'openai';
const CONN = 'conn-1';
const scope = (model: string): RecordScope => ({ integrationKey: KEY, connectionId: CONN, model });

/** ~500 bytes of JSON, like a typical provider object. */
function recordData(id: string, version = 0): Record<string, unknown> {
  return {
    id,
    version,
    name: `Record ${id}`,
    email: `user-${id}@example.com`,
    tags: ['alpha', 'beta', 'gamma'],
    address: { street: '1 Long Street Name', city: 'Springfield', zip: '12345', country: 'Freedonia' },
    notes: 'x'.repeat(260),
  };
}

const batch = (from: number, to: number, version = 0) =>
  Array.from({ length: to - from }, (_, i) => ({ id: String(from + i), data: recordData(String(from + i), version) }));

describe('records', () => {
  let patchbay: TestPatchbay;
  let pool: Pool;
  let store: Store;
  const headers = { 'provider-config-key': KEY, 'connection-id': CONN };
  const get = (query: string) => patchbay.request('GET', `/records?${query}`, { headers });

  beforeAll(async () => {
    patchbay = await startPatchbay({ label: 'records' });
    pool = createPool({ connectionString: patchbay.database.url, max: 4 });
    store = createStore(pool, createCipher(randomBytes(32)));
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'openai', unique_key: KEY } })).status).toBe(200);
    const created = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: KEY, connection_id: CONN, credentials: { type: 'API_KEY', apiKey: 'sk-test' }, verify: false },
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await pool?.end();
    await patchbay?.stop();
  });

  describe('store', () => {
    it('counts added, updated and unchanged exactly over repeated saves of 3,000 records', async () => {
      const s = scope('Counted');
      const first = [batch(0, 1000), batch(1000, 2000), batch(2000, 3000)];
      const totals = async (batches: ReturnType<typeof batch>[]) => {
        const sum = { added: 0, updated: 0, deleted: 0, unchanged: 0 };
        for (const b of batches) {
          const changes = await store.records.save(s, b, null);
          for (const key of Object.keys(sum) as (keyof typeof sum)[]) sum[key] += changes[key];
        }
        return sum;
      };
      expect(await totals(first)).toEqual({ added: 3000, updated: 0, deleted: 0, unchanged: 0 });
      expect(await totals(first)).toEqual({ added: 0, updated: 0, deleted: 0, unchanged: 3000 });

      // 300 changed, the rest identical but with their keys in another order: still unchanged.
      const second = first.map((b) =>
        b.map((r) =>
          Number(r.id) % 10 === 0
            ? { id: r.id, data: recordData(r.id, 1) }
            : { id: r.id, data: Object.fromEntries(Object.entries(r.data).reverse()) },
        ),
      );
      const seqBefore = await store.records.list(s, { limit: 10_000 });
      expect(await totals(second)).toEqual({ added: 0, updated: 300, deleted: 0, unchanged: 2700 });
      const seqAfter = await store.records.list(s, { limit: 10_000 });
      const before = new Map(seqBefore.records.map((r) => [r.id, r]));
      for (const record of seqAfter.records) {
        const old = before.get(record.id)!;
        if (Number(record.id) % 10 === 0) {
          expect(record.seq).toBeGreaterThan(seqBefore.lastSeq!);
          expect(record.lastAction).toBe('UPDATED');
          expect(record.data.version).toBe(1);
        } else {
          // unchanged: same seq, same timestamp, still ADDED
          expect([record.seq, record.lastModifiedAt.getTime(), record.lastAction]).toEqual([old.seq, old.lastModifiedAt.getTime(), 'ADDED']);
        }
      }
      // new records mixed into a batch of known ones
      expect(await store.records.save(s, [...second[2]!.slice(990), ...batch(3000, 3005)], null)).toEqual({
        added: 5, updated: 0, deleted: 0, unchanged: 10,
      });
      expect(await store.records.save(s, [], null)).toEqual({ added: 0, updated: 0, deleted: 0, unchanged: 0 });
    });

    it('keeps the last of duplicate ids within one batch', async () => {
      const s = scope('Duplicates');
      const changes = await store.records.save(
        s,
        [{ id: 'a', data: { n: 1 } }, { id: 'b', data: { n: 1 } }, { id: 'a', data: { n: 2 } }],
        null,
      );
      expect(changes).toEqual({ added: 2, updated: 0, deleted: 0, unchanged: 0 });
      expect((await store.records.getByIds(s, ['a'])).get('a')).toEqual({ n: 2 });
    });

    it('merges batchUpdate into live records and ignores unknown, deleted and no-op updates', async () => {
      const s = scope('Merged');
      await store.records.save(s, [{ id: '1', data: { id: '1', a: 1, b: { x: 1 } } }, { id: '2', data: { id: '2', a: 2 } }, { id: '3', data: { id: '3' } }], null);
      await store.records.remove(s, ['3'], null);
      const runId = randomUUID();
      const changes = await store.records.update(
        s,
        [
          { id: '1', data: { b: { y: 2 }, c: 3 } },
          { id: '1', data: { d: 4 } }, // a second patch of the same id in the batch merges too
          { id: '2', data: { a: 2 } }, // changes nothing
          { id: '3', data: { a: 3 } }, // deleted
          { id: 'nope', data: { a: 0 } },
        ],
        runId,
      );
      expect(changes).toEqual({ added: 0, updated: 1, deleted: 0, unchanged: 0 });
      const found = await store.records.getByIds(s, ['1', '2', '3', 'nope']);
      expect(Object.fromEntries(found)).toEqual({ '1': { id: '1', a: 1, b: { y: 2 }, c: 3, d: 4 }, '2': { id: '2', a: 2 } });
      const { records } = await store.records.list(s, { limit: 10 });
      expect(records.map((r) => [r.id, r.lastAction])).toEqual([['2', 'ADDED'], ['3', 'DELETED'], ['1', 'UPDATED']]);
      // the merged record's hash follows its data: saving the merged content again is no change
      expect(await store.records.save(s, [{ id: '1', data: { d: 4, c: 3, b: { y: 2 }, a: 1, id: '1' } }], null)).toMatchObject({ unchanged: 1 });
    });

    it('deletes, re-adds a deleted record, and getByIds skips deleted ones', async () => {
      const s = scope('Deleted');
      await store.records.save(s, batch(0, 5), null);
      expect(await store.records.remove(s, ['1', '2', '2', 'unknown'], null)).toEqual({ added: 0, updated: 0, deleted: 2, unchanged: 0 });
      expect(await store.records.remove(s, ['1'], null)).toMatchObject({ deleted: 0 });
      expect([...(await store.records.getByIds(s, ['0', '1', '2', '3'])).keys()].sort()).toEqual(['0', '3']);
      let { records } = await store.records.list(s, { limit: 10, filter: ['DELETED'] });
      expect(records.map((r) => r.id)).toEqual(['1', '2']);
      expect(records[0]!.deletedAt).toBeInstanceOf(Date);
      expect(records[0]!.data).toEqual(recordData('1')); // data kept until pruned

      // the same content saved again brings it back as ADDED
      expect(await store.records.save(s, batch(1, 2), null)).toEqual({ added: 1, updated: 0, deleted: 0, unchanged: 0 });
      ({ records } = await store.records.list(s, { limit: 10, ids: ['1'] }));
      expect(records[0]).toMatchObject({ lastAction: 'ADDED', deletedAt: null });
      expect((await store.records.getByIds(s, ['1'])).get('1')).toEqual(recordData('1'));
    });

    it('clears every record of the named models only', async () => {
      await store.records.save(scope('ClearA'), batch(0, 3), null);
      await store.records.save(scope('ClearA::v2'), batch(0, 2), null);
      await store.records.save(scope('ClearB'), batch(0, 4), null);
      expect(await store.records.clear({ integrationKey: KEY, connectionId: CONN, models: ['ClearA', 'ClearA::v2'] })).toBe(5);
      expect((await store.records.list(scope('ClearA'), { limit: 10 })).records).toEqual([]);
      expect((await store.records.list(scope('ClearB'), { limit: 10 })).records).toHaveLength(4);
    });

    it('prunes the payload of records deleted before the cutoff, keeping their metadata', async () => {
      const s = scope('Pruned');
      await store.records.save(s, batch(0, 4), null);
      await store.records.remove(s, ['0', '1'], null);
      const cutoff = new Date(Date.now() + 1000);
      await store.records.remove(s, ['2'], null);
      await pool.query(`UPDATE records SET deleted_at = now() + interval '1 hour' WHERE model = 'Pruned' AND record_id = '2'`);
      // Retention is global: records deleted by the other tests of this file go too.
      expect(await store.records.prunePayloadsDeletedBefore(cutoff, 1)).toBe(1);
      while ((await store.records.prunePayloadsDeletedBefore(cutoff, 2)) > 0);
      const { records } = await store.records.list(s, { limit: 10 });
      const byId = Object.fromEntries(records.map((r) => [r.id, r]));
      for (const id of ['0', '1']) {
        expect(byId[id]).toMatchObject({ id, data: {}, lastAction: 'DELETED' });
        expect(byId[id]!.prunedAt).toBeInstanceOf(Date);
      }
      expect(byId['2']).toMatchObject({ data: recordData('2'), prunedAt: null });
      expect(byId['3']).toMatchObject({ data: recordData('3'), prunedAt: null });
    });

    it('keeps one checkpoint per sync and variant, with a version per save', async () => {
      const key = { integrationKey: KEY, connectionId: CONN, syncName: 'issues', variant: 'base' };
      expect(await store.checkpoints.get(key)).toBeNull();
      expect(await store.checkpoints.save(key, { page: 1 })).toBe(1);
      expect(await store.checkpoints.save(key, { page: 2, since: '2024-01-01' })).toBe(2);
      expect(await store.checkpoints.get(key)).toEqual({ page: 2, since: '2024-01-01' });
      const other = { ...key, variant: 'eu' };
      await store.checkpoints.save(other, { page: 9 });
      await store.checkpoints.save({ ...key, connectionId: 'conn-2' }, { page: 5 });
      await store.checkpoints.clear(key);
      expect(await store.checkpoints.get(key)).toBeNull();
      expect(await store.checkpoints.get(other)).toEqual({ page: 9 });
      expect(await store.checkpoints.save(key, { page: 1 })).toBe(1);
      await store.checkpoints.clearSync(KEY, 'issues', CONN);
      expect(await store.checkpoints.get(other)).toBeNull();
      expect(await store.checkpoints.get({ ...key, connectionId: 'conn-2' })).toEqual({ page: 5 });
      await store.checkpoints.clearSync(KEY, 'issues');
      expect(await store.checkpoints.get({ ...key, connectionId: 'conn-2' })).toBeNull();
    });
  });

  describe('GET /records', () => {
    it('answers the contract shape, in change order, with a cursor per record', async () => {
      const s = scope('Shape');
      await store.records.save(s, batch(0, 3), null);
      await store.records.save(s, [{ id: '0', data: recordData('0', 1) }], null);
      await store.records.remove(s, ['1'], null);
      const res = await get('model=Shape');
      expect(res.status).toBe(200);
      expect(res.json.next_cursor).toBeNull();
      expect(res.json.records.map((r: any) => [r.id, r._nango_metadata.last_action])).toEqual([
        ['2', 'ADDED'], ['0', 'UPDATED'], ['1', 'DELETED'],
      ]);
      const [added, updated, deleted] = res.json.records;
      expect(added).toEqual({
        ...recordData('2'),
        _nango_metadata: {
          first_seen_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
          last_modified_at: added._nango_metadata.first_seen_at,
          last_action: 'ADDED',
          deleted_at: null,
          pruned_at: null,
          cursor: expect.any(String),
        },
      });
      expect(updated.version).toBe(1);
      expect(deleted._nango_metadata.deleted_at).toBe(deleted._nango_metadata.last_modified_at);
      // a record's cursor resumes right after it
      const after = await get(`model=Shape&cursor=${added._nango_metadata.cursor}`);
      expect(after.json.records.map((r: any) => r.id)).toEqual(['0', '1']);
    });

    it('PATCH /records/prune empties the payloads up to a cursor without making them changes', async () => {
      const s = scope('Pruned');
      await store.records.save(s, batch(0, 5), null);
      const before = (await get('model=Pruned')).json.records;
      const prune = (body: unknown) => patchbay.request('PATCH', '/records/prune', { headers, body });
      const first = await prune({ model: 'Pruned', until_cursor: before[2]._nango_metadata.cursor, limit: 2 });
      expect(first.json).toEqual({ count: 2, has_more: true });
      expect((await prune({ model: 'Pruned', until_cursor: before[2]._nango_metadata.cursor, limit: 2 })).json).toEqual({ count: 1, has_more: false });
      const after = (await get('model=Pruned')).json.records;
      expect(after.map((r: any) => r._nango_metadata.cursor)).toEqual(before.map((r: any) => r._nango_metadata.cursor));
      expect(after.slice(0, 3).map((r: any) => Object.keys(r).sort())).toEqual(Array(3).fill(['_nango_metadata', 'id']));
      expect(after[0]._nango_metadata.pruned_at).toEqual(expect.any(String));
      expect(after[3]).toEqual(before[3]);
      const bad = await prune({ model: 'Pruned', until_cursor: 'nope' });
      expect([bad.status, bad.json.error.code]).toEqual([400, 'invalid_body']);
    });

    it('pages with next_cursor and without repeats', async () => {
      const s = scope('Paged');
      await store.records.save(s, batch(0, 250), null);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await get(`model=Paged&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        seen.push(...res.json.records.map((r: any) => r.id));
        cursor = res.json.next_cursor;
        pages++;
      } while (cursor !== null);
      expect(pages).toBe(3);
      expect(seen).toEqual(batch(0, 250).map((r) => r.id));
      const exact = await get('model=Paged&limit=250');
      expect([exact.json.records.length, exact.json.next_cursor]).toEqual([250, null]);
      expect((await get('model=Paged')).json.records).toHaveLength(100); // default limit
    });

    it('never skips or repeats a change while writers save concurrently', async () => {
      const s = scope('Concurrent');
      const total = 2000;
      await store.records.save(s, batch(0, total), null);
      let writing = true;
      // Four writers of the same scope: each round adds fresh records (a skipped insert would be
      // missing at the end) and rewrites a random slice of the old ones. (The out-of-order commit
      // this guards against is provoked deterministically by the next test.)
      const expected = new Set(batch(0, total).map((r) => r.id));
      const writer = async (w: number) => {
        for (let round = 1; round <= 40; round++) {
          const start = Math.floor(Math.random() * (total - 50));
          const fresh = Array.from({ length: 50 }, (_, i) => ({ id: `w${w}-${round}-${i}`, data: recordData(`w${w}-${round}-${i}`) }));
          for (const r of fresh) expected.add(r.id);
          await store.records.save(s, [...batch(start, start + 50, round * 10 + w), ...fresh], null);
        }
      };
      const writers = Promise.all([1, 2, 3, 4].map(writer)).finally(() => {
        writing = false;
      });

      const latest = new Map<string, number>();
      let lastSeq = 0;
      let cursor: string | null = null;
      for (;;) {
        const finished = !writing;
        const res = await get(`model=Concurrent&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        for (const record of res.json.records) {
          const seq = Number(Buffer.from(record._nango_metadata.cursor, 'base64url').toString());
          expect(seq).toBeGreaterThan(lastSeq); // no change is ever repeated
          lastSeq = seq;
          latest.set(record.id, record.version);
          cursor = record._nango_metadata.cursor;
        }
        // Done only after a full pass that started once the writers had finished.
        if (res.json.next_cursor === null && finished) break;
      }
      await writers;

      const stored = await store.records.getByIds(s, [...expected]);
      expect(stored.size).toBe(total + 4 * 40 * 50);
      expect([...expected].filter((id) => !latest.has(id))).toEqual([]);
      for (const [id, data] of stored) expect(latest.get(id), id).toBe(data.version);
    });

    it('shows a change that commits late, after a later writer of the scope committed first', async () => {
      const s = scope('LateCommit');
      const ids = (res: { json: any }) => res.json.records.map((r: any) => r.id);
      await store.records.save(s, batch(0, 2), null);
      const first = await get('model=LateCommit');
      const cursor = first.json.records.at(-1)._nango_metadata.cursor;

      // Writer A draws its seqs inside a transaction that stays open; writer B starts after it.
      let releaseA!: () => void;
      const aHolds = new Promise<void>((resolve) => (releaseA = resolve));
      let aWrote!: () => void;
      const aHasWritten = new Promise<void>((resolve) => (aWrote = resolve));
      const writerA = store.transaction(async (tx) => {
        await tx.records.save(s, [{ id: 'late', data: { by: 'A' } }], null);
        aWrote();
        await aHolds;
      });
      await aHasWritten;
      const writerB = store.records.save(s, [{ id: 'early', data: { by: 'B' } }], null);
      // Without the scope lock B commits now with a higher seq than A's pending one, and a reader
      // that pages on from B's record never sees A's.
      await Promise.race([writerB, new Promise((resolve) => setTimeout(resolve, 200))]);
      const middle = await get(`model=LateCommit&cursor=${cursor}`);
      const resumeAt = middle.json.records.at(-1)?._nango_metadata.cursor ?? cursor;
      releaseA();
      await Promise.all([writerA, writerB]);
      const rest = await get(`model=LateCommit&cursor=${resumeAt}`);
      expect([...ids(middle), ...ids(rest)]).toEqual(['late', 'early']);
    });

    it('filters by action (any case, csv), modified_after / delta, ids and variant', async () => {
      const s = scope('Filtered');
      await store.records.save(s, batch(0, 6), null);
      await store.records.save(s, batch(0, 2, 1), null);
      // modified_after has millisecond precision, PostgreSQL microseconds: two writes in the same
      // millisecond are one instant to the API, so the delete comes a few ms after the updates.
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.records.remove(s, ['2'], null);
      const ids = (res: { json: any }) => res.json.records.map((r: any) => r.id);

      expect(ids(await get('model=Filtered&filter=updated'))).toEqual(['0', '1']);
      expect(ids(await get('model=Filtered&filter=Deleted,UPDATED'))).toEqual(['0', '1', '2']);
      expect(ids(await get('model=Filtered&filter=added'))).toEqual(['3', '4', '5']);

      const { records } = await store.records.list(s, { limit: 100 });
      const last = records.at(-1)!;
      const since = last.lastModifiedAt.toISOString();
      expect(ids(await get(`model=Filtered&modified_after=${since}`))).toEqual(['2']);
      expect(ids(await get(`model=Filtered&delta=${since}`))).toEqual(['2']);
      expect(ids(await get(`model=Filtered&modified_after=${new Date(Date.now() + 60_000).toISOString()}`))).toEqual([]);

      expect(ids(await get('model=Filtered&ids=4'))).toEqual(['4']);
      expect(ids(await get('model=Filtered&ids=5&ids=0&ids=missing'))).toEqual(['5', '0']);

      await store.records.save(scope('Filtered::eu'), [{ id: 'eu-1', data: { id: 'eu-1' } }], null);
      expect(ids(await get('model=Filtered&variant=eu'))).toEqual(['eu-1']);
      expect(ids(await get('model=Filtered&variant=base&limit=1'))).toEqual(['3']);
    });

    it('rejects bad input and unknown connections with the contract codes', async () => {
      const code = async (query: string, requestHeaders: Record<string, string> = headers) => {
        const res = await patchbay.request('GET', `/records?${query}`, { headers: requestHeaders });
        return [res.status, res.json?.error?.code];
      };
      expect(await code('limit=10')).toEqual([400, 'invalid_query_params']); // missing model
      expect(await code('model=X&limit=0')).toEqual([400, 'invalid_query_params']);
      expect(await code('model=X&limit=10001')).toEqual([400, 'invalid_query_params']);
      expect(await code('model=X&cursor=not-a-cursor')).toEqual([400, 'invalid_query_params']);
      expect(await code(`model=X&cursor=${Buffer.from('12abc').toString('base64url')}`)).toEqual([400, 'invalid_query_params']);
      expect(await code(`model=X&cursor=${'A'.repeat(1001)}`)).toEqual([400, 'invalid_query_params']);
      expect(await code('model=X&filter=created')).toEqual([400, 'invalid_query_params']);
      expect(await code('model=X&modified_after=yesterday')).toEqual([400, 'invalid_query_params']);
      const twoYearsAgo = new Date(Date.now() - 2 * 365 * 86_400_000).toISOString();
      expect(await code(`model=X&modified_after=${twoYearsAgo}`)).toEqual([400, 'invalid_query_params']);
      expect(await code(`model=X&${Array.from({ length: 101 }, (_, i) => `ids=${i}`).join('&')}`)).toEqual([400, 'invalid_query_params']);
      expect(await code(`model=X&ids=${'i'.repeat(257)}`)).toEqual([400, 'invalid_query_params']);
      expect(await code('model=X&unknown=1')).toEqual([400, 'invalid_query_params']);
      expect(await code('model=X', { 'provider-config-key': KEY })).toEqual([400, 'invalid_headers']);
      expect(await code('model=X', { 'provider-config-key': KEY, 'connection-id': 'nobody' })).toEqual([404, 'unknown_connection']);
      expect(await code('model=X', { 'provider-config-key': 'nothing', 'connection-id': CONN })).toEqual([404, 'unknown_provider_config']);
      const bad = await patchbay.request('GET', '/records?model=X&limit=0', { headers });
      expect(bad.json.error.errors[0]).toMatchObject({ path: ['limit'] });
    });

    it('writes 20,000 records of ~500 bytes in batches and reads every one back through pages of 1,000', async () => {
      // Speed belongs to the benchmark (bench:sync); this checks nothing is lost at scale.
      const s = scope('Bench');
      const total = 20_000;
      const batches = Array.from({ length: total / 1000 }, (_, i) => batch(i * 1000, (i + 1) * 1000));
      expect(JSON.stringify(batches[0]![0]!.data).length).toBeGreaterThan(450);
      let added = 0;
      for (const b of batches) added += (await store.records.save(s, b, null)).added;
      expect(added).toBe(total);
      let unchanged = 0;
      for (const b of batches.slice(0, 5)) unchanged += (await store.records.save(s, b, null)).unchanged;
      expect(unchanged).toBe(5000);
      const seen = new Set<string>();
      let cursor: string | null = null;
      do {
        const res = await get(`model=Bench&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
        for (const record of res.json.records) seen.add(record.id);
        cursor = res.json.next_cursor;
      } while (cursor !== null);
      expect(seen.size).toBe(total);
    }, 60_000);
  });
});
