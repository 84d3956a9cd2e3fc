import { mkdtemp, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { startSystem } from '/work/main/bin/system.js';
import { loadConfig } from '/work/main/server/config.js';
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mem-')); await chmod(dataDir, 0o755);
const config = loadConfig({ PATCHBAY_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', PATCHBAY_FUNCTIONS_DIR: '/tmp/pgss/fn', PATCHBAY_TYPECHECK_FUNCTIONS: 'false' });
const system = await startSystem(config, { roles: ['server', 'runner'], deployFunctions: true });
const key = system.secretKey; const url = system.url!;
const client = new Pool(url, { connections: 40 });
const call = async (method: string, p: string, body: unknown, headers: Record<string,string> = {}) => {
  const r = await client.request({ method: method as 'POST', path: p, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const t = await r.body.text(); if (r.statusCode >= 300) throw new Error(`${r.statusCode} ${t}`); return t;
};
await call('POST', '/integrations', { provider: 'github', unique_key: 'bench' });
await call('POST', '/connections', { provider_config_key: 'bench', connection_id: 'c1', credentials: { type: 'OAUTH2', access_token: 'x' } });
const trig = () => call('POST', '/action/trigger', { action_name: 'noop', input: {} }, { 'provider-config-key': 'bench', 'connection-id': 'c1' });
const mb = (n: number) => (n / 1048576).toFixed(0);
for (let round = 0; round < 8; round++) {
  let done = 0;
  await Promise.all(Array.from({ length: 32 }, async () => { while (done < 2500) { done++; await trig(); } }));
  const m = process.memoryUsage();
  console.log(`after ${(round + 1) * 2500} runs: rss ${mb(m.rss)} heapUsed ${mb(m.heapUsed)} heapTotal ${mb(m.heapTotal)} external ${mb(m.external)}`);
}
await client.close(); await system.stop();
