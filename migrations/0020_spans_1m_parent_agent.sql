-- The agent graph (GET /api/genai/graph) from the per-minute aggregate instead of the spans. Its edges
-- are known at ingest: a model or tool call names the agent it ran under (agent), an agent span the agent
-- that invoked it (genai_parent_agent, set on agent spans only). spans_1m gains that last column, so the
-- graph adds up minutes (p95 from the le_* buckets, as usage does) where it scanned and sorted every GenAI
-- span of its range: a day of a busy tenant's agents was a day of its spans, now 1,440 minutes of groups, and
-- a week is as cheap. A plain span's parent_agent is NULL and an agent has one invoker as a rule, so the
-- groups are those of 0013. span_red_1m and genai_usage_1m, views over it, are made again as they were;
-- the aggregate is rebuilt from the spans by its policy (on the embedded database, by the service's refresh).
DROP VIEW span_red_1m;
DROP VIEW genai_usage_1m;
DROP MATERIALIZED VIEW spans_1m;

CREATE MATERIALIZED VIEW spans_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, service_name, name AS operation, time_bucket(INTERVAL '1 minute', start_time) AS bucket,
       genai_kind AS kind, coalesce(genai_response_model, genai_request_model) AS model, genai_agent AS agent, genai_tool AS tool,
       genai_parent_agent AS parent_agent,
       count(*) AS count,
       count(*) FILTER (WHERE status_code = 2) AS errors,
       count(*) FILTER (WHERE genai_error) AS genai_errors,
       sum(genai_input_tokens) AS input_tokens,
       sum(genai_output_tokens) AS output_tokens,
       sum(genai_cache_read_tokens) AS cache_read_tokens,
       sum(genai_cache_write_tokens) AS cache_write_tokens,
       sum(genai_cost_usd) AS cost_usd,
       sum(genai_unpriced_tokens) AS unpriced_tokens,
       sum(duration_ms) AS duration_sum, min(duration_ms) AS duration_min, max(duration_ms) AS duration_max,
       count(*) FILTER (WHERE duration_ms <= 5) AS le_5,
       count(*) FILTER (WHERE duration_ms <= 10) AS le_10,
       count(*) FILTER (WHERE duration_ms <= 25) AS le_25,
       count(*) FILTER (WHERE duration_ms <= 50) AS le_50,
       count(*) FILTER (WHERE duration_ms <= 100) AS le_100,
       count(*) FILTER (WHERE duration_ms <= 250) AS le_250,
       count(*) FILTER (WHERE duration_ms <= 500) AS le_500,
       count(*) FILTER (WHERE duration_ms <= 1000) AS le_1000,
       count(*) FILTER (WHERE duration_ms <= 2500) AS le_2500,
       count(*) FILTER (WHERE duration_ms <= 5000) AS le_5000,
       count(*) FILTER (WHERE duration_ms <= 10000) AS le_10000,
       count(*) FILTER (WHERE duration_ms <= 30000) AS le_30000
FROM spans
GROUP BY tenant_id, service_name, name, time_bucket(INTERVAL '1 minute', start_time), genai_kind, coalesce(genai_response_model, genai_request_model), genai_agent, genai_tool, genai_parent_agent
WITH NO DATA;

-- As far back as the spans are kept (their retention drops them after 30 days; a refresh over dropped
-- chunks would empty the minutes it covers); past the first run only what inserts invalidated is redone.
SELECT add_continuous_aggregate_policy('spans_1m', start_offset => INTERVAL '29 days', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
SELECT add_retention_policy('spans_1m', drop_after => INTERVAL '90 days');

-- As 0010: only the (tenant_id, bucket) index of the materialisation, which every reader uses.
DO $$
DECLARE
  ix record;
BEGIN
  FOR ix IN
    SELECT format('%I.%I', i.schemaname, i.indexname) AS name
    FROM _timescaledb_catalog.continuous_agg c
    JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    JOIN pg_indexes i ON i.schemaname = h.schema_name AND i.tablename = h.table_name
    WHERE c.user_view_name = 'spans_1m' AND i.indexdef !~ '\((tenant_id, )?bucket DESC\)$'
  LOOP
    EXECUTE 'DROP INDEX ' || ix.name;
  END LOOP;
END
$$;

CREATE VIEW span_red_1m AS
SELECT tenant_id, service_name, operation, bucket,
       sum(count)::bigint AS count, sum(errors)::bigint AS errors,
       sum(duration_sum) AS duration_sum, min(duration_min) AS duration_min, max(duration_max) AS duration_max,
       sum(le_5)::bigint AS le_5, sum(le_10)::bigint AS le_10, sum(le_25)::bigint AS le_25, sum(le_50)::bigint AS le_50,
       sum(le_100)::bigint AS le_100, sum(le_250)::bigint AS le_250, sum(le_500)::bigint AS le_500, sum(le_1000)::bigint AS le_1000,
       sum(le_2500)::bigint AS le_2500, sum(le_5000)::bigint AS le_5000, sum(le_10000)::bigint AS le_10000, sum(le_30000)::bigint AS le_30000
FROM spans_1m
GROUP BY tenant_id, service_name, operation, bucket;

CREATE VIEW genai_usage_1m AS
SELECT tenant_id, bucket, coalesce(model, '') AS model, coalesce(agent, '') AS agent, coalesce(tool, '') AS tool, service_name, kind,
       sum(count)::bigint AS calls, sum(genai_errors)::bigint AS errors,
       coalesce(sum(input_tokens), 0)::bigint AS input_tokens, coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
       coalesce(sum(cache_read_tokens), 0)::bigint AS cache_read_tokens, coalesce(sum(cache_write_tokens), 0)::bigint AS cache_write_tokens,
       coalesce(sum(cost_usd), 0) AS cost_usd, coalesce(sum(unpriced_tokens), 0)::bigint AS unpriced_tokens,
       sum(duration_sum) AS duration_sum, min(duration_min) AS duration_min, max(duration_max) AS duration_max,
       sum(le_5)::bigint AS le_5, sum(le_10)::bigint AS le_10, sum(le_25)::bigint AS le_25, sum(le_50)::bigint AS le_50,
       sum(le_100)::bigint AS le_100, sum(le_250)::bigint AS le_250, sum(le_500)::bigint AS le_500, sum(le_1000)::bigint AS le_1000,
       sum(le_2500)::bigint AS le_2500, sum(le_5000)::bigint AS le_5000, sum(le_10000)::bigint AS le_10000, sum(le_30000)::bigint AS le_30000
FROM spans_1m
WHERE kind IS NOT NULL
GROUP BY tenant_id, bucket, coalesce(model, ''), coalesce(agent, ''), coalesce(tool, ''), service_name, kind;
