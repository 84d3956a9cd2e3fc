-- Integrations (one per provider config key) and the connections that use them.
-- Secrets live only in the *_enc columns, sealed with AES-256-GCM by server/credentials/cipher.ts.

CREATE TABLE integrations (
  id               bigserial PRIMARY KEY,
  unique_key       text NOT NULL UNIQUE,
  provider         text NOT NULL,
  display_name     text,
  credentials_enc  bytea,
  custom           jsonb,
  integration_config jsonb,
  forward_webhooks boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE connections (
  id                     bigserial PRIMARY KEY,
  integration_id         bigint NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
  connection_id          text NOT NULL,
  credentials_type       text NOT NULL,
  credentials_enc        bytea NOT NULL,
  credentials_expires_at timestamptz,
  connection_config      jsonb NOT NULL DEFAULT '{}',
  metadata               jsonb NOT NULL DEFAULT '{}',
  tags                   jsonb NOT NULL DEFAULT '{}',
  end_user               jsonb,
  webhook_url_override   text,
  last_fetched_at        timestamptz,
  last_refresh_success   timestamptz,
  last_refresh_failure   timestamptz,
  refresh_attempts       integer NOT NULL DEFAULT 0,
  refresh_exhausted      boolean NOT NULL DEFAULT false,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  UNIQUE (integration_id, connection_id)
);

CREATE INDEX connections_connection_id ON connections (connection_id);
CREATE INDEX connections_created_at ON connections (created_at, id);

-- Facts about this installation, e.g. a sealed canary that proves the encryption key is the
-- one the stored credentials were sealed with.
CREATE TABLE patchbay_settings (
  key        text PRIMARY KEY,
  value      bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
