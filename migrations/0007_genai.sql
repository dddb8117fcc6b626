-- GenAI at ingest (src/ingest/genai): what a span says about agents, models, tools, tokens and cost,
-- normalised from the OpenTelemetry GenAI conventions (current and older) and OpenInference, priced with
-- the tenant's price table at the span's time. One nullable jsonb column rather than fifteen typed ones:
-- a plain span stores NULL (nothing, no wider row, no slower insert), the record can follow the
-- conventions as they move without a migration per attribute, and the continuous aggregates below
-- extract the typed values once, when they materialise.
ALTER TABLE spans ADD COLUMN genai jsonb;
-- Graph, per-execution totals and budgets read only the GenAI spans of a tenant's range.
CREATE INDEX spans_genai ON spans (tenant_id, start_time DESC) WHERE genai IS NOT NULL;
-- GenAI spans stored before their parent, waiting for the names it passes on (src/ingest/genai/derive.ts).
CREATE INDEX spans_genai_awaiting ON spans (tenant_id, trace_id, parent_span_id) WHERE genai ? 'awaitingParent';

-- Usage per minute and hour, by every dimension the usage endpoint groups by (empty string: not known).
-- Durations as cumulative le_* buckets (as span_red_1m): percentiles merge across minutes and groups.
-- kind says what the span was (model call, tool call, agent, other): calls and errors count the group's own kind.
CREATE MATERIALIZED VIEW genai_usage_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, time_bucket(INTERVAL '1 minute', start_time) AS bucket,
       coalesce(genai ->> 'model', '') AS model, coalesce(genai ->> 'agentName', '') AS agent, coalesce(genai ->> 'toolName', '') AS tool,
       service_name, coalesce(genai ->> 'userId', '') AS user_id, coalesce(genai ->> 'conversationId', '') AS conversation,
       coalesce(genai ->> 'operation', '') AS operation, coalesce(genai ->> 'provider', '') AS provider, coalesce(genai ->> 'kind', '') AS kind,
       count(*) AS calls,
       count(*) FILTER (WHERE (genai ->> 'error')::boolean) AS errors,
       sum(coalesce((genai ->> 'inputTokens')::float8, 0)) AS input_tokens,
       sum(coalesce((genai ->> 'outputTokens')::float8, 0)) AS output_tokens,
       sum(coalesce((genai ->> 'cacheReadTokens')::float8, 0)) AS cache_read_tokens,
       sum(coalesce((genai ->> 'cacheWriteTokens')::float8, 0)) AS cache_write_tokens,
       sum(coalesce((genai ->> 'costUsd')::float8, 0)) AS cost_usd,
       sum(coalesce((genai ->> 'unpricedTokens')::float8, 0)) AS unpriced_tokens,
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
WHERE genai IS NOT NULL
GROUP BY tenant_id, bucket, coalesce(genai ->> 'model', ''), coalesce(genai ->> 'agentName', ''), coalesce(genai ->> 'toolName', ''), service_name,
         coalesce(genai ->> 'userId', ''), coalesce(genai ->> 'conversationId', ''), coalesce(genai ->> 'operation', ''), coalesce(genai ->> 'provider', ''),
         coalesce(genai ->> 'kind', '')
WITH NO DATA;

CREATE MATERIALIZED VIEW genai_usage_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, time_bucket(INTERVAL '1 hour', bucket) AS bucket,
       model, agent, tool, service_name, user_id, conversation, operation, provider, kind,
       sum(calls)::bigint AS calls, sum(errors)::bigint AS errors,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens,
       sum(cache_write_tokens) AS cache_write_tokens, sum(cost_usd) AS cost_usd, sum(unpriced_tokens) AS unpriced_tokens,
       sum(duration_sum) AS duration_sum, min(duration_min) AS duration_min, max(duration_max) AS duration_max,
       sum(le_5)::bigint AS le_5,
       sum(le_10)::bigint AS le_10,
       sum(le_25)::bigint AS le_25,
       sum(le_50)::bigint AS le_50,
       sum(le_100)::bigint AS le_100,
       sum(le_250)::bigint AS le_250,
       sum(le_500)::bigint AS le_500,
       sum(le_1000)::bigint AS le_1000,
       sum(le_2500)::bigint AS le_2500,
       sum(le_5000)::bigint AS le_5000,
       sum(le_10000)::bigint AS le_10000,
       sum(le_30000)::bigint AS le_30000
FROM genai_usage_1m
GROUP BY tenant_id, time_bucket(INTERVAL '1 hour', bucket), model, agent, tool, service_name, user_id, conversation, operation, provider, kind
WITH NO DATA;

SELECT add_continuous_aggregate_policy('genai_usage_1m', start_offset => INTERVAL '2 days', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
SELECT add_continuous_aggregate_policy('genai_usage_1h', start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');
SELECT add_retention_policy('genai_usage_1m', drop_after => INTERVAL '90 days');
SELECT add_retention_policy('genai_usage_1h', drop_after => INTERVAL '400 days');
