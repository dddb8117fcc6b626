-- executions_trace_id (0004) indexed every execution by its trace id: a random key, so each root span of
-- an OTLP trace (most executions) dirtied a page of its own in an index that grows with the day's chunk,
-- half full from random splits. On a server whose chunk held 723k executions that index was most of a
-- root's insert: 134 roots 21-30 ms with it, 6-9 ms without; end to end over OTLP sets on that database,
-- 73-89 against 57-63 µs of the server's CPU per span (README §Performance, stop 33).
-- Lookups by trace id are nearly all of native executions (source 'api': updates, finish, timeouts, the
-- trace actors, the execution page's hand-offs), so the index keeps only those. An execution made from an
-- OTLP root span is found by its id (its trace id) through its trace's claim, which now holds its start
-- time: then its primary key (tenant_id, start_time, trace_id, span_id) finds it (src/db/executionByTrace.ts).
ALTER TABLE execution_traces ADD COLUMN start_time timestamptz;
COMMENT ON COLUMN execution_traces.start_time IS 'The start of the execution an OTLP root span made of this claim (NULL: a native execution''s claim, or none made)';
UPDATE execution_traces c SET start_time = x.start_time
FROM executions x
WHERE x.tenant_id = c.tenant_id AND x.trace_id = c.trace_id AND x.source = 'otlp' AND x.execution_id = x.trace_id;
DROP INDEX executions_trace_id;
CREATE INDEX executions_trace_id ON executions (trace_id) WHERE source = 'api';
