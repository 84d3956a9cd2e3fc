-- GET /runs (the dashboard's Runs page): every run, newest first, paged by (created_at, id).
-- Filters (integration, connection, kind, state) narrow the walk down this index; a page of
-- 50 reads about 50 index entries when no filter is given.
CREATE INDEX function_runs_recent ON function_runs (created_at DESC, id DESC);
