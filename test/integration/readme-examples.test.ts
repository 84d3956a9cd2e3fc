// The README's examples, run as a reader would run them, in order: every ```sh block with bash
// (real curl, real `npx patchbay`), every ```ts block with Node and tsx, against a Patchbay the
// harness started and a fake GitHub on 127.0.0.1. The only change made to an example is the
// server's address (`http://localhost:3003` → the harness's). A ```ts block whose first line names
// a file under `functions/` is written to that file, as the reader would save it. A block that
// cannot run here carries `<!-- readme-test: skip (why) -->` on the line before its fence; a
// block with neither fails this test, so a new example is covered or explicitly excused.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type TestPatchbay } from '../harness/patchbay.js';
import { startUpstream, type Step, type Upstream } from '../harness/upstream.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README_HOST = 'http://localhost:3003';
const SKIP_MARKER = /^<!-- readme-test: skip \((.+)\) -->$/;
// A busy 2-core machine type-checks and bundles functions slowly: these only catch hangs.
const BLOCK_TIMEOUT_MS = 240_000;

interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  skip?: string;
}

/** Every fenced block of the README, with the skip reason written before it, if any. */
function readmeBlocks(text: string): { blocks: Block[]; strayMarkers: number[] } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  const strayMarkers: number[] = [];
  let pendingSkip: { reason: string; line: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const marker = SKIP_MARKER.exec(line.trim());
    if (marker !== null) {
      if (pendingSkip !== undefined) strayMarkers.push(pendingSkip.line);
      pendingSkip = { reason: marker[1] ?? '', line: i + 1 };
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(line);
    if (fence === null) {
      if (line.trim() !== '' && pendingSkip !== undefined) {
        strayMarkers.push(pendingSkip.line);
        pendingSkip = undefined;
      }
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ''); i++) body.push(lines[i] ?? '');
    blocks.push({ line: start + 1, lang: fence[1] ?? '', code: body.join('\n') + '\n', ...(pendingSkip === undefined ? {} : { skip: pendingSkip.reason }) });
    pendingSkip = undefined;
  }
  if (pendingSkip !== undefined) strayMarkers.push(pendingSkip.line);
  return { blocks, strayMarkers };
}

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const { blocks: ALL_BLOCKS, strayMarkers: STRAY_MARKERS } = readmeBlocks(README);
const RUNNABLE = new Set(['sh', 'ts']);
// Fences this test would not recognise as examples: write `sh` and `ts` instead.
const UNRECOGNISED = new Set(['bash', 'shell', 'zsh', 'console', 'typescript', 'tsx', 'javascript', 'js', 'mjs', 'cjs']);
const BLOCKS = ALL_BLOCKS.filter((block) => RUNNABLE.has(block.lang));

/** The file a ```ts block is meant to be saved as: its first line `// functions/…`. */
const savedAs = (block: Block) => /^\/\/ (functions\/\S+\.ts)\s*$/.exec(block.code.split('\n')[0] ?? '')?.[1];

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env: Record<string, string>; input?: string }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** The JSON values a block printed, one per line (curl's answers; see CURL below). */
const jsonLines = (stdout: string): any[] =>
  stdout.split('\n').flatMap((line) => {
    try {
      return line.trim().startsWith('{') || line.trim().startsWith('[') ? [JSON.parse(line)] : [];
    } catch {
      return [];
    }
  });

// A reader sees curl's answer on their terminal; here a non-2xx answer also fails the block.
// `echo` puts each answer on its own line (bodies end without a newline).
const CURL = 'curl() { command curl --silent --show-error --fail-with-body "$@"; local status=$?; echo; return $status; }\n';

/** A fake GitHub API: the endpoints the README's examples call. */
function fakeGithub(): Step {
  return (_req, res, received) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const route = `${received.method} ${received.path}`;
    if (route === 'GET /user') return send(200, { login: 'ada', id: 1 });
    if (route === 'GET /user/repos') return send(200, [{ id: 10, full_name: 'acme/app' }]);
    if (route === 'POST /repos/acme/app/issues') {
      const title = (JSON.parse(received.body.toString('utf8') || '{}') as { title?: string }).title;
      return send(201, { number: 42, title, html_url: 'https://github.com/acme/app/issues/42' });
    }
    if (route === 'GET /repos/acme/app/issues/7') return send(200, { number: 7, title: 'Broken build' });
    if (route === 'GET /repos/acme/app/issues') {
      return send(200, [
        { id: 7, title: 'Broken build', state: 'open' },
        { id: 8, title: 'Flaky test', state: 'closed' },
      ]);
    }
    return send(404, { message: 'Not Found' });
  };
}

/**
 * What a reader should see from particular examples, found by a piece of their text. Every
 * other block need only succeed (exit 0; every curl answered 2xx).
 */
const EXPECTATIONS: Array<{ contains: string; check: (ran: Ran, ctx: { patchbay: TestPatchbay; github: Upstream }) => Promise<void> | void }> = [
  {
    contains: "'http://localhost:3003/connections/user-123?provider_config_key=github'",
    check: (ran) => {
      const [integration, created, read] = jsonLines(ran.stdout);
      expect(integration).toMatchObject({ data: { unique_key: 'github', provider: 'github' } });
      expect(created).toMatchObject({ connection_id: 'user-123', provider_config_key: 'github' });
      expect(read).toMatchObject({ connection_id: 'user-123', credentials: { type: 'OAUTH2', access_token: 'gho_your_token' } });
    },
  },
  {
    contains: "await nango.setMetadata('github', 'user-123', { plan: 'pro' });",
    check: async (ran, { patchbay }) => {
      expect(ran.stdout).toContain('user-123');
      const connection = await patchbay.request('GET', '/connections/user-123?provider_config_key=github');
      expect(connection.json.metadata).toEqual({ plan: 'pro' });
    },
  },
  {
    contains: 'await nango.createConnectSession(',
    check: (ran) => expect(ran.stdout).toMatch(/^nango_connect_session_\S+ \S+\/connect\S* \d{4}-\d\d-\d\dT/),
  },
  {
    contains: "'http://localhost:3003/proxy/user/repos?per_page=5'",
    check: (ran, { github }) => {
      const [repos, issue] = jsonLines(ran.stdout);
      expect(repos).toEqual([{ id: 10, full_name: 'acme/app' }]);
      expect(issue).toMatchObject({ number: 42, title: 'Bug' });
      expect(github.requests.some((seen) => seen.path === '/user/repos' && seen.headers.authorization === 'Bearer gho_your_token')).toBe(true);
    },
  },
  {
    contains: 'npx patchbay deploy\n',
    check: async (ran, { patchbay }) => {
      expect(ran.stderr).not.toMatch(/error/i);
      const functions = await patchbay.request('GET', '/functions');
      expect(functions.status).toBe(200);
      expect(JSON.stringify(functions.json)).toContain('create-issue');
    },
  },
  {
    contains: 'http://localhost:3003/action/trigger',
    check: (ran) => expect(jsonLines(ran.stdout)).toEqual([{ number: 42, url: 'https://github.com/acme/app/issues/42' }]),
  },
  {
    contains: 'npx patchbay dryrun github get-issue user-123',
    check: (ran) => {
      expect(ran.stdout).toContain('dry run of github/actions/get-issue.ts on github/user-123');
      expect(ran.stdout).toMatch(/GET \/repos\/acme\/app\/issues\/7 → 200/);
      expect(ran.stdout).toContain('reading issue');
      expect(ran.stdout).toContain('"title": "Broken build"');
    },
  },
  {
    contains: 'http://localhost:3003/sync/status?',
    check: (ran) => {
      const [triggered, status] = jsonLines(ran.stdout);
      expect(triggered).toEqual({ success: true });
      expect(status.syncs).toEqual([expect.objectContaining({ name: 'issues' })]);
    },
  },
  {
    contains: "from 'patchbay/sdk'",
    check: (ran) => {
      expect(ran.stdout).toContain("login: 'ada'");
      expect(ran.stdout).toContain("url: 'https://github.com/acme/app/issues/42'");
    },
  },
  {
    contains: "'http://localhost:3003/logs?",
    check: (ran) => expect(jsonLines(ran.stdout)[0]).toHaveProperty('data'),
  },
  {
    contains: '"provider_config_key":"openai","connection_id":"org-1","verify":false',
    check: (ran) => expect(jsonLines(ran.stdout)[1]).toMatchObject({ connection_id: 'org-1', provider_config_key: 'openai' }),
  },
];

describe('README examples', () => {
  let github: Upstream;
  let patchbay: TestPatchbay;
  let project: string;
  let env: Record<string, string>;
  const used = new Set<number>();

  beforeAll(async () => {
    github = await startUpstream();
    github.setFallback(fakeGithub());
    patchbay = await startPatchbay({ label: 'readme-examples', providers: { github: { proxy: { base_url: github.url } } } });
    // The reader's folder: Patchbay installed (its bin on npx's path, its packages beside), and
    // the data directory `npm start` would have written the secret key to.
    project = await mkdtemp(path.join(os.tmpdir(), 'patchbay-readme-'));
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'readme-reader', private: true, type: 'module' }));
    await mkdir(path.join(project, 'node_modules', '.bin'), { recursive: true });
    await symlink(ROOT, path.join(project, 'node_modules', 'patchbay'));
    await symlink(path.join(ROOT, 'node_modules', '@nangohq'), path.join(project, 'node_modules', '@nangohq'));
    await symlink(path.join(ROOT, 'node_modules', 'tsx'), path.join(project, 'node_modules', 'tsx'));
    await symlink('../patchbay/dist/bin/patchbay.js', path.join(project, 'node_modules', '.bin', 'patchbay'));
    await mkdir(path.join(project, '.data'));
    await writeFile(path.join(project, '.data', 'secrets.json'), JSON.stringify({ secretKey: patchbay.secretKey }));
    const inherited = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
    // The reader's terminal keeps KEY from the first example; npx must never reach a registry.
    env = { ...inherited, KEY: patchbay.secretKey, npm_config_offline: 'true', npm_config_update_notifier: 'false', NO_COLOR: '1' };
    delete env.PATCHBAY_URL;
    delete env.PATCHBAY_SECRET_KEY;
    delete env.PATCHBAY_FUNCTIONS_DIR;
    delete env.PATCHBAY_DATA_DIR;
    delete env.NODE_OPTIONS;
  });

  afterAll(async () => {
    await patchbay?.stop();
    await github?.close();
    if (project !== undefined) await rm(project, { recursive: true, force: true });
  });

  it('marks every sh and ts block it does not run, with a reason, and no marker elsewhere', () => {
    expect(STRAY_MARKERS).toEqual([]);
    expect(ALL_BLOCKS.filter((block) => UNRECOGNISED.has(block.lang)).map((block) => `${block.line} ${block.lang}`)).toEqual([]);
    const markedOther = ALL_BLOCKS.filter((block) => block.skip !== undefined && !RUNNABLE.has(block.lang));
    expect(markedOther.map((block) => block.line)).toEqual([]);
    const skipped = BLOCKS.filter((block) => block.skip !== undefined);
    for (const block of skipped) expect(block.skip?.trim().length ?? 0).toBeGreaterThan(10);
    // Skips are the exception: starting Patchbay, browsers, the test suite itself.
    expect(skipped.length).toBeLessThanOrEqual(6);
    expect(BLOCKS.length - skipped.length).toBeGreaterThanOrEqual(10);
  });

  for (const block of BLOCKS) {
    const title = `README.md:${block.line} (${block.lang})`;
    if (block.skip !== undefined) {
      it.skip(`${title}: ${block.skip}`, () => undefined);
      continue;
    }
    it(
      title,
      async () => {
        const code = block.code.replaceAll(README_HOST, patchbay.url);
        const file = savedAs(block);
        let ran: Ran;
        if (file !== undefined) {
          // A function's source: saved where the README says; a later example deploys or runs it.
          await mkdir(path.dirname(path.join(project, file)), { recursive: true });
          await writeFile(path.join(project, file), code);
          ran = { code: 0, stdout: '', stderr: '' };
        } else if (block.lang === 'ts') {
          const script = path.join(project, `example-${block.line}.ts`);
          await writeFile(script, code);
          ran = await run(process.execPath, ['--import', 'tsx', script], { cwd: project, env: { ...env, PATCHBAY_SECRET_KEY: patchbay.secretKey } });
        } else {
          ran = await run('bash', ['-c', `set -euo pipefail\n${CURL}${code}`], { cwd: project, env });
        }
        if (ran.code !== 0) throw new Error(`exit code ${ran.code}\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr}`);
        for (const [index, expectation] of EXPECTATIONS.entries()) {
          if (!block.code.includes(expectation.contains)) continue;
          used.add(index);
          await expectation.check(ran, { patchbay, github });
        }
      },
      BLOCK_TIMEOUT_MS,
    );
  }

  it('checked what each expected example printed (none was dropped from the README)', () => {
    const missing = EXPECTATIONS.filter((_, index) => !used.has(index)).map((expectation) => expectation.contains);
    expect(missing).toEqual([]);
  });
});
