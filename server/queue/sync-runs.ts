// Queues one sync run: the run row (none when one is already queued for the same connection,
// sync and variant: it covers this request too), then its ticket with the NOTIFY that wakes
// runners. Shared by POST /sync/trigger and the scheduler.
import { randomUUID } from 'node:crypto';
import { newLogId } from '../logs/writer.js';
import type { Store } from '../store/index.js';
import type { JobQueue } from './boss.js';
import { SYNC_QUEUE } from './names.js';
import type { Wake } from './wake.js';

export interface SyncRunTarget {
  integrationKey: string;
  connectionId: string;
  provider: string;
  syncName: string;
  bundleHash: string;
  variant: string;
}

/** True when a run was queued, false when one was already waiting. */
export async function queueSyncRun(deps: { store: Store; queue: JobQueue; wake: Wake }, target: SyncRunTarget): Promise<boolean> {
  const runId = randomUUID();
  const created = await deps.store.runs.create({
    id: runId,
    kind: 'sync',
    integrationKey: target.integrationKey,
    connectionId: target.connectionId,
    provider: target.provider,
    functionName: target.syncName,
    bundleHash: target.bundleHash,
    isAsync: true,
    inputJson: null,
    maxRetries: 0,
    logId: newLogId(),
    variant: target.variant,
  });
  if (!created) return false;
  const queued = deps.wake.jobQueuedNotify(SYNC_QUEUE);
  await deps.queue.enqueue(SYNC_QUEUE, runId, { notify: queued });
  queued.deliverLocally();
  return true;
}
