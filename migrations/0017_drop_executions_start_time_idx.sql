-- executions_start_time_idx (start_time DESC) is the index create_hypertable makes by default. Every
-- statement on executions names its tenant or its trace (executions_recent, executions_search,
-- executions_trace_id and the primary key serve them), the retention policy (0016) drops whole chunks by
-- their time range, and no continuous aggregate reads the table: nothing scans it by time alone (no scan of
-- it in pg_stat_user_indexes after a day of benchmarks on a server), and every execution row paid
-- its btree insert (~3 µs of the server's CPU per root span, bench/rootsCost.ts).
-- spans_start_time_idx and metric_points_time_idx stay: the continuous aggregates' refreshes read the
-- last minutes of every tenant by time.
DROP INDEX IF EXISTS executions_start_time_idx;
