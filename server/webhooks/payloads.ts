// Builds the bodies Patchbay POSTs to the app: Nango's sync and async-action webhooks
// (@nangohq/types NangoSyncWebhookBody, packages/webhooks/lib/{sync,asyncAction}.ts), plus the
// interrupted case (a sync cut short by its time limit is no success; nango#7159).
// Pure: no I/O, no clock.

export type SyncType = 'INITIAL' | 'INCREMENTAL';

export interface ModelResults {
  added: number;
  updated: number;
  deleted: number;
}

interface SyncWebhookBase {
  from: 'nango';
  type: 'sync';
  connectionId: string;
  providerConfigKey: string;
  syncName: string;
  syncVariant: string;
  model: string;
  syncType: SyncType;
  /** When the run started. */
  startedAt: string;
}

export interface SyncWebhookSuccess extends SyncWebhookBase {
  success: true;
  responseResults: ModelResults;
  /** Pass to `listRecords({modifiedAfter})` to fetch what this run changed. */
  modifiedAfter: string;
  /** Nango's legacy name for `modifiedAfter`; null on a sync's first (INITIAL) run, as there. */
  queryTimeStamp: string | null;
}

export interface SyncWebhookFailure extends SyncWebhookBase {
  success: false;
  /** `type` is the run's error code, or `interrupted` for a run cut short by its limit. */
  error: { type: string; description: string };
  failedAt: string;
  /** Present when the run saved changes to this model before it stopped (they are kept). */
  responseResults?: ModelResults;
  modifiedAfter?: string;
  queryTimeStamp?: string | null;
}

export type SyncWebhookBody = SyncWebhookSuccess | SyncWebhookFailure;

export interface AsyncActionWebhookBody {
  from: 'nango';
  type: 'async_action';
  connectionId: string;
  providerConfigKey: string;
  payload: { id: string; statusUrl: string };
}

export interface FinishedSync {
  providerConfigKey: string;
  connectionId: string;
  syncName: string;
  variant: string;
  state: 'succeeded' | 'interrupted' | 'failed';
  /** Per model, what the run changed (empty for a run that failed before saving anything). */
  changes: Record<string, ModelResults>;
  /** The models the sync declares: a failure with no changes names them (comma-separated, as Nango). */
  declaredModels: string[];
  error: { code: string; message: string } | null;
  startedAt: Date;
  finishedAt: Date;
  syncType: SyncType;
}

/** The code a failure webhook carries for a run cut short by its limit (a Patchbay addition). */
export const INTERRUPTED_ERROR_TYPE = 'interrupted';

const changed = (results: ModelResults) => results.added + results.updated + results.deleted > 0;

/**
 * One webhook per model the run changed; a run that did not succeed always says so, once per
 * changed model or, when it changed nothing, once for the sync. A successful run that changed
 * nothing sends nothing (Nango's default, `on_sync_completion_always: false`).
 */
export function buildSyncWebhooks(sync: FinishedSync): SyncWebhookBody[] {
  const startedAt = sync.startedAt.toISOString();
  const base = {
    from: 'nango' as const,
    type: 'sync' as const,
    connectionId: sync.connectionId,
    providerConfigKey: sync.providerConfigKey,
    syncName: sync.syncName,
    syncVariant: sync.variant,
  };
  const since = { modifiedAfter: startedAt, queryTimeStamp: sync.syncType === 'INITIAL' ? null : startedAt };
  const models = Object.entries(sync.changes).filter(([, results]) => changed(results));
  if (sync.state === 'succeeded') {
    return models.map(([model, results]) => ({
      ...base,
      model,
      syncType: sync.syncType,
      startedAt,
      success: true,
      responseResults: { added: results.added, updated: results.updated, deleted: results.deleted },
      ...since,
    }));
  }
  const error =
    sync.state === 'interrupted'
      ? { type: INTERRUPTED_ERROR_TYPE, description: `The run was cut short (${sync.error?.code ?? 'limit'}): ${sync.error?.message ?? 'it reached its limit.'} What it saved is kept; the next run resumes from its checkpoint.` }
      : { type: sync.error?.code ?? 'sync_failed', description: sync.error?.message ?? 'The sync failed.' };
  const failure = { ...base, syncType: sync.syncType, startedAt, success: false as const, error, failedAt: sync.finishedAt.toISOString() };
  if (models.length === 0) {
    const model = sync.declaredModels.length > 0 ? sync.declaredModels.join(',') : sync.syncName;
    return [{ ...failure, model }];
  }
  return models.map(([model, results]) => ({
    ...failure,
    model,
    responseResults: { added: results.added, updated: results.updated, deleted: results.deleted },
    ...since,
  }));
}

export function buildAsyncActionWebhook(action: { providerConfigKey: string; connectionId: string; runId: string }): AsyncActionWebhookBody {
  return {
    from: 'nango',
    type: 'async_action',
    connectionId: action.connectionId,
    providerConfigKey: action.providerConfigKey,
    payload: { id: action.runId, statusUrl: `/action/${action.runId}` },
  };
}

/** Nango's auth webhook (@nangohq/types NangoAuthWebhookBody): a connection made, re-made or failing to refresh. Never a credential. */
export interface AuthWebhook {
  from: 'nango';
  type: 'auth';
  connectionId: string;
  providerConfigKey: string;
  provider: string;
  authMode: string;
  environment: 'prod';
  operation: 'creation' | 'override' | 'refresh';
  success: boolean;
  tags?: Record<string, string>;
  endUser?: { endUserId: string; organizationId?: string; endUserEmail?: string | null; tags: Record<string, string> };
  error?: { type: string; description: string };
}

export interface AuthFacts {
  connectionId: string;
  providerConfigKey: string;
  provider: string;
  authMode: string;
  operation: AuthWebhook['operation'];
  success: boolean;
  tags: Record<string, string>;
  endUser: { id: string; email?: string | null; tags?: Record<string, string> | null; organization?: { id: string } | null } | null;
  error?: { type: string; description: string } | undefined;
}

export function buildAuthWebhook(facts: AuthFacts): AuthWebhook {
  return {
    from: 'nango',
    type: 'auth',
    connectionId: facts.connectionId,
    providerConfigKey: facts.providerConfigKey,
    provider: facts.provider,
    authMode: facts.authMode,
    environment: 'prod',
    operation: facts.operation,
    success: facts.success,
    ...(Object.keys(facts.tags).length > 0 ? { tags: facts.tags } : {}),
    ...(facts.endUser === null
      ? {}
      : {
          endUser: {
            endUserId: facts.endUser.id,
            ...(facts.endUser.organization ? { organizationId: facts.endUser.organization.id } : {}),
            endUserEmail: facts.endUser.email ?? null,
            tags: facts.endUser.tags ?? {},
          },
        }),
    ...(facts.error === undefined ? {} : { error: facts.error }),
  };
}
