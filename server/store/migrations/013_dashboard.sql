-- Dashboard sessions (a signed cookie names one; logout and expiry end it for every process) and
-- the partial indexes behind /metrics' queue depth and the overview's failing refreshes.
CREATE TABLE dashboard_sessions (
  token_hash  bytea PRIMARY KEY,         -- SHA-256 of the cookie's random token; the token itself is never stored
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz
);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);

CREATE INDEX function_runs_active ON function_runs (kind, state) WHERE state IN ('queued', 'running');
CREATE INDEX connections_refresh_failing ON connections (id) WHERE last_refresh_failure IS NOT NULL OR refresh_exhausted;
