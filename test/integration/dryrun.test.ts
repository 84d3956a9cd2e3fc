import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFunction } from '../../testing/index.js';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { spawnPatchbay, waitForExit } from '../harness/process.js';
import { reply, startUpstream, type Upstream } from '../harness/upstream.js';

const FUNCTIONS = {
  'github/actions/get-issue.ts': `
    import { createAction } from 'patchbay';
    import { z } from 'zod';
    export default createAction({
      description: 'Reads one issue',
      input: z.object({ repo: z.string(), number: z.number() }),
      exec: async (nango, input) => {
        console.log('reading issue', { number: input.number });
        const res = await nango.get({ endpoint: \`/repos/\${input.repo}/issues/\${input.number}\`, params: { state: 'all' } });
        const metadata = await nango.getMetadata();
        await nango.updateMetadata({ lastIssue: input.number });
        return { number: res.data.number, title: res.data.title, team: metadata?.team ?? null };
      },
    });`,
  'github/actions/crash.ts': `import { createAction } from 'patchbay';

function countItems(data: any): number {
  return data.items.length;
}

export default createAction({
  description: 'Reads a field that is not there',
  exec: async (nango) => {
    const res = await nango.get({ endpoint: '/empty' });
    return { count: countItems(res.data) };
  },
});
`,
  'github/syncs/issues.ts': `
    import { createSync } from 'patchbay';
    import { z } from 'zod';
    export default createSync({
      description: 'Issues',
      frequency: 'every hour',
      models: { GithubIssue: z.object({ id: z.string(), title: z.string() }) },
      checkpoint: z.object({ page: z.number() }),
      exec: async (nango) => {
        const since = await nango.getCheckpoint();
        const res = await nango.get({ endpoint: '/repos/acme/app/issues' });
        await nango.batchSave(res.data.map((i: { id: number; title: string }) => ({ id: String(i.id), title: i.title })), 'GithubIssue');
        await nango.batchDelete([{ id: '99' }], 'GithubIssue');
        await nango.saveCheckpoint({ page: (since?.page ?? 0) + 1 });
      },
    });`,
};

const ISSUES = [
  { id: 1, title: 'Bug' },
  { id: 2, title: 'Feature' },
  { id: 3, title: 'Docs' },
];

describe('dryrun: patchbay dryrun and patchbay/testing', () => {
  let patchbay: TestPatchbay;
  let upstream: Upstream;
  let functions: FunctionsFolder;
  let mocks: string;

  const dryrun = async (...args: string[]) => {
    const child = spawnPatchbay('dryrun', { PATCHBAY_URL: patchbay.url, PATCHBAY_SECRET_KEY: patchbay.secretKey, PATCHBAY_FUNCTIONS_DIR: functions.dir }, args);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const { code, stderr } = await waitForExit(child);
    return { code, stdout, stderr };
  };
  const countRows = async (table: string) => {
    const client = new pg.Client({ connectionString: patchbay.database.url });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    functions = await writeFunctions(FUNCTIONS);
    mocks = await mkdtemp(path.join(os.tmpdir(), 'patchbay-mocks-'));
    // The runner looks for dry runs once an hour: only the request's notification wakes it.
    patchbay = await startPatchbay({ label: 'dryrun', providers: { github: { proxy: { base_url: upstream.url } } }, runnerTuning: { pollMs: 3_600_000 } });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
    const res = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'github', connection_id: 'gh-1', credentials: { type: 'OAUTH2', access_token: 'secret-token-1' }, metadata: { team: 'core' } },
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
    if (mocks !== undefined) await rm(mocks, { recursive: true, force: true });
  });

  it('runs an action once: prints the proxy call, the logs and the output, deploys and stores nothing', async () => {
    upstream.script(reply(200, { number: 7, title: 'Broken build', html_url: 'https://example.test/7' }));
    const { code, stdout, stderr } = await dryrun('github', 'get-issue', 'gh-1', '--input', '{"repo":"acme/app","number":7}');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/GET \/repos\/acme\/app\/issues\/7\?state=all → 200 {2}\d+ ms {2}1 attempt/);
    expect(stdout).toContain('[info] reading issue {"number":7}');
    expect(stdout).toContain('"title": "Broken build"');
    expect(stdout).toContain('metadata (not stored): {"team":"core","lastIssue":7}');
    expect(stdout).not.toContain('secret-token-1');
    // The call reached the provider with the connection's credentials.
    expect(upstream.requests.at(-1)?.headers.authorization).toBe('Bearer secret-token-1');

    expect((await patchbay.request('GET', '/functions')).json.functions).toEqual([]);
    const connection = await patchbay.request('GET', '/connections/gh-1?provider_config_key=github');
    expect(connection.json.metadata).toEqual({ team: 'core' });
    const trigger = await patchbay.request('POST', '/action/trigger', { headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' }, body: { action_name: 'get-issue' } });
    expect(trigger.status).toBe(404);
    expect(await countRows('function_runs')).toBe(0);
    expect(await countRows('dry_runs')).toBe(0);
    // Audited: one log operation (action "dryrun") with the real proxy call as its child.
    const logs = await patchbay.request('GET', '/logs?type=action');
    expect(logs.json.data.map((op: { action: string }) => op.action)).toEqual(['dryrun']);
  });

  it('uses --metadata instead of the connection metadata for this run only', async () => {
    upstream.script(reply(200, { number: 8, title: 'Other' }));
    const { code, stdout } = await dryrun('github', 'get-issue', 'gh-1', '--input', '{"repo":"acme/app","number":8}', '--metadata', '{"team":"platform"}', '--json');
    expect(code).toBe(0);
    const answer = JSON.parse(stdout);
    expect(answer.output).toEqual({ number: 8, title: 'Other', team: 'platform' });
    expect((await patchbay.request('GET', '/connections/gh-1?provider_config_key=github')).json.metadata).toEqual({ team: 'core' });
  });

  it('runs a sync once: counts per model and a sample of records, and /records stays empty', async () => {
    upstream.script(reply(200, ISSUES));
    const { code, stdout } = await dryrun('github', 'issues', 'gh-1', '--checkpoint', '{"page":4}');
    expect(code).toBe(0);
    expect(stdout).toContain('GithubIssue: 3 saved, 0 updated, 1 deleted');
    expect(stdout).toContain('saved {"id":"1","title":"Bug"}');
    expect(stdout).toContain('checkpoint (not stored): {"page":5}');
    const records = await patchbay.request('GET', '/records?model=GithubIssue', { headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' } });
    expect(records.status).toBe(200);
    expect(records.json.records).toEqual([]);
    expect(await countRows('records')).toBe(0);
    expect(await countRows('sync_checkpoints')).toBe(0);
  });

  it('exits 1 on a runtime error, pointing at the function file and line, not the bundle', async () => {
    upstream.script(reply(200, { total: 0 }));
    const { code, stdout } = await dryrun('github', 'crash', 'gh-1');
    expect(code).toBe(1);
    expect(stdout).toContain("failed: script_internal_error: Cannot read properties of undefined (reading 'length')");
    expect(stdout).toMatch(/at github\/actions\/crash\.ts:4:\d+/);
    expect(stdout).not.toContain('function.js');
  });

  it('exits 2 on a usage error and names what is wrong', async () => {
    expect(await dryrun('github', 'get-issue')).toMatchObject({ code: 2, stderr: expect.stringContaining('expected <integration> <function> <connection-id>') });
    expect(await dryrun('github', 'nope', 'gh-1')).toMatchObject({ code: 2, stderr: expect.stringContaining('no github/{actions,syncs}/nope.ts') });
    expect(await dryrun('github', 'get-issue', 'gh-1', '--input', '{oops')).toMatchObject({ code: 2, stderr: expect.stringContaining('--input is not JSON') });
  });

  it('refuses an unknown connection with 404 unknown_connection and exit 1', async () => {
    const { code, stderr } = await dryrun('github', 'get-issue', 'nobody', '--input', '{"repo":"a/b","number":1}');
    expect(code).toBe(1);
    expect(stderr).toContain('404 unknown_connection');
  });

  it('answers invalid_body for a request without a bundle', async () => {
    const res = await patchbay.request('POST', '/functions/dryrun', { body: { integration_key: 'github', kind: 'action', name: 'x', source_path: 'x.ts', connection_id: 'gh-1' } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_body');
  });

  it('--save-responses writes the answers; patchbay/testing replays them offline with the same output', async () => {
    upstream.script(reply(200, { number: 12, title: 'Saved' }));
    const recorded = await dryrun('github', 'get-issue', 'gh-1', '--input', '{"repo":"acme/app","number":12}', '--save-responses', mocks, '--json');
    expect(recorded.code).toBe(0);
    const files = (await readdir(mocks)).sort();
    expect(files).toEqual(['connection.json', expect.stringMatching(/^get-repos-acme-app-issues-12\.[0-9a-f]{8}\.json$/)]);
    const exchange = JSON.parse(await readFile(path.join(mocks, files[1] as string), 'utf8'));
    expect(exchange.request).toEqual({ method: 'GET', endpoint: '/repos/acme/app/issues/12?state=all', body_sha256: null });
    expect(exchange.responses[0]).toMatchObject({ status: 200, data: { number: 12, title: 'Saved' } });
    expect(JSON.stringify(exchange)).not.toContain('secret-token-1');

    await upstream.close();
    const before = upstream.requests.length;
    const replayed = await runFunction({ file: path.join(functions.dir, 'github/actions/get-issue.ts'), input: { repo: 'acme/app', number: 12 }, responses: mocks });
    expect(replayed.ok).toBe(true);
    expect(replayed.output).toEqual(JSON.parse(recorded.stdout).output);
    expect(replayed.calls).toEqual([{ method: 'GET', endpoint: '/repos/acme/app/issues/12?state=all', status: 200 }]);
    expect(replayed.metadata).toEqual({ value: { team: 'core', lastIssue: 12 } });
    expect(upstream.requests.length).toBe(before);
  });

  it('patchbay/testing fails clearly when a request has no saved answer', async () => {
    const result = await runFunction({ file: path.join(functions.dir, 'github/actions/get-issue.ts'), input: { repo: 'acme/app', number: 13 }, responses: mocks });
    expect(result.ok).toBe(false);
    expect(result.missingResponses).toEqual(['GET /repos/acme/app/issues/13?state=all']);
    expect(result.error?.message).toContain(`No saved response for GET /repos/acme/app/issues/13?state=all in ${mocks}`);
  });

  it('patchbay/testing maps a runtime error to the file and line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-mocks-'));
    const exchange = { request: { method: 'GET', endpoint: '/empty', body_sha256: null }, responses: [{ status: 200, headers: { 'content-type': 'application/json' }, data: { total: 0 } }] };
    await writeFile(path.join(dir, 'get-empty.json'), JSON.stringify(exchange));
    try {
      const result = await runFunction({ file: path.join(functions.dir, 'github/actions/crash.ts'), responses: dir });
      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe('script_internal_error');
      expect(result.error?.location).toMatchObject({ file: 'github/actions/crash.ts', line: 4 });
      expect((result.error?.payload as { stacktrace: string }).stacktrace).toMatch(/github\/actions\/crash\.ts:11:\d+/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
