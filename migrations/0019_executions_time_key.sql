-- The primary key of executions in time order within a tenant: (tenant_id, start_time, trace_id, span_id),
-- the columns of 0005's key in the order of executions_recent, which it replaces. Both keys hold the same
-- four columns, so what is unique (what every `ON CONFLICT DO NOTHING` finds taken) is unchanged.
-- The old key put the random trace id right after the tenant: each execution of a tenant that has stored
-- many went to a random leaf of its part of the day's chunk index, a page dirtied (and after every
-- checkpoint a full page written to the WAL) per row. In time order a tenant's new executions go where
-- its last ones went. Nothing looked executions up by (tenant, trace) through the key: lookups by trace
-- go through executions_trace_id with the tenant checked on the row (src/db/executionByTrace.ts, 0004),
-- whether a trace has an execution through execution_traces (0014); a tenant's newest executions (search
-- pages, the service graph) and its time ranges read this key forwards or backwards as they read
-- executions_recent. Each execution stored updates three indexes, not four.
-- Measured on a TimescaleDB server (bench/rootsCost.ts with ROOTS_ESTABLISHED=1: tenants of 150,000
-- executions each, 3.1M in the day's chunk; three alternating sets): the roots' statement 81 -> 64 µs of
-- the server's CPU per root, 11.3 -> 8.2 KB of WAL per root; 520 -> 390 pages dirtied by 125 roots
-- after a checkpoint.
-- Upgrading rebuilds the key of every chunk of executions under the table's lock: 8.8 s for 3.1M rows on
-- that server (2.8 µs a row; retention keeps 30 days, 0016); statements on executions wait for it meanwhile.
ALTER TABLE executions DROP CONSTRAINT executions_pkey;
ALTER TABLE executions ADD PRIMARY KEY (tenant_id, start_time, trace_id, span_id);
DROP INDEX executions_recent;
