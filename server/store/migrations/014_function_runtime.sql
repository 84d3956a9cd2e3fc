-- What deployed functions need at run time beyond their code (issue 17):
-- * a bundle's source map, so a deployed run's runtime error names the author's file:line;
-- * how deep a run sits in a chain of nango.triggerAction calls, so a chain is bounded;
-- * locks a function takes with nango.tryAcquireLock, shared by every runner.
ALTER TABLE function_bundles ADD COLUMN source_map text;  -- v3 JSON, sources relative to the functions folder

ALTER TABLE function_runs ADD COLUMN trigger_depth integer NOT NULL DEFAULT 0;  -- 0: queued by the API or a schedule

-- One lock per (connection, key). A lock past `expires_at` is free whoever holds it; the run that
-- took it releases it when it ends (`owner` is that run's own token).
CREATE TABLE function_locks (
  integration_key text NOT NULL,
  connection_id   text NOT NULL,
  key             text NOT NULL,
  owner           text NOT NULL,
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (integration_key, connection_id, key)
);
CREATE INDEX function_locks_owner ON function_locks (owner);
