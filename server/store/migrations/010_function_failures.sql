-- The functions the last deploy could not build, with their problems (file, line, column,
-- message). A deploy replaces the whole list; a failed function's deployed version, if any,
-- stays in `functions` and keeps serving.
CREATE TABLE function_failures (
  integration_key text NOT NULL,
  kind            text NOT NULL,         -- 'action' | 'sync'
  name            text NOT NULL,
  source_path     text NOT NULL,         -- relative to the functions folder
  problems        jsonb NOT NULL,        -- [{file, line, column, message}], sorted
  failed_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source_path)
);
