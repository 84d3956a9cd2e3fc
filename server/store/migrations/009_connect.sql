-- Connect: sessions handed to an app's frontend so its end users can authorize their own
-- accounts, and the OAuth2 flows in progress. Tokens and states are stored as SHA-256 hashes:
-- a database dump does not let anyone finish a flow or act as a session.
CREATE TABLE connect_sessions (
  id bigserial PRIMARY KEY,
  token_hash bytea NOT NULL UNIQUE,
  end_user jsonb,
  organization jsonb,
  -- NULL: every integration.
  allowed_integrations text[],
  integrations_config_defaults jsonb NOT NULL DEFAULT '{}',
  tags jsonb NOT NULL DEFAULT '{}',
  webhook_url_override text,
  -- A reconnect session may only re-authorize this connection.
  reconnect_integration text,
  reconnect_connection_id text,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connect_sessions_expires_at ON connect_sessions (expires_at);

CREATE TABLE oauth_flows (
  state_hash bytea PRIMARY KEY,
  session_id bigint NOT NULL REFERENCES connect_sessions (id) ON DELETE CASCADE,
  integration_key text NOT NULL,
  connection_id text NOT NULL,
  ws_client_id text,
  -- The PKCE verifier and what the token request needs again, sealed with the encryption key.
  secret_enc bytea NOT NULL,
  connection_config jsonb NOT NULL DEFAULT '{}',
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_flows_expires_at ON oauth_flows (expires_at);
