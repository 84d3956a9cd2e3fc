-- Log operations: one row per proxy call (and later per function run), written in batches
-- by server/logs/writer.ts. Every stored header, URL and message is already redacted.

CREATE TABLE log_operations (
  id               uuid PRIMARY KEY,
  parent_id        uuid,
  type             text NOT NULL,          -- 'proxy', 'action', 'sync', 'auth'
  action           text NOT NULL,          -- 'call', 'run', 'refresh_token'
  state            text NOT NULL,          -- 'success', 'failed'
  level            text NOT NULL DEFAULT 'info',
  integration_key  text,
  connection_id    text,
  method           text,
  url              text,
  status           integer,
  error            jsonb,
  attempts         jsonb NOT NULL DEFAULT '[]',
  request          jsonb,
  response         jsonb,
  messages         jsonb NOT NULL DEFAULT '[]',
  started_at       timestamptz NOT NULL,
  ended_at         timestamptz,
  duration_ms      integer
);

CREATE INDEX log_operations_started ON log_operations (started_at DESC, id DESC);
CREATE INDEX log_operations_connection ON log_operations (integration_key, connection_id, started_at DESC);
CREATE INDEX log_operations_parent ON log_operations (parent_id) WHERE parent_id IS NOT NULL;
