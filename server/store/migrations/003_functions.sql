-- Deployed functions and their runs. Bundles are content-addressed: a redeploy of unchanged code
-- stores nothing new, and runners cache compiled scripts by the same hash.

CREATE TABLE function_bundles (
  hash        text PRIMARY KEY,          -- sha256 hex of code
  code        text NOT NULL,
  bytes       integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- The deployed set: one row per (integration folder, kind, name). A deploy replaces the whole set.
CREATE TABLE functions (
  integration_key text NOT NULL,         -- the folder name: the provider config key it serves
  kind            text NOT NULL,         -- 'action' | 'sync'
  name            text NOT NULL,
  bundle_hash     text NOT NULL REFERENCES function_bundles (hash),
  source_path     text NOT NULL,         -- relative to the functions folder, for error messages
  config          jsonb NOT NULL,        -- what the definition declares (description, version, limits…)
  enabled         boolean NOT NULL DEFAULT true,
  deployed_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (integration_key, kind, name)
);

-- One row per action (later: sync) run. The truth about a run: pg-boss jobs only wake runners.
CREATE TABLE function_runs (
  id              uuid PRIMARY KEY,
  kind            text NOT NULL,
  integration_key text NOT NULL,
  connection_id   text NOT NULL,
  provider        text NOT NULL,         -- the connection's provider when the run was queued
  function_name   text NOT NULL,
  bundle_hash     text NOT NULL,
  state           text NOT NULL,         -- 'queued' | 'running' | 'succeeded' | 'failed'
  is_async        boolean NOT NULL DEFAULT false,
  input           jsonb,
  output          jsonb,
  error           jsonb,                 -- {code, message, status, payload?, upstream?}
  attempt         integer NOT NULL DEFAULT 0,
  max_retries     integer NOT NULL DEFAULT 0,
  runner_id       text,
  log_id          uuid NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  heartbeat_at    timestamptz,
  finished_at     timestamptz
);

CREATE INDEX function_runs_live ON function_runs (heartbeat_at) WHERE state = 'running';
CREATE INDEX function_runs_finished ON function_runs (finished_at) WHERE finished_at IS NOT NULL;
