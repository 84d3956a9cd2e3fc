-- Whether an integration's own functions may read its connections' credentials
-- (nango.getToken, getConnection().credentials, getIntegration({include:['credentials']})).
-- Off by default: functions call providers through the proxy and never hold a secret; about 80 of
-- Nango's templates sign requests themselves and need the opt-in.
ALTER TABLE integrations ADD COLUMN functions_can_read_credentials boolean NOT NULL DEFAULT false;
