-- The payload columns of log_operations become json instead of jsonb. Rows are written
-- thousands of times a second and read rarely, never queried inside: json only checks the
-- text, where jsonb parses and rebuilds it (about a fifth of PostgreSQL's CPU per stored call).
ALTER TABLE log_operations
  ALTER COLUMN error TYPE json USING error::json,
  ALTER COLUMN attempts DROP DEFAULT,
  ALTER COLUMN attempts TYPE json USING attempts::json,
  ALTER COLUMN attempts SET DEFAULT '[]',
  ALTER COLUMN request TYPE json USING request::json,
  ALTER COLUMN response TYPE json USING response::json,
  ALTER COLUMN messages DROP DEFAULT,
  ALTER COLUMN messages TYPE json USING messages::json,
  ALTER COLUMN messages SET DEFAULT '[]';
