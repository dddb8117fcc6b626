-- Does this trace already have an execution? (An OTLP root span becomes one only if not.) Probed by
-- trace id alone, the tenant then checked on the row: a tenant-first probe is at the mercy of the
-- tenant's statistics. A tenant new or grown since the last ANALYZE is estimated at one row, and the
-- planner then may walk executions_recent over all of that tenant's executions for every probe
-- (measured: 83 us -> 2.7 ms per root span, growing with the tenant). Lookups by (tenant, trace) use
-- the primary key (tenant_id, trace_id, start_time), which made executions_trace redundant.
DROP INDEX executions_trace;
CREATE INDEX executions_trace_id ON executions (trace_id);
