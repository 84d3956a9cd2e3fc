import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIssueAction, writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { spawnPatchbay, waitForExit, waitForStart } from '../harness/process.js';
import { startUpstream, type Upstream } from '../harness/upstream.js';

const GREET = `
import { createAction } from 'patchbay';
import * as z from 'zod';
export default createAction({
  description: 'Greets',
  input: z.object({ name: z.string() }),
  output: z.object({ greeting: z.string() }),
  exec: async (_nango, input) => ({ greeting: \`hello \${input.name}\` }),
});`;

// Functions written for Nango, unchanged: the sdk imported as 'nango' or '@nangohq/runner-sdk'.
const NANGO_CREATE_ISSUE = createIssueAction('nango');

const RUNNER_SDK_ISSUE = `
import { createAction } from '@nangohq/runner-sdk';
import * as z from 'zod';
export default createAction({
  description: 'Read an issue',
  input: z.object({ repo: z.string(), number: z.number() }),
  output: z.object({ title: z.string() }),
  exec: async (nango, input) => {
    const res = await nango.get({ endpoint: \`/repos/\${input.repo}/issues/\${input.number}\` });
    return { title: res.data.title };
  },
});`;

describe('deploy: patchbay deploy and deploy at start', () => {
  let patchbay: TestPatchbay;
  let upstream: Upstream;
  let functions: FunctionsFolder;
  const deploy = async (...args: string[]) => {
    const child = spawnPatchbay('deploy', { PATCHBAY_URL: patchbay.url, PATCHBAY_SECRET_KEY: patchbay.secretKey, PATCHBAY_FUNCTIONS_DIR: functions.dir }, args);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const { code, stderr } = await waitForExit(child);
    return { code, stdout, stderr };
  };
  const trigger = (action: string, input: unknown) =>
    patchbay.request('POST', '/action/trigger', { headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' }, body: { action_name: action, input } });
  const deployed = async () => (await patchbay.request('GET', '/functions')).json.functions.map((f: { integration_key: string; name: string; hash: string }) => `${f.integration_key}/${f.name}@${f.hash.slice(0, 8)}`);

  beforeAll(async () => {
    functions = await writeFunctions({ 'github/actions/greet.ts': GREET });
    upstream = await startUpstream();
    patchbay = await startPatchbay({ label: 'deploy', providers: { github: { proxy: { base_url: upstream.url } } } });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
    const res = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'github', connection_id: 'gh-1', credentials: { type: 'OAUTH2', access_token: 't' } },
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await patchbay?.stop();
    await upstream?.close();
    await functions?.remove();
  });

  it('uploads the functions to a running server, which runs them at once', async () => {
    const { code, stdout, stderr } = await deploy();
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('added     github/actions/greet');
    const res = await patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' },
      body: { action_name: 'greet', input: { name: 'Ada' } },
    });
    expect(res.json).toEqual({ greeting: 'hello Ada' });
    const again = await deploy();
    expect(again.stdout).toContain('unchanged github/actions/greet');
  });

  it("deploys functions written for Nango, importing 'nango' and '@nangohq/runner-sdk' with zod schemas, and runs them against the provider", async () => {
    await functions.write('github/actions/create-issue.ts', NANGO_CREATE_ISSUE);
    await functions.write('github/actions/read-issue.ts', RUNNER_SDK_ISSUE);
    const { code, stdout, stderr } = await deploy();
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('added     github/actions/create-issue');
    expect(stdout).toContain('added     github/actions/read-issue');
    upstream.script(
      (_req, res, received) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ number: 17, html_url: `https://github.com${received.path}/17` }));
      },
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ title: 'Broken build' }));
      },
    );
    expect((await trigger('create-issue', { repo: 'acme/app', title: 'Broken build' })).json).toEqual({ number: 17, url: 'https://github.com/repos/acme/app/issues/17' });
    expect(upstream.requests.at(-1)?.headers.authorization).toBe('Bearer t');
    expect((await trigger('read-issue', { repo: 'acme/app', number: 17 })).json).toEqual({ title: 'Broken build' });
    expect(upstream.requests.at(-1)?.path).toBe('/repos/acme/app/issues/17');
    // zod validates the input inside the sandbox, as with 'patchbay'.
    expect((await trigger('read-issue', { repo: 'acme/app' })).json.error.code).toBe('invalid_action_input');
  });

  it('deploys the functions that build, reports the others with file and line, and keeps their deployed version serving', async () => {
    const before = await deployed();
    const greetBefore = before.find((label: string) => label.startsWith('github/greet@'));
    await functions.write('github/actions/greet.ts', GREET.replace('`hello ${input.name}`', 'input.name.length'));
    await functions.write('github/actions/syntax.ts', GREET.replace('exec: async', 'exec: async async'));
    await functions.write('github/actions/unresolved.ts', `import pad from 'left-pad-not-installed';\nconsole.log(pad);\n${GREET}`);
    await functions.write('github/actions/other.ts', GREET);
    const { code, stdout, stderr } = await deploy();
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('added     github/actions/other');
    expect(stdout).toContain('failed    github/actions/greet');
    expect(stdout).toMatch(/github\/actions\/greet\.ts:\d+:\d+ .*number.*string/);
    // Still in the folder, only broken: not removed.
    expect(stdout).not.toContain('removed');

    const list = (await patchbay.request('GET', '/functions')).json;
    const greet = list.functions.find((f: { name: string }) => f.name === 'greet');
    expect(`github/greet@${greet.hash.slice(0, 8)}`).toBe(greetBefore);
    expect(greet.error).toEqual({ file: 'github/actions/greet.ts', line: 8, column: expect.any(Number), message: expect.stringMatching(/number.*string/) });
    expect(list.functions.map((f: { name: string }) => f.name)).toEqual(['create-issue', 'greet', 'other', 'read-issue']);
    expect(list.functions.find((f: { name: string }) => f.name === 'other').error).toBeUndefined();
    expect(list.errors.map((e: { source_path: string; file: string; line: number }) => [e.source_path, e.file, e.line])).toEqual([
      ['github/actions/greet.ts', 'github/actions/greet.ts', 8],
      ['github/actions/syntax.ts', 'github/actions/syntax.ts', 8],
      ['github/actions/unresolved.ts', 'github/actions/unresolved.ts', 1],
    ]);
    expect(list.errors[2].message).toContain('Could not resolve "left-pad-not-installed"');

    expect((await trigger('greet', { name: 'Ada' })).json).toEqual({ greeting: 'hello Ada' });
    expect((await trigger('other', { name: 'Bo' })).json).toEqual({ greeting: 'hello Bo' });
    expect((await trigger('syntax', { name: 'Bo' })).status).toBe(404);
  });

  it('--strict refuses the whole folder with file and line and deploys nothing', async () => {
    const before = await deployed();
    await functions.write('github/actions/other.ts', GREET.replace('hello', 'hi'));
    const { code, stderr } = await deploy('--strict');
    expect(code).toBe(1);
    expect(stderr).toMatch(/github\/actions\/greet\.ts:\d+:\d+ .*number.*string/);
    expect(stderr).toMatch(/github\/actions\/syntax\.ts:\d+:\d+ /);
    expect(await deployed()).toEqual(before);
    expect((await trigger('other', { name: 'Bo' })).json).toEqual({ greeting: 'hello Bo' });
  });

  it('`patchbay start` serves the functions that build and logs the others with file and line', async () => {
    const started = await waitForStart(
      spawnPatchbay('start', { ...patchbay.env, PORT: '0', PATCHBAY_FUNCTIONS_DIR: functions.dir, LOG_LEVEL: 'info' }),
    );
    try {
      expect(started.stdout).toMatch(/github\/actions\/greet\.ts:\d+:\d+ .*number.*string/);
      const res = await fetch(`${started.url}/action/trigger`, {
        method: 'POST',
        headers: { authorization: `Bearer ${started.secretKey}`, 'content-type': 'application/json', 'provider-config-key': 'github', 'connection-id': 'gh-1' },
        body: JSON.stringify({ action_name: 'other', input: { name: 'Cy' } }),
      });
      // The start deployed the changed other.ts; greet's last good version still serves.
      expect(await res.json()).toEqual({ greeting: 'hi Cy' });
      expect((await trigger('greet', { name: 'Ada' })).json).toEqual({ greeting: 'hello Ada' });
    } finally {
      await started.stop();
    }
  });

  it('a deploy replaces the whole set: a removed function is gone', async () => {
    await functions.write('github/actions/greet.ts', GREET);
    await functions.remove();
    functions = await writeFunctions({ 'github/actions/other.ts': GREET });
    const { code, stdout } = await deploy();
    expect(code).toBe(0);
    expect(stdout).toContain('removed   github/actions/greet');
    expect((await patchbay.request('GET', '/functions')).json.errors).toEqual([]);
    const res = await patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' },
      body: { action_name: 'greet', input: { name: 'Ada' } },
    });
    expect([res.status, res.json.error.code]).toEqual([404, 'not_found']);
  });
});
