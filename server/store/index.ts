// The store: every SQL statement Patchbay runs lives in this folder, one module per table family.
import type { Cipher } from '../credentials/cipher.js';
import { createConnectStore, type ConnectStore } from './connect.js';
import { createConnectionStore, type ConnectionStore } from './connections.js';
import { createDryRunStore, type DryRunStore } from './dry-runs.js';
import { withTransaction, type Pool, type Queryable } from './db.js';
import { createFunctionStore, type FunctionStore } from './functions.js';
import { createLogStore, type LogStore } from './logs.js';
import { createIntegrationStore, type IntegrationStore } from './integrations.js';
import { createLockStore, type LockStore } from './locks.js';
import { createRunStore, listRuns, type RunHistoryFilter, type RunHistoryItem, type RunStore } from './runs.js';
import { createRecordStore, type RecordStore } from './records.js';
import { createCheckpointStore, type CheckpointStore } from './checkpoints.js';
import { createScheduleStore, type ScheduleStore } from './schedules.js';
import { createSessionStore, type SessionStore } from './sessions.js';
import { createWebhookStore, type WebhookStore } from './webhooks.js';

export interface Repositories {
  integrations: IntegrationStore;
  connections: ConnectionStore;
  logs: LogStore;
  functions: FunctionStore;
  runs: RunStore;
  /** Every run, newest first, for GET /runs (reads only). */
  runHistory: { list(filter: RunHistoryFilter & { ids?: string[]; withData?: boolean }): Promise<RunHistoryItem[]> };
  records: RecordStore;
  checkpoints: CheckpointStore;
  schedules: ScheduleStore;
  webhooks: WebhookStore;
  connect: ConnectStore;
  sessions: SessionStore;
  dryRuns: DryRunStore;
  /** Locks functions take (nango.tryAcquireLock), shared by every runner. */
  locks: LockStore;
}

export interface Store extends Repositories {
  pool: Pool;
  /** Runs `work` in one transaction with repositories bound to it. */
  transaction<T>(work: (tx: Repositories & { client: Queryable }) => Promise<T>): Promise<T>;
}

/** `bookkeeping` serves what a crash may lose (see PoolOptions.durableCommits); `db` the rest. */
function repositories(db: Queryable, cipher: Cipher, bookkeeping: Queryable): Repositories {
  return {
    integrations: createIntegrationStore(db, cipher),
    connections: createConnectionStore(db, cipher),
    logs: createLogStore(bookkeeping),
    functions: createFunctionStore(db),
    runs: createRunStore(bookkeeping),
    runHistory: { list: (filter) => listRuns(bookkeeping, filter) },
    records: createRecordStore(db),
    checkpoints: createCheckpointStore(db),
    schedules: createScheduleStore(db),
    webhooks: createWebhookStore(db),
    connect: createConnectStore(db, cipher),
    sessions: createSessionStore(db),
    dryRuns: createDryRunStore(bookkeeping),
    locks: createLockStore(db),
  };
}

/** The store on `pool`; the run bookkeeping on `bookkeepingPool` when given (durable commits off). */
export function createStore(pool: Pool, cipher: Cipher, bookkeepingPool: Pool = pool): Store {
  return {
    pool,
    ...repositories(pool, cipher, bookkeepingPool),
    // One transaction is one connection: everything in it commits as `pool` does.
    transaction: (work) => withTransaction(pool, (client) => work({ ...repositories(client, cipher, client), client })),
  };
}

export { createPool, withTransaction, isConnectionError, isUniqueViolation, isUnstorableText, type Pool, type Queryable } from './db.js';
export { createOutageLog, type OutageLog } from './outage-log.js';
export { createDatabaseProbe, type DatabaseProbe } from './probe.js';
export { migrate } from './migrate.js';
export { readSetting, writeSettingOnce } from './settings.js';
export type { Connection, ConnectionCredentials, ConnectionInput, EndUser } from './connections.js';
export type { ConnectSession, ConnectSessionInput, ConnectStore, IntegrationConfigDefaults, OAuthFlow } from './connect.js';
export type { Integration, IntegrationCredentials, IntegrationInput } from './integrations.js';
export type { LogOperation, LogFilter, LogStore } from './logs.js';
export { matchesLogFilter } from './logs.js';
export type { SessionStore } from './sessions.js';
export type { DeployChanges, DeployedFunction, FunctionFailure, FunctionFailureInput, FunctionInput, FunctionKind } from './functions.js';
export type { ClaimedRun, LatestSyncRun, NewRun, RunError, RunHistoryFilter, RunHistoryItem, RunState, RunStatus, RunStore, StaleRun } from './runs.js';
export { insertRunStatement, toRunError } from './runs.js';
export { insertTogether, type Statement } from './together.js';
export { modelKey } from './records.js';
export type { RecordAction, RecordChanges, RecordInput, RecordPage, RecordQuery, RecordScope, RecordStore, StoredRecord } from './records.js';
export type { CheckpointKey, CheckpointStore } from './checkpoints.js';
export type { ClaimedDryRun, DryRunStore, NewDryRun } from './dry-runs.js';
export type { LockKey, LockStore } from './locks.js';
export type { DueSync, Schedule, ScheduleFilter, ScheduleKey, ScheduleStore } from './schedules.js';
export type { LeasedWebhookDelivery, NewWebhookDelivery, RunFacts, WebhookKind, WebhookStore } from './webhooks.js';
export { createNotifications, createRelayedNotifications } from './notifications.js';
export type { ListeningNotifications, Notifications, RelayedNotifications } from './notifications.js';
