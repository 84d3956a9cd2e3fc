// The host side of a sync's `nango` extras: records (batchSave/batchUpdate/batchDelete,
// getRecordsByIds) and checkpoints, bound to the run's connection, sync and variant. Counts what
// each call changed, per model, for the run's summary.
import { Buffer } from 'node:buffer';
import { modelKey, type RecordChanges, type RecordScope, type Store } from '../server/store/index.js';
import { hostFailure, type Operation } from './operations.js';

// Nango's SDK sends batchSave & co. in chunks of 1,000; a bigger call is a function bug or an attack on
// the runner's memory, and is refused rather than buffered.
const MAX_RECORDS_PER_CALL = 10_000;
const MAX_RECORD_ID_CHARS = 255;
const MAX_CHECKPOINT_BYTES = 64 * 1024;
// nango.listRecords pages: GET /records' default and bound, so a page costs what an app's read costs.
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 1000;
// A cursor is a record id (at most MAX_RECORD_ID_CHARS) in base64url: 4 characters per 3 bytes of UTF-8.
const MAX_CURSOR_CHARS = 1400;
// deleteRecordsFromPreviousExecutions needs the ids a run saved, whether or not it will call it:
// kept for every sync run up to this many (~20 MB of short ids), beyond which the call refuses to
// guess rather than delete what it did not see. trackDeletesStart has no such bound: it is asked for.
const MAX_SEEN_IDS_PER_RUN = 250_000;

export interface SyncScope {
  runId: string;
  integrationKey: string;
  connectionId: string;
  syncName: string;
  variant: string;
}

export type ModelChanges = Record<string, { added: number; updated: number; deleted: number }>;

/** The records of a batchSave/batchUpdate/batchDelete call, checked; shared with the capturing host (dry-run-host.ts). */
export function recordsOf(args: Record<string, unknown>): { id: string; data: Record<string, unknown> }[] {
  if (!Array.isArray(args.records)) throw hostFailure('invalid_records', 'Records must be an array.');
  if (args.records.length > MAX_RECORDS_PER_CALL) throw hostFailure('invalid_records', `At most ${MAX_RECORDS_PER_CALL} records per call.`);
  return args.records.map((record: unknown, index) => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) throw hostFailure('invalid_records', `Record ${index} is not an object.`);
    const id = (record as { id?: unknown }).id;
    if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '' || String(id).length > MAX_RECORD_ID_CHARS) {
      throw hostFailure('invalid_records', `Record ${index} needs an id (a string or number of at most ${MAX_RECORD_ID_CHARS} characters).`);
    }
    return { id: String(id), data: record as Record<string, unknown> };
  });
}

/** A saveCheckpoint argument, checked. */
export function checkpointOf(args: Record<string, unknown>): Record<string, unknown> {
  const checkpoint = args.checkpoint;
  if (typeof checkpoint !== 'object' || checkpoint === null || Array.isArray(checkpoint)) throw hostFailure('invalid_checkpoint', 'A checkpoint is an object.');
  if (JSON.stringify(checkpoint).length > MAX_CHECKPOINT_BYTES) throw hostFailure('invalid_checkpoint', 'The checkpoint is larger than 64 KB.');
  return checkpoint as Record<string, unknown>;
}

/**
 * setMergingStrategy: saves always replace the stored record (Nango's default, `override`); the
 * other strategy needs per-record modification tracking Patchbay does not keep, so it is
 * refused aloud.
 */
export function checkMergingStrategy(args: Record<string, unknown>): null {
  if (args.strategy !== 'override') throw hostFailure('unsupported_merging_strategy', `Merging strategy ${JSON.stringify(args.strategy)} is not supported; 'override' is.`);
  return null;
}

export function buildSyncOperations(store: Store, scope: SyncScope, changes: ModelChanges): Record<string, Operation> {
  // Models between trackDeletesStart and trackDeletesEnd, with the ids this run saved.
  const tracked = new Map<string, Set<string>>();
  // Every model's ids this run saved or updated, for deleteRecordsFromPreviousExecutions.
  const seenThisRun = new Map<string, Set<string>>();
  let seenCount = 0;
  const see = (model: string, records: { id: string }[]) => {
    const trackedIds = tracked.get(model);
    if (trackedIds !== undefined) for (const record of records) trackedIds.add(record.id);
    if (seenCount > MAX_SEEN_IDS_PER_RUN) return;
    const seen = seenThisRun.get(model) ?? new Set<string>();
    seenThisRun.set(model, seen);
    for (const record of records) seen.add(record.id);
    seenCount += records.length;
  };
  const deleteUnseen = async (model: RecordScope, name: string, seen: Set<string>) => {
    const deletedKeys = await store.records.removeAllExcept(model, [...seen], scope.runId);
    tally(name, { added: 0, updated: 0, deleted: deletedKeys.length, unchanged: 0 });
    return { deletedKeys };
  };
  const recordScope = (args: Record<string, unknown>) => {
    if (typeof args.model !== 'string' || args.model === '') throw hostFailure('invalid_model', 'A model name is required.');
    return {
      integrationKey: scope.integrationKey,
      connectionId: scope.connectionId,
      model: modelKey(args.model, scope.variant),
    };
  };
  const tally = (model: string, counted: RecordChanges) => {
    const entry = (changes[model] ??= { added: 0, updated: 0, deleted: 0 });
    entry.added += counted.added;
    entry.updated += counted.updated;
    entry.deleted += counted.deleted;
    return null;
  };
  const checkpointKey = { integrationKey: scope.integrationKey, connectionId: scope.connectionId, syncName: scope.syncName, variant: scope.variant };

  return {
    async batchSave(args) {
      const model = recordScope(args);
      const records = recordsOf(args);
      see(model.model, records);
      return tally(args.model as string, await store.records.save(model, records, scope.runId));
    },
    async setMergingStrategy(args) {
      return checkMergingStrategy(args);
    },
    async trackDeletesStart(args) {
      tracked.set(recordScope(args).model, new Set());
      return null;
    },
    async trackDeletesEnd(args) {
      const model = recordScope(args);
      const seen = tracked.get(model.model);
      if (seen === undefined) throw hostFailure('invalid_call', 'trackDeletesEnd() without trackDeletesStart() for this model.');
      tracked.delete(model.model);
      return deleteUnseen(model, args.model as string, seen);
    },
    async deleteRecordsFromPreviousExecutions(args) {
      // Nango's older form of trackDeletesStart/End, with the run's start as the start.
      const model = recordScope(args);
      if (seenCount > MAX_SEEN_IDS_PER_RUN) {
        throw hostFailure('invalid_call', `This run saved more than ${MAX_SEEN_IDS_PER_RUN} records: call trackDeletesStart() at its start and trackDeletesEnd() instead.`);
      }
      return deleteUnseen(model, args.model as string, seenThisRun.get(model.model) ?? new Set());
    },
    async batchUpdate(args) {
      const model = recordScope(args);
      const records = recordsOf(args);
      see(model.model, records);
      return tally(args.model as string, await store.records.update(model, records, scope.runId));
    },
    async batchDelete(args) {
      const model = recordScope(args);
      return tally(args.model as string, await store.records.remove(model, recordsOf(args).map((record) => record.id), scope.runId));
    },
    async getRecordsByIds(args) {
      const model = recordScope(args);
      if (!Array.isArray(args.ids)) throw hostFailure('invalid_ids', 'ids must be an array.');
      const found = await store.records.getByIds(model, args.ids.map(String));
      return [...found.entries()];
    },
    async listRecords(args) {
      // The run's own live records of a model, in id order: a page's cursor is the last id (opaque to
      // the function), so records this run updates while it pages are not seen twice.
      const model = recordScope(args);
      const cursor = args.cursor;
      let afterId: string | undefined;
      if (cursor !== undefined && cursor !== null) {
        afterId = typeof cursor === 'string' && cursor.length <= MAX_CURSOR_CHARS ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
        if (afterId === '' || afterId.length > MAX_RECORD_ID_CHARS) throw hostFailure('invalid_cursor', 'The cursor is not one listRecords() returned.');
      }
      const limit = args.limit === undefined || args.limit === null ? DEFAULT_LIST_LIMIT : Number(args.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw hostFailure('invalid_limit', `limit must be an integer from 1 to ${MAX_LIST_LIMIT}.`);
      const page = await store.records.listLive(model, { afterId, limit });
      const toCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
      return {
        records: page.records.map((record) => ({
          ...record.data,
          _nango_metadata: {
            first_seen_at: record.firstSeenAt.toISOString(),
            last_modified_at: record.lastModifiedAt.toISOString(),
            last_action: record.lastAction,
            deleted_at: null,
            cursor: toCursor(record.id),
          },
        })),
        next_cursor: page.hasMore && page.records.length > 0 ? toCursor((page.records.at(-1) as { id: string }).id) : null,
      };
    },
    async getCheckpoint() {
      return store.checkpoints.get(checkpointKey);
    },
    async saveCheckpoint(args) {
      await store.checkpoints.save(checkpointKey, checkpointOf(args));
      return null;
    },
    async clearCheckpoint() {
      await store.checkpoints.clear(checkpointKey);
      return null;
    },
  };
}
