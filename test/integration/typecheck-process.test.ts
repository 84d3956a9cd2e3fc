// The type check runs in a child process of its own (runner/typecheck-process.ts): real
// TypeScript, real child processes, found and signalled through /proc as an operator would.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFunctions, prepareBuildResources, releaseBuildResources } from '../../runner/bundle.js';
import { writeFunctions, type FunctionsFolder } from '../harness/functions.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const folders: FunctionsFolder[] = [];

afterAll(async () => {
  await releaseBuildResources();
  await Promise.all(folders.map((folder) => folder.remove()));
});

const ACTION = `import * as z from 'zod';
import { createAction } from 'patchbay';

export default createAction({
  description: 'Shouts a word',
  input: z.object({ word: z.string() }),
  output: z.object({ shout: z.string() }),
  exec: async (_nango, input) => ({ shout: input.word.toUpperCase() }),
});
`;

const WRONG_OUTPUT = ACTION.replace('({ shout: input.word.toUpperCase() })', '({ shout: input.word.length })');

async function functionsFolder(files: Record<string, string>): Promise<string> {
  const folder = await writeFunctions(files);
  folders.push(folder);
  return folder.dir;
}

interface Checker {
  pid: number;
  args: string[];
  environ: string;
}

/** This process's type check children, from /proc. */
function checkers(): Checker[] {
  const found: Checker[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
      if (!args.some((arg) => arg.includes('typecheck-child'))) continue;
      found.push({ pid: Number(entry), args, environ: readFileSync(`/proc/${entry}/environ`, 'utf8') });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    // A zombie still answers signal 0; its state in /proc says it is gone.
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe.skipIf(process.platform !== 'linux')('the type check process', () => {
  it("checks in a child process of its own, without the server's environment, and goes when builds let it go", async () => {
    process.env.PATCHBAY_TYPECHECK_TEST_SECRET = 'not-for-the-checker';
    try {
      const dir = await functionsFolder({ 'demo/actions/shout.ts': ACTION, 'demo/actions/wrong.ts': WRONG_OUTPUT });
      const outcome = await buildFunctions(dir);
      expect(outcome.built.map((fn) => fn.name)).toEqual(['shout']);
      expect(outcome.failed.map((failure) => [failure.name, failure.problems[0]?.message])).toEqual([
        ['wrong', expect.stringContaining("Type 'number' is not assignable to type 'string'")],
      ]);

      const [checker, ...others] = checkers();
      expect(others).toEqual([]);
      expect(checker?.args).toContain('--interrupt-budget=270336');
      expect(checker?.environ).not.toContain('not-for-the-checker');
      expect(checker?.environ).not.toContain('PATCHBAY_');

      await releaseBuildResources();
      await until(() => !alive((checker as Checker).pid));
      expect(checkers()).toEqual([]);
    } finally {
      delete process.env.PATCHBAY_TYPECHECK_TEST_SECRET;
    }
  });

  it('a checker killed mid-check skips that type check with a warning, and the next build starts another', async () => {
    const dir = await functionsFolder({ 'demo/actions/shout.ts': ACTION, 'demo/actions/wrong.ts': WRONG_OUTPUT });
    const warnings: string[] = [];
    const building = buildFunctions(dir, { onWarning: (message) => warnings.push(message) });
    let killed: number | undefined;
    await until(() => {
      killed = checkers()[0]?.pid;
      return killed !== undefined;
    });
    process.kill(killed as number, 'SIGKILL');
    const outcome = await building;
    // Without a type check the wrong output type goes unnoticed: the bundles alone are sound.
    expect(outcome.built.map((fn) => fn.name).sort()).toEqual(['shout', 'wrong']);
    expect(warnings).toEqual(['type check skipped: it failed (the type check process exited (SIGKILL))']);

    const again = await buildFunctions(dir);
    expect(again.failed.map((failure) => failure.name)).toEqual(['wrong']);
    expect(checkers().map((checker) => checker.pid)).not.toContain(killed);
  });

  it('a checker stopped just before the next build does not fail that build when its end is reported during it', async () => {
    const dir = await functionsFolder({ 'demo/actions/shout.ts': ACTION, 'demo/actions/wrong.ts': WRONG_OUTPUT });
    await buildFunctions(dir);
    const [stopped] = checkers();
    await releaseBuildResources();
    // The stopped checker's exit comes in while this build's check runs.
    const warnings: string[] = [];
    const outcome = await buildFunctions(dir, { onWarning: (message) => warnings.push(message) });
    expect(warnings).toEqual([]);
    expect(outcome.failed.map((failure) => failure.name)).toEqual(['wrong']);
    expect(alive((stopped as Checker).pid)).toBe(false);
  });

  it('started ahead of a build, serves it, and keeps TypeScript\'s code cache beside the check\'s state for the next process', async () => {
    const dir = await functionsFolder({ 'demo/actions/shout.ts': ACTION, 'demo/actions/wrong.ts': WRONG_OUTPUT });
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-typecheck-state-'));
    folders.push({ dir: stateDir, write: async () => undefined, remove: () => rm(stateDir, { recursive: true, force: true }) });
    const state = path.join(stateDir, 'functions.tsbuildinfo');
    const codeCache = `${state}.v8-code-cache`;
    // No checker left by an earlier test: this one is started here.
    await releaseBuildResources();
    await until(() => checkers().length === 0);

    prepareBuildResources({ typecheck: true, typecheckCacheFile: state });
    const [prepared, ...others] = checkers();
    expect(others).toEqual([]);
    expect(prepared?.args).toContain(codeCache);
    const first = await buildFunctions(dir, { typecheckCacheFile: state });
    expect(first.failed.map((failure) => failure.name)).toEqual(['wrong']);
    expect(checkers().map((checker) => checker.pid)).toEqual([prepared?.pid]);
    expect(existsSync(codeCache)).toBe(true);
    const made = statSync(codeCache);

    // A new process loads TypeScript from the cache (V8 accepts it: it is not written again) and checks alike.
    await releaseBuildResources();
    await until(() => !alive((prepared as Checker).pid));
    const second = await buildFunctions(dir, { typecheckCacheFile: state });
    expect(second.failed).toEqual(first.failed);
    expect(checkers().map((checker) => checker.pid)).not.toContain(prepared?.pid);
    expect(statSync(codeCache).ino).toBe(made.ino);
  });

  it('an idle checker does not keep a process alive: a deploy-like script exits once its build is done', async () => {
    const dir = await functionsFolder({ 'demo/actions/shout.ts': ACTION });
    const script = `
      const { buildFunctions } = await import(${JSON.stringify(path.join(ROOT, 'runner', 'bundle.ts'))});
      const outcome = await buildFunctions(${JSON.stringify(dir)});
      console.log(JSON.stringify(outcome.built.map((fn) => fn.name)));
      // Stops esbuild's service, which would hold the process; the checker is left to idle.
      const { stop } = await import('esbuild');
      await stop();
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout.trim())).toEqual(['shout']);
  });
});
