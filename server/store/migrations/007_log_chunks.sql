-- Log operations are stored a batch at a time: one log_chunks row holds up to a thousand
-- operations as their COPY text lines (written by server/logs/writer.ts, read back by
-- server/store/logs.ts), with what the reads filter on beside them. A row per operation cost
-- PostgreSQL 8-11 µs of CPU per proxy call under load (tuple, WAL, three indexes); a chunk
-- costs it 2-3 µs per call, which took the proxy from 75 % to 90 % of a bare forwarder's
-- throughput on a 2-core machine.

CREATE TABLE log_chunks (
  id             uuid PRIMARY KEY,          -- per batch; a batch sent twice is stored once
  first_started  timestamptz NOT NULL,      -- the earliest started_at among its operations
  last_started   timestamptz NOT NULL,      -- the latest
  created        tstzrange NOT NULL,        -- the creation times in its operations' ids (UUIDv7)
  row_count      integer NOT NULL,
  integrations   text[] NOT NULL,           -- distinct integration keys
  connections    text[] NOT NULL,           -- distinct integration key || E'\x1f' || connection id
  parents        uuid[] NOT NULL,           -- distinct parent operation ids
  data           text NOT NULL              -- the operations, one COPY text line each
);
-- Already compact text, read whole: stored out of line without a compression pass per write.
ALTER TABLE log_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE INDEX log_chunks_last_started ON log_chunks (last_started DESC);
CREATE INDEX log_chunks_created ON log_chunks USING gist (created);
CREATE INDEX log_chunks_integrations ON log_chunks USING gin (integrations);
CREATE INDEX log_chunks_connections ON log_chunks USING gin (connections);
CREATE INDEX log_chunks_parents ON log_chunks USING gin (parents);

-- The rows stored so far move into chunks of a thousand, in the order they started.
CREATE FUNCTION pg_temp.copy_field(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN value IS NULL THEN '\N'
    ELSE replace(replace(replace(replace(value, '\', '\\'), E'\n', '\n'), E'\r', '\r'), E'\t', '\t') END
$$;
CREATE FUNCTION pg_temp.iso(value timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
-- A UUIDv7's first 48 bits are its creation time in milliseconds; other ids count as their start.
CREATE FUNCTION pg_temp.created_at(id uuid, started timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN substr(id::text, 15, 1) = '7'
    THEN to_timestamp(('x' || lpad(substr(replace(id::text, '-', ''), 1, 12), 16, '0'))::bit(64)::bigint / 1000.0)
    ELSE started END
$$;

INSERT INTO log_chunks (id, first_started, last_started, created, row_count, integrations, connections, parents, data)
SELECT gen_random_uuid(), min(started_at), max(started_at),
       tstzrange(min(pg_temp.created_at(id, started_at)), max(pg_temp.created_at(id, started_at)), '[]'),
       count(*),
       coalesce(array_agg(DISTINCT integration_key) FILTER (WHERE integration_key IS NOT NULL), '{}'),
       coalesce(array_agg(DISTINCT integration_key || E'\x1f' || connection_id) FILTER (WHERE integration_key IS NOT NULL AND connection_id IS NOT NULL), '{}'),
       coalesce(array_agg(DISTINCT parent_id) FILTER (WHERE parent_id IS NOT NULL), '{}'),
       string_agg(line, '' ORDER BY started_at, id)
FROM (
  SELECT *,
         concat_ws(E'\t', id::text, coalesce(parent_id::text, '\N'), pg_temp.copy_field(type), pg_temp.copy_field(action),
                   pg_temp.copy_field(state), pg_temp.copy_field(level), pg_temp.copy_field(integration_key),
                   pg_temp.copy_field(connection_id), pg_temp.copy_field(method), pg_temp.copy_field(url),
                   coalesce(status::text, '\N'), pg_temp.copy_field(error::text), pg_temp.copy_field(attempts::text),
                   pg_temp.copy_field(request::text), pg_temp.copy_field(response::text), pg_temp.copy_field(messages::text),
                   pg_temp.iso(started_at), coalesce(pg_temp.iso(ended_at), '\N'), coalesce(duration_ms::text, '\N')) || E'\n' AS line,
         (row_number() OVER (ORDER BY started_at, id) - 1) / 1000 AS chunk
  FROM log_operations
) AS lines
GROUP BY chunk;

DROP TABLE log_operations;
