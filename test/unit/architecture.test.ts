// The import directions of docs/architecture.md ("Layout"), checked by scanning import lines.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  const full = path.join(ROOT, dir);
  let entries: string[];
  try {
    entries = readdirSync(full);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const relative = path.join(dir, name);
    if (statSync(path.join(ROOT, relative)).isDirectory()) return sourceFiles(relative);
    return name.endsWith('.ts') ? [relative] : [];
  });
}

function importsOf(file: string): { target: string; typeOnly: boolean }[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((match) => ({
    target: (match[3] as string).startsWith('.') ? path.join(path.dirname(file), match[3] as string) : (match[3] as string),
    typeOnly: match[2] !== undefined,
  }));
}

const area = (target: string) => target.split(path.sep)[0] as string;

describe('architecture', () => {
  it('server never imports runner, bin or tests', () => {
    for (const file of sourceFiles('server')) {
      for (const { target } of importsOf(file)) expect(['runner', 'bin', 'test'], `${file} → ${target}`).not.toContain(area(target));
    }
  });

  it('the proxy engine never imports fastify or isolated-vm', () => {
    for (const file of sourceFiles('server/proxy')) {
      for (const { target } of importsOf(file)) {
        expect(target, file).not.toMatch(/^(fastify|@fastify\/|isolated-vm)/);
        expect(target.startsWith('server/routes') || target.startsWith('server/plugins'), `${file} → ${target}`).toBe(false);
      }
    }
  });

  it('runner imports only server/{proxy,store,errors,queue,...} and types from sdk/functions', () => {
    for (const file of sourceFiles('runner')) {
      for (const { target, typeOnly } of importsOf(file)) {
        if (area(target) === 'server') expect(target, file).not.toMatch(/^server\/(routes|plugins|app)/);
        // The guest (bundled into the isolate) shares the client's pure query-string rules.
        const sharedWithGuest = file.startsWith(path.join('runner', 'sandbox', 'guest')) && target === path.join('sdk', 'params.js');
        if (area(target) === 'sdk' && !sharedWithGuest) expect(typeOnly && target.startsWith('sdk/functions'), `${file} → ${target}`).toBe(true);
        expect(['bin', 'test'], file).not.toContain(area(target));
      }
    }
  });

  it('sdk/params.ts, which runs inside the sandbox too, imports no Node module', () => {
    for (const { target, typeOnly } of importsOf(path.join('sdk', 'params.ts'))) {
      expect(typeOnly || !target.startsWith('node:'), target).toBe(true);
      expect(typeOnly || target.startsWith('sdk'), target).toBe(true);
    }
  });

  it('sdk imports nothing from the platform', () => {
    for (const file of sourceFiles('sdk')) {
      for (const { target } of importsOf(file)) expect(['server', 'runner', 'bin', 'test'], `${file} → ${target}`).not.toContain(area(target));
    }
  });

  it('patchbay/testing (testing/) runs functions as the runner does and imports neither bin nor the harness; nothing imports it', () => {
    for (const file of sourceFiles('testing')) {
      for (const { target } of importsOf(file)) {
        expect(['bin', 'test', 'sdk'], `${file} → ${target}`).not.toContain(area(target));
        if (area(target) === 'server') expect(target, file).not.toMatch(/^server\/(routes|plugins|app)/);
      }
    }
    for (const file of [...sourceFiles('server'), ...sourceFiles('runner'), ...sourceFiles('bin'), ...sourceFiles('sdk')]) {
      for (const { target } of importsOf(file)) expect(area(target), file).not.toBe('testing');
    }
  });

  it('functions import only patchbay helpers and packages', () => {
    for (const file of sourceFiles('functions')) {
      for (const { target } of importsOf(file)) {
        expect(['server', 'runner', 'bin', 'test'], `${file} → ${target}`).not.toContain(area(target));
      }
    }
  });

  it('source code never imports the test harness', () => {
    for (const file of [...sourceFiles('server'), ...sourceFiles('runner'), ...sourceFiles('bin'), ...sourceFiles('sdk'), ...sourceFiles('testing')]) {
      for (const { target } of importsOf(file)) expect(area(target), file).not.toBe('test');
    }
  });

  it('SQL is written only in server/store (pg-boss runs its own through the pool it is given)', () => {
    const sql = /\b(SELECT\s+[\w*]|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b/;
    for (const file of [...sourceFiles('server'), ...sourceFiles('runner'), ...sourceFiles('bin')]) {
      if (file.startsWith(path.join('server', 'store') + path.sep)) continue;
      const code = readFileSync(path.join(ROOT, file), 'utf8').replace(/^\s*(\/\/|\*).*$/gm, '');
      expect(code, file).not.toMatch(sql);
    }
  });

  it('only server/config.ts reads process.env', () => {
    for (const file of [...sourceFiles('server'), ...sourceFiles('runner'), ...sourceFiles('sdk'), ...sourceFiles('testing')]) {
      if (file === path.join('server', 'config.ts')) continue;
      expect(readFileSync(path.join(ROOT, file), 'utf8'), file).not.toMatch(/process\.env/);
    }
  });
});
