-- Execution search pages through one tenant's executions newest first, (start_time, trace_id) being the
-- cursor; without a service filter no other index serves that order for one tenant.
CREATE INDEX executions_recent ON executions (tenant_id, start_time DESC, trace_id DESC);

-- An execution's own metric points (the execution detail), found by trace id.
CREATE INDEX metric_points_trace ON metric_points (tenant_id, trace_id, time) WHERE trace_id IS NOT NULL;
