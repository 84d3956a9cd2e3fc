// `npm start` exactly as it runs: scripts/launch.mjs, which runs the bundle of `patchbay start` in
// dist/start/ (scripts/dist.mjs), not the sources the other tests run through tsx. Everything the
// bundle must find beside it is used once: migrations (an empty data dir), the provider catalog,
// the dashboard's and the Connect UI's files, the runner thread's own bundled entry, the sandbox's
// guest runtime, the functions build (esbuild, the type-check thread) and isolated-vm.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { request } from 'undici';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';
import { ROOT, waitForStart } from '../harness/process.js';
import { reply, startUpstream, type Upstream } from '../harness/upstream.js';

const ACTION = `
  import { createAction } from 'patchbay';
  import { z } from 'zod';
  export default createAction({
    description: 'Counts the items of a list',
    input: z.object({ list: z.string() }),
    output: z.object({ list: z.string(), count: z.number() }),
    exec: async (nango, input) => {
      const res = await nango.get<{ items: unknown[] }>({ endpoint: '/lists/' + input.list });
      return { list: input.list, count: res.data.items.length };
    },
  });`;

describe('npm start (the bundled dist/start)', () => {
  let parent: string;
  let upstream: Upstream;
  let functions: FunctionsFolder;

  beforeAll(async () => {
    parent = await mkdtemp(path.join(os.tmpdir(), 'patchbay-npm-start-'));
    await chmod(parent, 0o755); // the embedded PostgreSQL runs as user 'postgres' when we are root
    upstream = await startUpstream();
    functions = await writeFunctions({ 'github/actions/count-items.ts': ACTION });
  });
  afterAll(async () => {
    await upstream?.close();
    await functions?.remove();
    await rm(parent, { recursive: true, force: true });
  });

  it('serves the API, its pages, the proxy and a function from an empty data directory', async () => {
    const providersFile = path.join(parent, 'providers.yaml');
    await writeFile(providersFile, YAML.stringify({ github: { proxy: { base_url: upstream.url } } }));
    const child = spawn(process.execPath, ['--no-node-snapshot', path.join('scripts', 'launch.mjs'), 'start'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PATCHBAY_DATA_DIR: path.join(parent, '.data'),
        PATCHBAY_FUNCTIONS_DIR: functions.dir,
        PATCHBAY_PROVIDERS_FILE: providersFile,
        PATCHBAY_ALLOW_PRIVATE_EGRESS: 'true',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = await waitForStart(child);
    try {
      expect(started.stdout).toContain('deployed 1 functions');
      const call = async (method: 'GET' | 'POST', route: string, options: { body?: unknown; headers?: Record<string, string>; auth?: boolean } = {}) => {
        const response = await request(`${started.url}${route}`, {
          method,
          headers: {
            ...(options.auth === false ? {} : { authorization: `Bearer ${started.secretKey}` }),
            ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...options.headers,
          },
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
        });
        return { status: response.statusCode, type: String(response.headers['content-type'] ?? ''), text: await response.body.text() };
      };

      expect(await call('GET', '/health', { auth: false })).toMatchObject({ status: 200, text: '{"result":"ok"}' });
      // The shipped catalog (dist/server/providers/providers.yaml) beside the file's override.
      const providers = await call('GET', '/providers?search=slack');
      expect(providers.status).toBe(200);
      expect((JSON.parse(providers.text) as { data: { name: string }[] }).data.map((p) => p.name)).toContain('slack');

      const dashboard = await call('GET', '/', { auth: false });
      expect(dashboard.status).toBe(200);
      const script = /<script type="module" src="([^"]+)"><\/script>/.exec(dashboard.text)?.[1] as string;
      const dashboardScript = await call('GET', script, { auth: false });
      expect(dashboardScript).toMatchObject({ status: 200, type: expect.stringContaining('text/javascript') });
      expect(dashboardScript.text.length).toBeGreaterThan(1000);
      const connect = await call('GET', '/connect/', { auth: false });
      expect(connect.status).toBe(200);
      const connectScript = /<script[^>]*src="([^"]+)"/.exec(connect.text)?.[1] as string;
      expect((await call('GET', new URL(connectScript, `${started.url}/connect/`).pathname, { auth: false })).status).toBe(200);

      expect((await call('POST', '/integrations', { body: { provider: 'github', unique_key: 'github' } })).status).toBe(200);
      const created = await call('POST', '/connections', {
        body: { provider_config_key: 'github', connection_id: 'gh-1', credentials: { type: 'OAUTH2', access_token: 'token-1' } },
      });
      expect(created.status).toBe(201);
      const ids = { 'provider-config-key': 'github', 'connection-id': 'gh-1' };

      upstream.script(reply(200, { items: [1, 2] }));
      const proxied = await call('GET', '/proxy/lists/direct', { headers: ids });
      expect(proxied).toMatchObject({ status: 200, text: '{"items":[1,2]}' });
      expect(upstream.requests.at(-1)).toMatchObject({ url: '/lists/direct', headers: expect.objectContaining({ authorization: 'Bearer token-1' }) });

      // Run by the runner thread, in an isolate: its call goes through the same proxy.
      upstream.script(reply(200, { items: [1, 2, 3] }));
      const ran = await call('POST', '/action/trigger', { headers: ids, body: { action_name: 'count-items', input: { list: 'inbox' } } });
      expect(ran).toMatchObject({ status: 200 });
      expect(JSON.parse(ran.text)).toEqual({ list: 'inbox', count: 3 });
      expect(upstream.requests.at(-1)).toMatchObject({ url: '/lists/inbox', headers: expect.objectContaining({ authorization: 'Bearer token-1' }) });
      // Bad input gets the documented error from the bundled validation (zod) as well.
      const refused = await call('POST', '/action/trigger', { headers: ids, body: { action_name: 'count-items', input: { list: 7 } } });
      expect(refused.status).toBe(400);
    } finally {
      expect(await started.stop()).toBe(0);
    }
  }, 180_000);
});
