-- Sync records and checkpoints. A record is keyed by (connection, model, id); `model` already
-- carries the variant (`Model::variant`, as Nango names a variant's records). `seq` is a monotonic change sequence: a
-- record takes a new one each time it changes, so paging by it never skips or repeats a change.

CREATE SEQUENCE record_changes;

CREATE TABLE records (
  integration_key  text NOT NULL,
  connection_id    text NOT NULL,
  model            text NOT NULL,
  record_id        text NOT NULL,
  data             jsonb NOT NULL,
  hash             text NOT NULL,         -- of the stored data: a re-save of identical data is no change
  seq              bigint NOT NULL DEFAULT nextval('record_changes'),
  last_action      text NOT NULL,         -- 'ADDED' | 'UPDATED' | 'DELETED'
  first_seen_at    timestamptz NOT NULL DEFAULT now(),
  last_modified_at timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz,
  pruned_at        timestamptz,
  run_id           uuid,                  -- the sync run that last changed it
  PRIMARY KEY (integration_key, connection_id, model, record_id)
);

CREATE INDEX records_changes ON records (integration_key, connection_id, model, seq);
-- Retention prunes the payload of long-deleted records; live rows never enter this index.
CREATE INDEX records_deleted_unpruned ON records (deleted_at) WHERE deleted_at IS NOT NULL AND pruned_at IS NULL;

-- One checkpoint per (connection, sync, variant), replaced as a whole; `version` counts saves.
CREATE TABLE sync_checkpoints (
  integration_key text NOT NULL,
  connection_id   text NOT NULL,
  sync_name       text NOT NULL,
  variant         text NOT NULL DEFAULT 'base',
  checkpoint      jsonb NOT NULL,
  version         integer NOT NULL DEFAULT 1,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (integration_key, connection_id, sync_name, variant)
);

-- Sync runs live in function_runs beside actions. At most one queued run per (connection, sync,
-- variant): a trigger while one waits adds nothing. At most one running is kept by the claim.
ALTER TABLE function_runs ADD COLUMN variant text NOT NULL DEFAULT 'base';
CREATE UNIQUE INDEX function_runs_one_queued_sync ON function_runs (integration_key, connection_id, function_name, variant)
  WHERE kind = 'sync' AND state = 'queued';
CREATE INDEX function_runs_sync_history ON function_runs (integration_key, connection_id, function_name, created_at DESC)
  WHERE kind = 'sync';

-- One schedule per (connection, sync, variant): created for every deployed sync with autoStart
-- when a connection or a deploy appears, paused/started by the API, its frequency overridable
-- per connection. Due schedules are taken with SKIP LOCKED, so any number of processes share them.
CREATE TABLE sync_schedules (
  integration_key text NOT NULL,
  connection_id   text NOT NULL,
  sync_name       text NOT NULL,
  variant         text NOT NULL DEFAULT 'base',
  frequency_ms    bigint NOT NULL,
  frequency_override text,               -- set by PUT /sync/update-connection-frequency
  paused          boolean NOT NULL DEFAULT false,
  next_run_at     timestamptz NOT NULL DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (integration_key, connection_id, sync_name, variant)
);
CREATE INDEX sync_schedules_due ON sync_schedules (next_run_at) WHERE NOT paused;
