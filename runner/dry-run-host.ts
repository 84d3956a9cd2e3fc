// The `nango` operations that would write, for a run that must store nothing (a dry run, a
// replay in patchbay/testing): records, checkpoints and metadata writes are captured in memory
// and reported, never stored. Reads answer from the run's own view (what it wrote, else what the
// caller gave). Proxy calls are not here: the caller wraps the engine or replays answers.
import { findUnstorableText } from '../server/validate.js';
import { hostFailure, type Operation } from './operations.js';
import type { SavedConnection } from './saved-responses.js';

// As runner/sync-operations.ts: the SDK sends chunks of 1,000; more in one call is refused.
const MAX_RECORDS_PER_CALL = 10_000;
const MAX_RECORD_ID_CHARS = 255;
const MAX_CHECKPOINT_BYTES = 64 * 1024;
// Records kept to show per model, and for all models: a sample to read, not a copy of the
// account; counts stay exact.
const MAX_KEPT_RECORDS_PER_MODEL = 100;
const MAX_KEPT_RECORDS = 2000;
const MAX_KEPT_RECORD_CHARS = 4 * 1024 * 1024;

export type RecordWrite = 'saved' | 'updated' | 'deleted';

export interface ModelCapture {
  /** Records passed to batchSave, batchUpdate and batchDelete (deleted: ids, as `{id}`). */
  saved: number;
  updated: number;
  deleted: number;
  /** The first records written, in order, each with what was done to it. */
  records: Array<{ write: RecordWrite; record: Record<string, unknown> }>;
  /** Records written but not kept in `records`. */
  recordsDropped: number;
}

export interface Capture {
  models: Record<string, ModelCapture>;
  /** Set once the function saved or cleared its checkpoint: the last value (null: cleared). */
  checkpoint?: { value: Record<string, unknown> | null };
  /** Set once the function wrote its metadata: the metadata it would have left. */
  metadata?: { value: Record<string, unknown> };
  /** What the function read of its connection (for a replay to answer the same). */
  connection?: SavedConnection;
}

export interface CaptureSources {
  /** What getCheckpoint answers until the function saves one. */
  checkpoint: Record<string, unknown> | null;
  /** The connection's metadata as the run starts (an override, the stored one, a saved one). */
  readMetadata(): Promise<Record<string, unknown> | null>;
  /** The connection as getConnection shows it, without credentials; its metadata is replaced. */
  readConnection(): Promise<Record<string, unknown>>;
  /** Stored records by id (read only); none when absent. */
  readRecords?(model: string, ids: string[]): Promise<Array<[string, unknown]>>;
}

export function createCapture(): Capture {
  return { models: {} };
}

/** Operations that capture writes into `capture`; spread over the run's real operations. */
export function buildCapturingOperations(capture: Capture, sources: CaptureSources): Record<string, Operation> {
  let kept = 0;
  let keptChars = 0;
  let checkpoint = sources.checkpoint;
  let metadata: Record<string, unknown> | null | undefined;

  const modelOf = (args: Record<string, unknown>) => {
    if (typeof args.model !== 'string' || args.model === '') throw hostFailure('invalid_model', 'A model name is required.');
    return (capture.models[args.model] ??= { saved: 0, updated: 0, deleted: 0, records: [], recordsDropped: 0 });
  };
  const recordsOf = (args: Record<string, unknown>) => {
    if (!Array.isArray(args.records)) throw hostFailure('invalid_records', 'Records must be an array.');
    if (args.records.length > MAX_RECORDS_PER_CALL) throw hostFailure('invalid_records', `At most ${MAX_RECORDS_PER_CALL} records per call.`);
    return args.records.map((record: unknown, index) => {
      if (typeof record !== 'object' || record === null || Array.isArray(record)) throw hostFailure('invalid_records', `Record ${index} is not an object.`);
      const id = (record as { id?: unknown }).id;
      if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '' || String(id).length > MAX_RECORD_ID_CHARS) {
        throw hostFailure('invalid_records', `Record ${index} needs an id (a string or number of at most ${MAX_RECORD_ID_CHARS} characters).`);
      }
      return record as Record<string, unknown>;
    });
  };
  const write = (write: RecordWrite) => async (args: Record<string, unknown>) => {
    const model = modelOf(args);
    const records = recordsOf(args);
    model[write] += records.length;
    for (const record of records) {
      const shown = write === 'deleted' ? { id: record.id } : record;
      const chars = model.records.length < MAX_KEPT_RECORDS_PER_MODEL && kept < MAX_KEPT_RECORDS ? JSON.stringify(shown).length : Infinity;
      if (keptChars + chars <= MAX_KEPT_RECORD_CHARS) {
        model.records.push({ write, record: shown });
        kept++;
        keptChars += chars;
      } else {
        model.recordsDropped++;
      }
    }
    return null;
  };
  const currentMetadata = async () => {
    if (metadata === undefined) {
      metadata = await sources.readMetadata();
      capture.connection = { ...capture.connection, metadata };
    }
    return metadata;
  };
  const writeMetadata = async (args: Record<string, unknown>, merge: boolean) => {
    const value = args.metadata;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw hostFailure('invalid_metadata', 'Metadata must be an object.');
    // Refused as the real write would refuse it, so a dry run fails where a run would.
    const unstorable = findUnstorableText(value);
    if (unstorable !== undefined) throw hostFailure('invalid_metadata', `Metadata ${unstorable.path.join('.')}: ${unstorable.message}`);
    const next = merge ? { ...(await currentMetadata()), ...(value as Record<string, unknown>) } : { ...(value as Record<string, unknown>) };
    if (!merge) await currentMetadata();
    metadata = next;
    capture.metadata = { value: next };
    return null;
  };

  return {
    batchSave: write('saved'),
    batchUpdate: write('updated'),
    batchDelete: write('deleted'),
    async getRecordsByIds(args) {
      modelOf(args);
      if (!Array.isArray(args.ids)) throw hostFailure('invalid_ids', 'ids must be an array.');
      return sources.readRecords === undefined ? [] : sources.readRecords(args.model as string, args.ids.map(String));
    },
    async setMergingStrategy(args) {
      if (args.strategy !== 'override') throw hostFailure('unsupported_merging_strategy', `Merging strategy ${JSON.stringify(args.strategy)} is not supported; 'override' is.`);
      return null;
    },
    async trackDeletesStart(args) {
      modelOf(args);
      return null;
    },
    // What would be deleted depends on what is stored, which a dry run does not touch.
    async trackDeletesEnd(args) {
      modelOf(args);
      return { deletedKeys: [] };
    },
    async getCheckpoint() {
      return checkpoint;
    },
    async saveCheckpoint(args) {
      const value = args.checkpoint;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw hostFailure('invalid_checkpoint', 'A checkpoint is an object.');
      if (JSON.stringify(value).length > MAX_CHECKPOINT_BYTES) throw hostFailure('invalid_checkpoint', 'The checkpoint is larger than 64 KB.');
      checkpoint = value as Record<string, unknown>;
      capture.checkpoint = { value: checkpoint };
      return null;
    },
    async clearCheckpoint() {
      checkpoint = null;
      capture.checkpoint = { value: null };
      return null;
    },
    getMetadata: () => currentMetadata(),
    setMetadata: (args) => writeMetadata(args, false),
    updateMetadata: (args) => writeMetadata(args, true),
    async getConnection() {
      const connection = await sources.readConnection();
      capture.connection = { metadata: capture.connection?.metadata ?? null, ...capture.connection, connection };
      return { ...connection, metadata: await currentMetadata() };
    },
  };
}
