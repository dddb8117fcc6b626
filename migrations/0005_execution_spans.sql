-- An execution is a span of its trace: one started with a parent (a W3C traceparent) is a child span in
-- the caller's trace, so a trace may hold several executions, told apart by their span id.
ALTER TABLE executions ADD COLUMN parent_span_id text;
UPDATE executions SET parent_span_id = metadata ->> 'parentSpanId' WHERE metadata ? 'parentSpanId';
