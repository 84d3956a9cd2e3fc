// Writes function sources into a fresh temp folder laid out as users do
// (`<integration>/actions/<name>.ts`), for tests that deploy them.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface FunctionsFolder {
  dir: string;
  write(relativePath: string, source: string): Promise<void>;
  remove(): Promise<void>;
}

export async function writeFunctions(files: Record<string, string>): Promise<FunctionsFolder> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-functions-'));
  const write = async (relativePath: string, source: string) => {
    const file = path.join(dir, relativePath);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, source);
  };
  for (const [relativePath, source] of Object.entries(files)) await write(relativePath, source);
  return { dir, write, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Action sources several test files deploy: each file adds its own beside them. */
export const SHARED_ACTIONS = {
  refuse: `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Always refuses',
      exec: async (nango) => { throw new nango.ActionError({ reason: 'not today' }); },
    });`,
  /** Logs a line, makes one proxy call, returns what it asked for (the dashboard tests' run with a nested call). */
  'echo-repo': `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Reads a repo and says which',
      exec: async (nango, input: { repo: string }) => {
        await nango.log('reading ' + input.repo);
        const res = await nango.get({ endpoint: '/repos/' + input.repo });
        return { repo: input.repo, status: res.status };
      },
    });`,
  slow: `
    import { createAction } from 'patchbay';
    export default createAction({
      description: 'Takes its time',
      exec: async (nango, input: { ms: number }) => {
        await new Promise((resolve) => setTimeout(resolve, input.ms));
        return { waited: input.ms };
      },
    });`,
};

/** The README's create-issue action, the SDK imported as `sdk`: 'patchbay', or 'nango' as functions written for Nango do. */
export const createIssueAction = (sdk: string) => `
    import { createAction } from '${sdk}';
    import { z } from 'zod';
    export default createAction({
      description: 'Create an issue',
      input: z.object({ repo: z.string(), title: z.string() }),
      output: z.object({ number: z.number(), url: z.string() }),
      exec: async (nango, input) => {
        const res = await nango.post({ endpoint: \`/repos/\${input.repo}/issues\`, data: { title: input.title } });
        return { number: res.data.number, url: res.data.html_url };
      },
    });`;

/** A sync the dashboard tests show on their pages: one page of issues, saved as GithubIssue, daily. */
export const DASHBOARD_ISSUES_SYNC = `
    import { createSync } from 'patchbay';
    import * as z from 'zod';
    export default createSync({
      description: 'All issues, one page',
      frequency: 'every day',
      autoStart: true,
      models: { GithubIssue: z.object({ id: z.string(), title: z.string() }) },
      exec: async (nango) => {
        const res = await nango.get<{ id: number; title: string }[]>({ endpoint: '/issues' });
        await nango.batchSave(res.data.map((item) => ({ id: String(item.id), title: item.title })), 'GithubIssue');
      },
    });`;
