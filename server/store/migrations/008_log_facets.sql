-- Searches by type, state or status (the failed calls, the 5xx answers) read only the chunks
-- holding such operations: each chunk lists its distinct ones as 'type:proxy', 'state:failed',
-- 'status:503' (chunkFacets in server/store/logs.ts), in a GIN index. Without it such a search
-- read every chunk's text until its page was full: the whole table for a rare status.

ALTER TABLE log_chunks ADD COLUMN facets text[] COLLATE "C" NOT NULL DEFAULT '{}';

-- The chunks stored so far: fields 3, 5 and 11 of their COPY lines are type, state and status.
UPDATE log_chunks SET facets = ARRAY(
  SELECT DISTINCT facet
  FROM unnest(string_to_array(rtrim(data, E'\n'), E'\n')) AS line,
    LATERAL unnest(ARRAY[
      'type:' || split_part(line, E'\t', 3),
      'state:' || split_part(line, E'\t', 5),
      CASE WHEN split_part(line, E'\t', 11) <> '\N' THEN 'status:' || split_part(line, E'\t', 11) END
    ]) AS facet
  WHERE facet IS NOT NULL
);

ALTER TABLE log_chunks ALTER COLUMN facets DROP DEFAULT;
CREATE INDEX log_chunks_facets ON log_chunks USING gin (facets);

-- A search by connection id alone: the chunk index knows connections as 'integration<US>id',
-- so the search asks for that id under every integration key ever logged, listed here.
CREATE TABLE log_integrations (key text PRIMARY KEY);
INSERT INTO log_integrations (key) SELECT DISTINCT unnest(integrations) FROM log_chunks;
