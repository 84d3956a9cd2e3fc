// The `nango` operations that would write, for a run that must store nothing (a dry run, a
// replay in patchbay/testing): records, checkpoints and metadata writes are captured in memory
// and reported, never stored. Reads answer from the run's own view (what it wrote, else what the
// caller gave). Proxy calls are not here: the caller wraps the engine or replays answers.
import { findUnstorableText } from '../server/validate.js';
import { hostFailure, type Operation } from './operations.js';
import type { SavedConnection } from './saved-responses.js';
import { checkMergingStrategy, checkpointOf, recordsOf } from './sync-operations.js';
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
  const write = (write: RecordWrite) => async (args: Record<string, unknown>) => {
    const model = modelOf(args);
    const records = recordsOf(args).map((record) => record.data);
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
      return checkMergingStrategy(args);
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
    async deleteRecordsFromPreviousExecutions(args) {
      modelOf(args);
      return { deletedKeys: [] };
    },
    // Each would start real work (a run, a schedule), which a dry run never does.
    ...Object.fromEntries(
      ['triggerAction', 'triggerSync', 'startSync'].map((name) => [
        name,
        async () => {
          throw hostFailure('not_supported', `nango.${name}() starts deployed functions, which a dry run does not do; it runs in deployed functions only.`);
        },
      ]),
    ),
    async getCheckpoint() {
      return checkpoint;
    },
    async saveCheckpoint(args) {
      checkpoint = checkpointOf(args);
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
