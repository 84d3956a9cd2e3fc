// The `owner/name` form of a repository, shared by the GitHub functions. Not a function itself:
// only files directly in actions/ and syncs/ are deployed.
import * as z from 'zod';

/** `octocat/hello-world`. Names may start with a dot (`.github`) but are never `.` or `..`. */
export const RepoName = z
  .string()
  .regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name, e.g. octocat/hello-world')
  .refine((repo) => repo.split('/').every((part) => part !== '.' && part !== '..'), 'owner/name, e.g. octocat/hello-world');
