-- GenAI records as typed columns of spans instead of 0007's jsonb: the hot path (insert, the usage
-- aggregate's refresh, loops, inheritance, graph, totals) read and write plain values, no JSON to build,
-- parse or extract per span. NULL for a plain span (genai_kind IS NULL): a plain span's row gains only
-- bits of its null bitmap, and a batch without a GenAI span is inserted without these columns at all.
-- Model = coalesce(genai_response_model, genai_request_model): usage is grouped and priced by it.
ALTER TABLE spans
  ADD COLUMN genai_kind text,
  ADD COLUMN genai_operation text,
  ADD COLUMN genai_provider text,
  ADD COLUMN genai_request_model text,
  ADD COLUMN genai_response_model text,
  ADD COLUMN genai_agent text,
  ADD COLUMN genai_agent_id text,
  ADD COLUMN genai_parent_agent text,
  ADD COLUMN genai_tool text,
  ADD COLUMN genai_conversation text,
  ADD COLUMN genai_workflow text,
  ADD COLUMN genai_user text,
  ADD COLUMN genai_error_type text,
  ADD COLUMN genai_error boolean,              -- true, or NULL (no error)
  ADD COLUMN genai_input_tokens double precision,
  ADD COLUMN genai_output_tokens double precision,
  ADD COLUMN genai_cache_read_tokens double precision,
  ADD COLUMN genai_cache_write_tokens double precision,
  ADD COLUMN genai_cost_usd double precision,
  ADD COLUMN genai_unpriced_tokens double precision, -- NULL: none
  -- Stored before its parent: the parent fills in the names it passes on when it comes (src/ingest/genai/derive.ts).
  ADD COLUMN genai_awaiting boolean;

-- The records 0007 stored, moved to the columns.
UPDATE spans SET
  genai_kind = genai ->> 'kind', genai_operation = genai ->> 'operation', genai_provider = genai ->> 'provider',
  genai_request_model = genai ->> 'requestModel', genai_response_model = coalesce(genai ->> 'responseModel', CASE WHEN genai ->> 'requestModel' IS NULL THEN genai ->> 'model' END),
  genai_agent = genai ->> 'agentName', genai_agent_id = genai ->> 'agentId', genai_parent_agent = genai ->> 'parentAgent',
  genai_tool = genai ->> 'toolName', genai_conversation = genai ->> 'conversationId', genai_workflow = genai ->> 'workflowName',
  genai_user = genai ->> 'userId', genai_error_type = genai ->> 'errorType', genai_error = CASE WHEN (genai ->> 'error')::boolean THEN true END,
  genai_input_tokens = (genai ->> 'inputTokens')::float8, genai_output_tokens = (genai ->> 'outputTokens')::float8,
  genai_cache_read_tokens = (genai ->> 'cacheReadTokens')::float8, genai_cache_write_tokens = (genai ->> 'cacheWriteTokens')::float8,
  genai_cost_usd = (genai ->> 'costUsd')::float8, genai_unpriced_tokens = nullif((genai ->> 'unpricedTokens')::float8, 0),
  genai_awaiting = CASE WHEN genai ? 'awaitingParent' THEN true END
WHERE genai IS NOT NULL;

-- The aggregates over the jsonb go (they are rebuilt below over the columns), then the jsonb itself
-- (its two partial indexes with it).
DROP MATERIALIZED VIEW genai_usage_1h;
DROP MATERIALIZED VIEW genai_usage_1m;
ALTER TABLE spans DROP COLUMN genai;

CREATE INDEX spans_genai ON spans (tenant_id, start_time DESC) WHERE genai_kind IS NOT NULL;
CREATE INDEX spans_genai_awaiting ON spans (tenant_id, trace_id, parent_span_id) WHERE genai_awaiting;

-- Usage per minute and hour, by the dimensions the usage endpoint and the budgets group by (empty
-- string: not known); operation and provider, which nothing groups by, are no longer grouped (fewer,
-- narrower groups to materialise). kind says what the span was: calls and errors count the group's own kind.
CREATE MATERIALIZED VIEW genai_usage_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, time_bucket(INTERVAL '1 minute', start_time) AS bucket,
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

CREATE MATERIALIZED VIEW genai_usage_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, time_bucket(INTERVAL '1 hour', bucket) AS bucket,
       model, agent, tool, service_name, user_id, conversation, kind,
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
GROUP BY tenant_id, time_bucket(INTERVAL '1 hour', bucket), model, agent, tool, service_name, user_id, conversation, kind
WITH NO DATA;

SELECT add_continuous_aggregate_policy('genai_usage_1m', start_offset => INTERVAL '2 days', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
SELECT add_continuous_aggregate_policy('genai_usage_1h', start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');
SELECT add_retention_policy('genai_usage_1m', drop_after => INTERVAL '90 days');
SELECT add_retention_policy('genai_usage_1h', drop_after => INTERVAL '400 days');
