import { describe, expect, it } from 'vitest';
import { buildAsyncActionWebhook, buildSyncWebhooks, type FinishedSync } from '../../../../server/webhooks/payloads.js';

const sync = (overrides: Partial<FinishedSync> = {}): FinishedSync => ({
  providerConfigKey: 'github',
  connectionId: 'gh-1',
  syncName: 'issues',
  variant: 'base',
  state: 'succeeded',
  changes: {},
  declaredModels: ['GithubIssue', 'GithubLabel'],
  error: null,
  startedAt: new Date('2025-01-01T10:00:00.000Z'),
  finishedAt: new Date('2025-01-01T10:00:05.000Z'),
  syncType: 'INCREMENTAL',
  ...overrides,
});

describe('buildSyncWebhooks', () => {
  it("sends one body per changed model in Nango's shape", () => {
    const bodies = buildSyncWebhooks(sync({ changes: { GithubIssue: { added: 3, updated: 1, deleted: 0 }, GithubLabel: { added: 0, updated: 0, deleted: 2 } } }));
    expect(bodies).toEqual([
      {
        from: 'nango',
        type: 'sync',
        connectionId: 'gh-1',
        providerConfigKey: 'github',
        syncName: 'issues',
        syncVariant: 'base',
        model: 'GithubIssue',
        syncType: 'INCREMENTAL',
        startedAt: '2025-01-01T10:00:00.000Z',
        success: true,
        responseResults: { added: 3, updated: 1, deleted: 0 },
        modifiedAfter: '2025-01-01T10:00:00.000Z',
        queryTimeStamp: '2025-01-01T10:00:00.000Z',
      },
      expect.objectContaining({ model: 'GithubLabel', success: true, responseResults: { added: 0, updated: 0, deleted: 2 } }),
    ]);
  });

  it('sends nothing for a successful run that changed nothing', () => {
    expect(buildSyncWebhooks(sync({ changes: { GithubIssue: { added: 0, updated: 0, deleted: 0 } } }))).toEqual([]);
  });

  it("has no queryTimeStamp on a sync's first run, as Nango", () => {
    const [body] = buildSyncWebhooks(sync({ syncType: 'INITIAL', changes: { GithubIssue: { added: 1, updated: 0, deleted: 0 } } }));
    expect(body).toMatchObject({ syncType: 'INITIAL', queryTimeStamp: null, modifiedAfter: '2025-01-01T10:00:00.000Z' });
  });

  it('sends one failure naming the declared models when a failed run changed nothing', () => {
    const bodies = buildSyncWebhooks(sync({ state: 'failed', error: { code: 'script_http_error', message: 'GET /issues answered 401' } }));
    expect(bodies).toEqual([
      {
        from: 'nango',
        type: 'sync',
        connectionId: 'gh-1',
        providerConfigKey: 'github',
        syncName: 'issues',
        syncVariant: 'base',
        syncType: 'INCREMENTAL',
        startedAt: '2025-01-01T10:00:00.000Z',
        success: false,
        error: { type: 'script_http_error', description: 'GET /issues answered 401' },
        failedAt: '2025-01-01T10:00:05.000Z',
        model: 'GithubIssue,GithubLabel',
      },
    ]);
  });

  it('says an interrupted run is no success, per changed model, with what it saved (nango#7159)', () => {
    const bodies = buildSyncWebhooks(
      sync({ state: 'interrupted', error: { code: 'execution_timeout', message: 'The run took too long.' }, changes: { GithubIssue: { added: 40, updated: 0, deleted: 0 } } }),
    );
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toMatchObject({
      model: 'GithubIssue',
      success: false,
      error: { type: 'interrupted', description: expect.stringContaining('execution_timeout') },
      responseResults: { added: 40, updated: 0, deleted: 0 },
      modifiedAfter: '2025-01-01T10:00:00.000Z',
      failedAt: '2025-01-01T10:00:05.000Z',
    });
  });

  it('falls back to the sync name when a failed sync declares no models', () => {
    const [body] = buildSyncWebhooks(sync({ state: 'failed', declaredModels: [], error: { code: 'x', message: 'y' } }));
    expect(body?.model).toBe('issues');
  });
});

describe('buildAsyncActionWebhook', () => {
  it("is Nango's async_action body with the result's id and status URL", () => {
    expect(buildAsyncActionWebhook({ providerConfigKey: 'github', connectionId: 'gh-1', runId: '5c0d6a3e-0000-4000-8000-000000000001' })).toEqual({
      from: 'nango',
      type: 'async_action',
      connectionId: 'gh-1',
      providerConfigKey: 'github',
      payload: { id: '5c0d6a3e-0000-4000-8000-000000000001', statusUrl: '/action/5c0d6a3e-0000-4000-8000-000000000001' },
    });
  });
});
