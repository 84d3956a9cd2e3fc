// Patchbay as a separate OS process (bin/patchbay.ts), as users and deployments run it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface PatchbayProcess {
  child: ChildProcess;
  url: string;
  secretKey: string;
  stdout: string;
  /** SIGTERM, then the exit code; rejects with the process's last output if a signal ended it (a crash). */
  stop(): Promise<number>;
}

/** Starts `patchbay <command>` with only PATH, HOME and `env` in its environment. */
export function spawnPatchbay(command: string, env: Record<string, string>, args: string[] = []): ChildProcess {
  return spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'bin/patchbay.ts', command, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode, stderr });
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

const tail = (text: string) => (text.length > 4000 ? `…${text.slice(-4000)}` : text);

/** Resolves once the process printed its URL and key; rejects if it exits first. */
export function waitForStart(child: ChildProcess): Promise<PatchbayProcess> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = /running at (http:\/\/\S+)/.exec(stdout)?.[1];
      const secretKey = /Secret key: (\S+)/.exec(stdout)?.[1];
      if (url && secretKey) {
        resolve({
          child,
          url,
          secretKey,
          stdout,
          async stop() {
            const exited = waitForExit(child);
            child.kill('SIGTERM');
            const { code, signal } = await exited;
            if (code !== null) return code;
            throw new Error(`patchbay was ended by ${signal ?? 'a signal'} while stopping\n--- stderr\n${tail(stderr)}\n--- stdout\n${tail(stdout)}`);
          },
        });
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code, signal) => reject(new Error(`patchbay exited with ${code ?? signal} before starting: ${tail(stderr)}`)));
  });
}

/** Resolves with everything printed so far once stdout matches `pattern`; rejects if the process exits first. */
export function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (pattern.test(stdout)) resolve(stdout);
    });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code, signal) => reject(new Error(`process exited with ${code ?? signal}: ${tail(stderr)}`)));
  });
}
