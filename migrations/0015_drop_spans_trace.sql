-- spans_trace (tenant_id, trace_id) is the first two columns of spans_pkey (tenant_id, trace_id, span_id,
-- start_time): every lookup of a trace's spans can use the primary key, and each span paid a second
-- btree insert for nothing (~5 µs of the server's CPU per span, bench/results/2026-12-02-roots-cost-index-ab.txt).
DROP INDEX IF EXISTS spans_trace;
