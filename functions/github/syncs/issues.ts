// Keeps the issues of the repositories listed in the connection's metadata (`{ repos: ["owner/name"] }`).
// GitHub REST: GET /repos/{owner}/{repo}/issues — https://docs.github.com/en/rest/issues/issues#list-repository-issues
// Incremental: after the first run only issues updated since the last run are fetched.
import * as z from 'zod';
import { createSync } from 'patchbay';
import { RepoName } from '../lib/repo.js';

const GithubIssue = z.object({
  id: z.string(),
  repo: z.string(),
  number: z.number(),
  title: z.string(),
  state: z.enum(['open', 'closed']),
  author: z.string().nullable(),
  labels: z.array(z.string()),
  url: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  closedAt: z.string().nullable(),
});

interface ApiIssue {
  id: number;
  number: number;
  title: string;
  state: 'open' | 'closed';
  user: { login: string } | null;
  labels: (string | { name?: string })[];
  html_url: string;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  /** Present when the "issue" is a pull request: this endpoint lists both. */
  pull_request?: unknown;
}

export default createSync({
  description: 'Issues of the repositories in the connection metadata',
  frequency: 'every hour',
  models: { GithubIssue },
  metadata: z.object({ repos: z.array(RepoName) }),
  // `repos` is the comma-joined list the checkpoint covers, so a newly added repository gets a full first fetch.
  checkpoint: z.object({ since: z.string(), repos: z.string() }),
  scopes: ['repo'],
  exec: async (nango) => {
    const metadata = await nango.getMetadata();
    const repos = metadata?.repos ?? [];
    if (repos.length === 0) {
      await nango.log('No repositories to sync: set the connection metadata to { "repos": ["owner/name"] }', undefined, { level: 'warn' });
      return;
    }

    const checkpoint = await nango.getCheckpoint();
    const covered = new Set(checkpoint?.repos.split(',') ?? []);
    // Taken before the first request: an issue updated during the run is fetched again next time.
    const startedAt = new Date().toISOString();

    for (const repo of repos) {
      const since = checkpoint !== null && covered.has(repo) ? checkpoint.since : undefined;
      const pages = nango.paginate<ApiIssue>({
        endpoint: `/repos/${repo}/issues`,
        params: { state: 'all', sort: 'updated', direction: 'asc', since },
        paginate: { limit: 100 },
      });
      for await (const page of pages) {
        const issues = page.filter((issue) => issue.pull_request === undefined);
        if (issues.length > 0) await nango.batchSave(issues.map((issue) => toRecord(repo, issue)), 'GithubIssue');
      }
    }
    await nango.saveCheckpoint({ since: startedAt, repos: repos.join(',') });
  },
});

function toRecord(repo: string, issue: ApiIssue): z.infer<typeof GithubIssue> {
  return {
    id: String(issue.id),
    repo,
    number: issue.number,
    title: issue.title,
    state: issue.state,
    author: issue.user?.login ?? null,
    labels: issue.labels.map((label) => (typeof label === 'string' ? label : (label.name ?? ''))).filter((name) => name !== ''),
    url: issue.html_url,
    createdAt: issue.created_at,
    updatedAt: issue.updated_at,
    closedAt: issue.closed_at,
  };
}
