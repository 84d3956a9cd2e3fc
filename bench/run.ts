// npm run bench — runs every benchmark in bench/*.ts (except this file), one after the other,
// each in its own process, and prints their JSON reports as one object keyed by name.
// Progress goes to stderr; a benchmark that fails makes this exit 1 after the others have run.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const SELF = path.basename(fileURLToPath(import.meta.url));

function runOne(file: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', path.join(BENCH_DIR, file)], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal === null ? 1 : 128), stdout }));
  });
}

const benchmarks = (await readdir(BENCH_DIR)).filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && name !== SELF).sort();

const reports: Record<string, unknown> = {};
let failed = false;
for (const file of benchmarks) {
  const name = path.basename(file, '.ts');
  process.stderr.write(`[bench] ${name}\n`);
  const { code, stdout } = await runOne(file);
  let report: unknown;
  try {
    report = JSON.parse(stdout);
  } catch {
    report = undefined;
  }
  if (code !== 0 || report === undefined) {
    failed = true;
    reports[name] = { error: `exited with code ${code}`, stdout: stdout.trim() || undefined };
  } else {
    reports[name] = report;
  }
}

process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
process.exitCode = failed ? 1 : 0;
