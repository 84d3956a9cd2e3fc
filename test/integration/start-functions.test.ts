// `patchbay start` and its functions folder across restarts: an unchanged folder is not built
// again (the build cache in the data directory), a changed one is; `patchbay deploy` from the same
// folder finds the server's port in the data directory (issue 18).
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../harness/database.js';
import { spawnPatchbay, waitForExit, waitForStart } from '../harness/process.js';

const action = (answer: string) => `import { createAction } from 'patchbay';
export default createAction({ description: 'answers', exec: async () => ({ answer: ${JSON.stringify(answer)} }) });
`;

type Started = { url: string; secretKey: string };

/** Makes the github integration and a connection (again, harmlessly, on a later start), then triggers each action: their outputs. */
async function triggerActions(started: Started, names: string[]): Promise<unknown[]> {
  const call = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${started.url}${url}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${started.secretKey}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return (await res.json()) as unknown;
  };
  await call('/integrations', { provider: 'github', unique_key: 'github' });
  await call('/connections', { provider_config_key: 'github', connection_id: 'gh-1', credentials: { type: 'OAUTH2', access_token: 't' } });
  const outputs: unknown[] = [];
  for (const name of names) outputs.push(await call('/action/trigger', { action_name: name, input: {} }, { 'provider-config-key': 'github', 'connection-id': 'gh-1' }));
  return outputs;
}

describe('patchbay start with a functions folder', () => {
  let parent: string;
  let env: Record<string, string>;
  let functionsDir: string;
  beforeAll(async () => {
    parent = await mkdtemp(path.join(os.tmpdir(), 'patchbay-start-functions-'));
    await chmod(parent, 0o755); // the embedded PostgreSQL runs as user 'postgres' when we are root
    functionsDir = path.join(parent, 'functions');
    await mkdir(path.join(functionsDir, 'github', 'actions'), { recursive: true });
    await writeFile(path.join(functionsDir, 'github', 'actions', 'answer.ts'), action('first'));
    // Saved a minute before the first start, as files usually are: a file modified while (or just
    // before) a build runs does not go into the bundle cache.
    const other = path.join(functionsDir, 'github', 'actions', 'other.ts');
    await writeFile(other, action('other'));
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(other, minuteAgo, minuteAgo);
    env = { PATCHBAY_DATA_DIR: path.join(parent, '.data'), PATCHBAY_FUNCTIONS_DIR: functionsDir, HOST: '127.0.0.1', LOG_LEVEL: 'info' };
  });
  afterAll(() => rm(parent, { recursive: true, force: true }));

  /** A project of its own: its functions folder (with github/actions/, `dir`), its data directory and the environment of a start. */
  const project = async (prefix: string) => {
    const own = await mkdtemp(path.join(parent, prefix));
    await chmod(own, 0o755); // see beforeAll
    const dir = path.join(own, 'functions', 'github', 'actions');
    await mkdir(dir, { recursive: true });
    const dataDir = path.join(own, '.data');
    return { own, dir, dataDir, ownEnv: { ...env, PATCHBAY_DATA_DIR: dataDir, PATCHBAY_FUNCTIONS_DIR: path.join(own, 'functions'), PORT: '0' } };
  };

  it('builds an unchanged folder once, and of a changed one bundles again only what changed', async () => {
    const first = await waitForStart(spawnPatchbay('start', { ...env, PORT: '0' }));
    expect(first.stdout).toContain('deployed 2 functions');
    expect(await first.stop()).toBe(0);
    const cacheFile = path.join(env.PATCHBAY_DATA_DIR as string, 'functions-build.json');
    const cached = await readFile(cacheFile, 'utf8');
    expect(existsSync(path.join(env.PATCHBAY_DATA_DIR as string, 'functions-definitions.json'))).toBe(true);

    const second = await waitForStart(spawnPatchbay('start', { ...env, PORT: '0' }));
    expect(second.stdout).toContain('functions unchanged since the last start: nothing to build');
    expect(second.stdout).not.toContain('deployed 2 functions');
    expect(await second.stop()).toBe(0);
    expect(await readFile(cacheFile, 'utf8')).toBe(cached);

    const answer = path.join(functionsDir, 'github', 'actions', 'answer.ts');
    await writeFile(answer, action('second'));
    // Dated before the start, so that its new bundle is kept (for the next test's deploy).
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(answer, minuteAgo, minuteAgo);
    const third = await waitForStart(spawnPatchbay('start', { ...env, PORT: '0' }));
    expect(third.stdout).toContain('deployed 2 functions');
    expect(third.stdout).toMatch(/"updated":\["github\/actions\/answer"\]/);
    // The unchanged function's bundle came from the data directory's bundle cache.
    expect(third.stdout).toMatch(/"bundled":\["github\/actions\/answer.ts"\]/);
    // How long the build took is said, for whoever wonders why this start was slower.
    expect(third.stdout).toMatch(/"buildMs":\d+/);
    expect(await third.stop()).toBe(0);
    expect(await readFile(cacheFile, 'utf8')).not.toBe(cached);
  }, 180_000);

  it('lets `patchbay deploy` find the server started on another port than 3003, then forgets it at stop', async () => {
    const server = await waitForStart(spawnPatchbay('start', { ...env, PORT: '0' }));
    const serverFile = path.join(env.PATCHBAY_DATA_DIR as string, 'server.json');
    expect(JSON.parse(await readFile(serverFile, 'utf8'))).toMatchObject({ url: server.url });
    // No PORT and no PATCHBAY_URL: only the data directory says where the server is.
    const deploy = spawnPatchbay('deploy', { PATCHBAY_DATA_DIR: env.PATCHBAY_DATA_DIR as string, PATCHBAY_FUNCTIONS_DIR: functionsDir });
    let stdout = '';
    deploy.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const { code, stderr } = await waitForExit(deploy);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`deployed 2 functions to ${server.url}`);
    // Unchanged since the start's build: bundles (and definitions) from the data directory's caches.
    expect(stdout).toContain("(2 unchanged since the last build: bundles from the data directory's cache)");
    expect(await server.stop()).toBe(0);
    expect(existsSync(serverFile)).toBe(false);
  }, 180_000);

  it('after an edit reads no code of the unchanged bundles the database holds, and makes again one it lacks whose cached code is damaged', async () => {
    const { dataDir, dir, ownEnv } = await project('unread-');
    const write = async (name: string, answer: string) => {
      await writeFile(path.join(dir, name), action(answer));
      const minuteAgo = new Date(Date.now() - 60_000);
      await utimes(path.join(dir, name), minuteAgo, minuteAgo);
    };
    await write('answer.ts', 'first');
    await write('other.ts', 'other');
    const answers = (started: Started) => triggerActions(started, ['answer', 'other']);
    const first = await waitForStart(spawnPatchbay('start', ownEnv));
    expect(await first.stop()).toBe(0);

    // Every cached bundle damaged: a start that read one would make it again (`bundled`).
    const bundles = path.join(dataDir, 'functions-bundles');
    for (const name of await readdir(bundles)) if (name.endsWith('.js')) await writeFile(path.join(bundles, name), 'globalThis.tampered = true;');
    await write('answer.ts', 'second');
    const second = await waitForStart(spawnPatchbay('start', ownEnv));
    expect(second.stdout).toMatch(/"updated":\["github\/actions\/answer"\]/);
    expect(second.stdout).toMatch(/"bundled":\["github\/actions\/answer.ts"\]/);
    expect(await answers(second)).toEqual([{ answer: 'second' }, { answer: 'other' }]);
    expect(await second.stop()).toBe(0);

    // A database made afresh beside the caches lacks other.ts's bundle: it is made again.
    await rm(path.join(dataDir, 'postgres'), { recursive: true, force: true });
    await write('answer.ts', 'third');
    const third = await waitForStart(spawnPatchbay('start', ownEnv));
    expect(third.stdout).toContain('deployed 2 functions');
    expect(await answers(third)).toEqual([{ answer: 'third' }, { answer: 'other' }]);
    expect(await third.stop()).toBe(0);
  }, 240_000);

  it('builds again a folder whose function imports a file beside the folder that changed', async () => {
    const { own, dir, ownEnv } = await project('beside-');
    const greeting = path.join(own, 'shared', 'greeting.ts');
    await mkdir(path.dirname(greeting), { recursive: true });
    await writeFile(greeting, "export const greeting = 'hello';\n");
    await writeFile(
      path.join(dir, 'greet.ts'),
      `import { createAction } from 'patchbay';
import { greeting } from '../../../shared/greeting';
export default createAction({ description: 'greets', exec: async () => ({ answer: greeting }) });
`,
    );
    // Saved a minute before the first start: a file saved while (or just before) a build runs is
    // taken as changed, and the next start builds again.
    const minuteAgo = new Date(Date.now() - 60_000);
    for (const file of [greeting, path.join(dir, 'greet.ts')]) await utimes(file, minuteAgo, minuteAgo);
    const first = await waitForStart(spawnPatchbay('start', ownEnv));
    expect(first.stdout).toContain('deployed 1 functions');
    expect(await first.stop()).toBe(0);
    const second = await waitForStart(spawnPatchbay('start', ownEnv));
    expect(second.stdout).toContain('functions unchanged since the last start: nothing to build');
    expect(await second.stop()).toBe(0);

    await writeFile(greeting, "export const greeting = 'good morning';\n");
    const third = await waitForStart(spawnPatchbay('start', ownEnv));
    expect(third.stdout).not.toContain('nothing to build');
    expect(third.stdout).toMatch(/"updated":\["github\/actions\/greet"\]/);
    expect(await triggerActions(third, ['greet'])).toEqual([{ answer: 'good morning' }]);
    expect(await third.stop()).toBe(0);
  }, 240_000);

  it('with DATABASE_URL and both keys from the environment, builds and deploys without making a data directory', async () => {
    const database = await createTestDatabase('start-functions-no-data-dir');
    try {
      const dataDir = path.join(parent, 'never-made');
      const started = await waitForStart(
        spawnPatchbay('start', {
          ...env,
          PORT: '0',
          PATCHBAY_DATA_DIR: dataDir,
          DATABASE_URL: database.url,
          PATCHBAY_SECRET_KEY: randomUUID(),
          PATCHBAY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        }),
      );
      expect(started.stdout).toContain('deployed 2 functions');
      expect(await started.stop()).toBe(0);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      await database.release();
    }
  }, 180_000);
});
