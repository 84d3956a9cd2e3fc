import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { spawnPatchbay, waitForExit } from '../harness/process.js';

const GREET = `
import { createAction } from 'patchbay';
import * as z from 'zod';
export default createAction({
  description: 'Greets',
  input: z.object({ name: z.string() }),
  output: z.object({ greeting: z.string() }),
  exec: async (_nango, input) => ({ greeting: \`hello \${input.name}\` }),
});`;

describe('deploy: patchbay deploy and deploy at start', () => {
  let patchbay: TestPatchbay;
  let functions: FunctionsFolder;
  const deploy = async () => {
    const child = spawnPatchbay('deploy', { PATCHBAY_URL: patchbay.url, PATCHBAY_SECRET_KEY: patchbay.secretKey, PATCHBAY_FUNCTIONS_DIR: functions.dir });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const { code, stderr } = await waitForExit(child);
    return { code, stdout, stderr };
  };
  const deployed = async () => (await patchbay.request('GET', '/functions')).json.functions.map((f: { integration_key: string; name: string; hash: string }) => `${f.integration_key}/${f.name}@${f.hash.slice(0, 8)}`);

  beforeAll(async () => {
    functions = await writeFunctions({ 'github/actions/greet.ts': GREET });
    patchbay = await startPatchbay({ label: 'deploy' });
    expect((await patchbay.request('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
    const res = await patchbay.request('POST', '/connections', {
      body: { provider_config_key: 'github', connection_id: 'gh-1', credentials: { type: 'OAUTH2', access_token: 't' } },
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await patchbay?.stop();
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

  it('refuses a type error with file and line and deploys nothing', async () => {
    const before = await deployed();
    await functions.write('github/actions/greet.ts', GREET.replace('`hello ${input.name}`', 'input.name.length'));
    await functions.write('github/actions/other.ts', GREET);
    const { code, stderr } = await deploy();
    expect(code).toBe(1);
    expect(stderr).toMatch(/github\/actions\/greet\.ts:\d+:\d+ .*number.*string/);
    expect(await deployed()).toEqual(before);
  });

  it('refuses a syntax error with file and line', async () => {
    await functions.write('github/actions/greet.ts', GREET.replace('exec: async', 'exec: async async'));
    const { code, stderr } = await deploy();
    expect(code).toBe(1);
    expect(stderr).toMatch(/github\/actions\/greet\.ts:\d+:\d+ /);
  });

  it('`patchbay start` stops with the build errors and serves nothing', async () => {
    const child = spawnPatchbay('start', { ...patchbay.env, PORT: '0', PATCHBAY_FUNCTIONS_DIR: functions.dir });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const { code, stderr } = await waitForExit(child);
    expect(code).toBe(1);
    expect(stderr).toContain('nothing was deployed');
    expect(stderr).toMatch(/github\/actions\/greet\.ts:\d+:\d+ /);
    expect(stdout).not.toContain('running at');
  });

  it('a deploy replaces the whole set: a removed function is gone', async () => {
    await functions.write('github/actions/greet.ts', GREET);
    await functions.remove();
    functions = await writeFunctions({ 'github/actions/other.ts': GREET });
    const { code, stdout } = await deploy();
    expect(code).toBe(0);
    expect(stdout).toContain('removed   github/actions/greet');
    const res = await patchbay.request('POST', '/action/trigger', {
      headers: { 'provider-config-key': 'github', 'connection-id': 'gh-1' },
      body: { action_name: 'greet', input: { name: 'Ada' } },
    });
    expect([res.status, res.json.error.code]).toEqual([404, 'not_found']);
  });
});
