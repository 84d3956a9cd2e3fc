-- Webhook deliveries to the user's app: the outbox of server/webhooks/. A row is written when a
-- sync or an async action finishes, and sent (and retried) by any runner process off the run's
-- path. `body` is the exact JSON text that is signed and sent, so every retry is byte-identical.

CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY,
  kind             text NOT NULL,          -- 'sync', 'async_action'
  url              text NOT NULL,
  body             text NOT NULL,
  integration_key  text NOT NULL,
  connection_id    text NOT NULL,
  run_id           uuid,
  parent_log_id    uuid,                   -- the run's log operation: attempts are logged beneath it
  state            text NOT NULL DEFAULT 'pending',  -- 'pending', 'delivered', 'failed'
  attempts         integer NOT NULL DEFAULT 0,
  -- When the next attempt is due; while an attempt is in flight, when its lease runs out (a
  -- runner that died mid-attempt leaves the row to be picked up again then).
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status      integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE finished_at IS NOT NULL;
