-- An execution is a span of its trace: one started with a parent (a W3C traceparent) is a child span in
-- the caller's trace, so a trace may hold several executions, told apart by their span id. The first
-- execution of a trace goes by the trace id (as every execution did before), a later one by
-- `<traceId>-<spanId>`: that id is kept in execution_id, so lookups need not guess which is which.
ALTER TABLE executions ADD COLUMN parent_span_id text;
ALTER TABLE executions ADD COLUMN execution_id text;
UPDATE executions SET parent_span_id = metadata ->> 'parentSpanId' WHERE metadata ? 'parentSpanId';
UPDATE executions SET execution_id = trace_id;
ALTER TABLE executions ALTER COLUMN execution_id SET NOT NULL;
ALTER TABLE executions DROP CONSTRAINT executions_pkey;
ALTER TABLE executions ADD PRIMARY KEY (tenant_id, trace_id, span_id, start_time);

-- Events belong to one execution of the trace; their key (`<seq>.<i>`) is unique per execution only, so
-- a later execution's keys carry its span id (`<spanId>:<seq>.<i>`) and the id is kept for reading.
ALTER TABLE execution_events ADD COLUMN execution_id text;
UPDATE execution_events SET execution_id = trace_id;

-- Search pages by (start_time, trace_id, span_id), unique now that a trace may hold several executions.
DROP INDEX executions_recent;
CREATE INDEX executions_recent ON executions (tenant_id, start_time DESC, trace_id DESC, span_id DESC);
