// IsolatePool.close() and isolated-vm work still under way. A runner thread exits as soon as its
// pool has closed, and isolated-vm answering a thread that is gone aborts the whole process
// (`environment != nullptr`, seen once in CI): close() waits for what its slots and killed runs let go of.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../harness/process.js';
import { IsolatePool } from '../../runner/sandbox/pool.js';
import { CodeCache } from '../../runner/sandbox/script-cache.js';

const turns = async (count: number) => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('isolate pool close', () => {
  it('resolves only once the work its slots let go of has settled', async () => {
    // Its constructor starts preparing the slot's first context; close() disposes the isolate under it.
    const pool = new IsolatePool({ size: 1, memoryMb: 32, maxCachedScripts: 4, codeCache: new CodeCache(1024 * 1024) });
    let settle!: (value: string) => void;
    pool.letGo(new Promise<string>((resolve) => (settle = resolve)));
    let closed = false;
    const closing = pool.close().then(() => {
      closed = true;
    });
    await turns(20);
    expect(closed).toBe(false);
    settle('done');
    await closing;
    expect(closed).toBe(true);
    expect(pool.slots.every((slot) => slot.isolate.isDisposed)).toBe(true);
  });

  it('resolves when what was let go of fails', async () => {
    const pool = new IsolatePool({ size: 1, memoryMb: 32, maxCachedScripts: 4, codeCache: new CodeCache(1024 * 1024) });
    pool.letGo(Promise.reject(new Error('isolate disposed')));
    await expect(pool.close()).resolves.toBeUndefined();
  });

  it('lets a thread end right after closing on runs it killed mid-loop', async () => {
    // Before close() waited for the killed runs' work too, 6 tries of 6 aborted the process before a third thread had ended.
    const THREADS = 10;
    const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'test/harness/sandbox-closing-thread.ts', String(THREADS)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    expect({ ...exit, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const threads = stdout.trim().split('\n').map((line) => JSON.parse(line) as string[]);
    expect(threads).toEqual(Array.from({ length: THREADS }, () => ['aborted', 'aborted', 'aborted', 'aborted']));
  }, 120_000);
});
