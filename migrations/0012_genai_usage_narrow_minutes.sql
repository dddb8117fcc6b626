-- The per-minute usage aggregate was grouped by user and conversation too: nearly a group per GenAI
-- span per minute (a conversation's calls seldom share a minute), each materialised, then read again by
-- the hourly one. Per minute it is now grouped by what the budgets' 1h/24h windows, the detector-facing
-- usage series and the console read most (model, agent, tool, service, kind); user and conversation
-- are grouped per hour only, straight from spans (no longer on top of the minutes), and the usage
-- endpoint and the budgets add the partial hours at a range's edges from the spans themselves
-- (src/query/genaiUsage.ts, src/alerting/budgets.ts). Both are rebuilt from the spans by their
-- policies (the hourly one over the spans' whole 30-day retention).
DROP MATERIALIZED VIEW genai_usage_1h;
DROP MATERIALIZED VIEW genai_usage_1m;

CREATE MATERIALIZED VIEW genai_usage_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, time_bucket(INTERVAL '1 minute', start_time) AS bucket,
       coalesce(genai_response_model, genai_request_model, '') AS model, coalesce(genai_agent, '') AS agent, coalesce(genai_tool, '') AS tool,
       service_name, genai_kind AS kind,
       count(*) AS calls,
       count(*) FILTER (WHERE genai_error) AS errors,
       sum(coalesce(genai_input_tokens, 0)) AS input_tokens,
       sum(coalesce(genai_output_tokens, 0)) AS output_tokens,
       sum(coalesce(genai_cache_read_tokens, 0)) AS cache_read_tokens,
       sum(coalesce(genai_cache_write_tokens, 0)) AS cache_write_tokens,
       sum(coalesce(genai_cost_usd, 0)) AS cost_usd,
       sum(coalesce(genai_unpriced_tokens, 0)) AS unpriced_tokens,
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
WHERE genai_kind IS NOT NULL
GROUP BY tenant_id, bucket, coalesce(genai_response_model, genai_request_model, ''), coalesce(genai_agent, ''), coalesce(genai_tool, ''), service_name, genai_kind
WITH NO DATA;

CREATE MATERIALIZED VIEW genai_usage_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, time_bucket(INTERVAL '1 hour', start_time) AS bucket,
       coalesce(genai_response_model, genai_request_model, '') AS model, coalesce(genai_agent, '') AS agent, coalesce(genai_tool, '') AS tool,
       service_name, coalesce(genai_user, '') AS user_id, coalesce(genai_conversation, '') AS conversation, genai_kind AS kind,
       count(*) AS calls,
       count(*) FILTER (WHERE genai_error) AS errors,
       sum(coalesce(genai_input_tokens, 0)) AS input_tokens,
       sum(coalesce(genai_output_tokens, 0)) AS output_tokens,
       sum(coalesce(genai_cache_read_tokens, 0)) AS cache_read_tokens,
       sum(coalesce(genai_cache_write_tokens, 0)) AS cache_write_tokens,
       sum(coalesce(genai_cost_usd, 0)) AS cost_usd,
       sum(coalesce(genai_unpriced_tokens, 0)) AS unpriced_tokens,
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
WHERE genai_kind IS NOT NULL
GROUP BY tenant_id, bucket, coalesce(genai_response_model, genai_request_model, ''), coalesce(genai_agent, ''), coalesce(genai_tool, ''), service_name,
         coalesce(genai_user, ''), coalesce(genai_conversation, ''), genai_kind
WITH NO DATA;

SELECT add_continuous_aggregate_policy('genai_usage_1m', start_offset => INTERVAL '2 days', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
SELECT add_continuous_aggregate_policy('genai_usage_1h', start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');
SELECT add_retention_policy('genai_usage_1m', drop_after => INTERVAL '90 days');
SELECT add_retention_policy('genai_usage_1h', drop_after => INTERVAL '400 days');

-- As 0010: only the (tenant_id, bucket) index of each materialisation, which every reader uses.
DO $$
DECLARE
  ix record;
BEGIN
  FOR ix IN
    SELECT format('%I.%I', i.schemaname, i.indexname) AS name
    FROM _timescaledb_catalog.continuous_agg c
    JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    JOIN pg_indexes i ON i.schemaname = h.schema_name AND i.tablename = h.table_name
    WHERE c.user_view_name IN ('genai_usage_1m', 'genai_usage_1h') AND i.indexdef !~ '\((tenant_id, )?bucket DESC\)$'
  LOOP
    EXECUTE 'DROP INDEX ' || ix.name;
  END LOOP;
END
$$;
