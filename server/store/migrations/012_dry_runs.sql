-- Dry runs (`patchbay dryrun`, POST /functions/dryrun): a request's bundle on its way to a runner
-- and the result on its way back. Transient: the waiting request deletes its row when it reads
-- the result, and rows older than an hour (a request that went away) are deleted by the next
-- dry run. Nothing here is a deployment, a run or a record.
CREATE TABLE dry_runs (
  id          uuid PRIMARY KEY,
  state       text NOT NULL CHECK (state IN ('queued', 'running', 'finished')),
  code        text NOT NULL,          -- the bundle, as `patchbay deploy` would upload it
  source_map  text,                   -- its source map (v3 JSON), for runtime errors' file:line
  -- JSON as text, not jsonb: jsonb refuses \u0000, which inputs and provider answers may hold.
  request     text NOT NULL,          -- integration, function, connection, input, metadata…
  result      text,                   -- output or error, logs, calls, captured records
  runner_id   text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  finished_at timestamptz
);
CREATE INDEX dry_runs_queued ON dry_runs (created_at) WHERE state = 'queued';
