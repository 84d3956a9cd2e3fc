// Opens an issue in a repository the connection can write to.
// GitHub REST: POST /repos/{owner}/{repo}/issues — https://docs.github.com/en/rest/issues/issues#create-an-issue
import * as z from 'zod';
import { createAction } from 'patchbay';
import { RepoName } from '../lib/repo.js';

interface CreatedIssue {
  number: number;
  html_url: string;
}

export default createAction({
  description: 'Create an issue in a GitHub repository',
  input: z.object({
    repo: RepoName,
    title: z.string().min(1),
    body: z.string().optional(),
  }),
  output: z.object({ number: z.number(), url: z.string() }),
  scopes: ['repo'],
  exec: async (nango, input) => {
    const response = await nango.post<CreatedIssue>({
      endpoint: `/repos/${input.repo}/issues`,
      data: { title: input.title, ...(input.body !== undefined ? { body: input.body } : {}) },
    });
    return { number: response.data.number, url: response.data.html_url };
  },
});
