// Reads a repository's main facts.
// GitHub REST: GET /repos/{owner}/{repo} — https://docs.github.com/en/rest/repos/repos#get-a-repository
import * as z from 'zod';
import { createAction, isProxyError } from 'patchbay';
import { RepoName } from '../lib/repo.js';

interface Repository {
  id: number;
  full_name: string;
  description: string | null;
  private: boolean;
  default_branch: string;
  stargazers_count: number;
  open_issues_count: number;
  html_url: string;
}

export default createAction({
  description: 'Get a GitHub repository',
  input: z.object({ repo: RepoName }),
  output: z.object({
    id: z.number(),
    fullName: z.string(),
    description: z.string().nullable(),
    private: z.boolean(),
    defaultBranch: z.string(),
    stars: z.number(),
    openIssues: z.number(),
    url: z.string(),
  }),
  exec: async (nango, input) => {
    try {
      const { data } = await nango.get<Repository>({ endpoint: `/repos/${input.repo}` });
      return {
        id: data.id,
        fullName: data.full_name,
        description: data.description,
        private: data.private,
        defaultBranch: data.default_branch,
        stars: data.stargazers_count,
        openIssues: data.open_issues_count,
        url: data.html_url,
      };
    } catch (error) {
      // GitHub answers 404, not 403, for a private repository the token cannot see.
      if (isProxyError(error) && error.response?.status === 404) {
        throw new nango.ActionError({ message: `Repository ${input.repo} not found or not visible to this connection` });
      }
      throw error;
    }
  },
});
