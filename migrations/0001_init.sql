-- MPLP Trace schema. Every table carries tenant_id; every unique key of a hypertable includes its
-- time column, so a retried insert (BullMQ is at-least-once) is absorbed by ON CONFLICT.
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE tenants (
  id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  name            text NOT NULL,
  settings        jsonb NOT NULL DEFAULT '{}'::jsonb,
  settings_source text NOT NULL DEFAULT 'default' CHECK (settings_source IN ('default', 'file', 'api')),
  settings_hash   text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Only a SHA-256 of the secret part is kept; the key itself is shown once, at creation.
CREATE TABLE api_keys (
  id           text PRIMARY KEY,
  tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  key_hash     bytea NOT NULL,
  scopes       text[] NOT NULL,
  name         text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- The execution trace record (start / update / finish), or a trace that arrived as OTLP spans.
CREATE TABLE executions (
  tenant_id           text NOT NULL,
  trace_id            text NOT NULL,
  span_id             text NOT NULL,
  operation_name      text NOT NULL,
  service_name        text NOT NULL,
  operation_type      text,
  priority            text,
  status              text NOT NULL,
  source              text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'otlp')),
  start_time          timestamptz NOT NULL,
  end_time            timestamptz,
  duration_ms         double precision,
  context             jsonb NOT NULL DEFAULT '{}'::jsonb,
  tags                jsonb NOT NULL DEFAULT '{}'::jsonb,
  metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
  sampling_rate       double precision NOT NULL DEFAULT 1,
  trace_flags         integer NOT NULL DEFAULT 1,
  progress_percentage double precision,
  current_operation   text,
  metrics             jsonb NOT NULL DEFAULT '{}'::jsonb,
  custom_attributes   jsonb NOT NULL DEFAULT '{}'::jsonb,
  result              jsonb,
  errors              jsonb NOT NULL DEFAULT '[]'::jsonb,
  warnings            jsonb NOT NULL DEFAULT '[]'::jsonb,
  performance_score   double precision,
  -- sequence number of the last applied start/update/finish: updates apply in order, once
  last_seq            bigint NOT NULL DEFAULT 0,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, trace_id, start_time)
);
SELECT create_hypertable('executions', by_range('start_time', INTERVAL '1 day'));
CREATE INDEX executions_trace ON executions (tenant_id, trace_id);
CREATE INDEX executions_search ON executions (tenant_id, service_name, operation_name, start_time DESC);

CREATE TABLE execution_events (
  tenant_id  text NOT NULL,
  trace_id   text NOT NULL,
  time       timestamptz NOT NULL,
  event_key  text NOT NULL,
  event_name text NOT NULL,
  event_type text NOT NULL,
  metadata   jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (tenant_id, trace_id, time, event_key)
);
SELECT create_hypertable('execution_events', by_range('time', INTERVAL '1 day'));

-- OpenTelemetry span model. A duplicate export hits the primary key and is stored once.
CREATE TABLE spans (
  tenant_id           text NOT NULL,
  trace_id            text NOT NULL,
  span_id             text NOT NULL,
  parent_span_id      text,
  name                text NOT NULL,
  kind                smallint NOT NULL DEFAULT 0,
  status_code         smallint NOT NULL DEFAULT 0,
  status_message      text,
  service_name        text NOT NULL,
  scope_name          text,
  start_time          timestamptz NOT NULL,
  end_time            timestamptz NOT NULL,
  duration_ms         double precision NOT NULL,
  resource_attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  attributes          jsonb NOT NULL DEFAULT '{}'::jsonb,
  events              jsonb NOT NULL DEFAULT '[]'::jsonb,
  links               jsonb NOT NULL DEFAULT '[]'::jsonb,
  PRIMARY KEY (tenant_id, trace_id, span_id, start_time)
);
SELECT create_hypertable('spans', by_range('start_time', INTERVAL '1 day'));
CREATE INDEX spans_trace ON spans (tenant_id, trace_id);
CREATE INDEX spans_service ON spans (tenant_id, service_name, name, start_time DESC);

-- dedup_key: a hash of where the point came from (job and position, or an OTLP series), so the same
-- point written twice is one row while two real points with equal name and time stay two.
CREATE TABLE metric_points (
  tenant_id    text NOT NULL,
  time         timestamptz NOT NULL,
  name         text NOT NULL,
  value        double precision NOT NULL,
  service_name text NOT NULL DEFAULT '',
  trace_id     text,
  attributes   jsonb NOT NULL DEFAULT '{}'::jsonb,
  dedup_key    bigint NOT NULL,
  PRIMARY KEY (tenant_id, name, time, dedup_key)
);
SELECT create_hypertable('metric_points', by_range('time', INTERVAL '1 day'));
CREATE INDEX metric_points_service ON metric_points (tenant_id, service_name, name, time DESC);

-- One row per closed tumbling window of a series; late points upsert a corrected row (revision + 1).
CREATE TABLE metric_windows (
  tenant_id    text NOT NULL,
  series_key   text NOT NULL,
  metric_name  text NOT NULL,
  service_name text NOT NULL DEFAULT '',
  operation    text NOT NULL DEFAULT '',
  window_start timestamptz NOT NULL,
  window_end   timestamptz NOT NULL,
  count        bigint NOT NULL,
  sum          double precision NOT NULL,
  min          double precision NOT NULL,
  max          double precision NOT NULL,
  mean         double precision NOT NULL,
  variance     double precision NOT NULL,
  p50          double precision,
  p95          double precision,
  p99          double precision,
  late_count   integer NOT NULL DEFAULT 0,
  revision     integer NOT NULL DEFAULT 0,
  closed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, series_key, window_start)
);
SELECT create_hypertable('metric_windows', by_range('window_start', INTERVAL '7 days'));
CREATE INDEX metric_windows_metric ON metric_windows (tenant_id, metric_name, window_start DESC);

CREATE TABLE anomalies (
  tenant_id    text NOT NULL,
  series_key   text NOT NULL,
  metric_name  text NOT NULL,
  service_name text NOT NULL DEFAULT '',
  operation    text NOT NULL DEFAULT '',
  method       text NOT NULL CHECK (method IN ('ewma_zscore', 'threshold')),
  window_start timestamptz NOT NULL,
  window_end   timestamptz NOT NULL,
  observed     double precision NOT NULL,
  expected     double precision,
  sd           double precision,
  z            double precision,
  threshold    double precision,
  severity     text NOT NULL CHECK (severity IN ('warning', 'critical')),
  trace_id     text,
  detected_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, series_key, method, window_start)
);
SELECT create_hypertable('anomalies', by_range('window_start', INTERVAL '7 days'));
CREATE INDEX anomalies_tenant_time ON anomalies (tenant_id, window_start DESC);

-- EWMA state per series, advanced once per window (last_window_start guards replays).
CREATE TABLE detector_state (
  tenant_id         text NOT NULL,
  series_key        text NOT NULL,
  state             jsonb NOT NULL,
  last_window_start timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, series_key)
);

CREATE TABLE alerts (
  id               text PRIMARY KEY,
  tenant_id        text NOT NULL,
  series_key       text NOT NULL,
  rule             text NOT NULL,
  type             text NOT NULL,
  state            text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
  severity         text NOT NULL CHECK (severity IN ('warning', 'critical')),
  metric_name      text,
  service_name     text,
  trace_id         text,
  title            text NOT NULL,
  observed         double precision,
  expected         double precision,
  peak             double precision,
  occurrences      integer NOT NULL DEFAULT 1,
  normal_streak    integer NOT NULL DEFAULT 0,
  last_window_start timestamptz,
  opened_at        timestamptz NOT NULL DEFAULT now(),
  last_seen_at     timestamptz NOT NULL DEFAULT now(),
  last_notified_at timestamptz,
  acknowledged_at  timestamptz,
  resolved_at      timestamptz,
  details          jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- At most one live alert per (tenant, series, rule): the fold / escalate / resolve policy relies on it.
CREATE UNIQUE INDEX alerts_one_live ON alerts (tenant_id, series_key, rule) WHERE state <> 'resolved';
CREATE INDEX alerts_tenant_state ON alerts (tenant_id, state, opened_at DESC);

CREATE TABLE alert_deliveries (
  tenant_id    text NOT NULL,
  alert_id     text NOT NULL,
  channel_id   text NOT NULL,
  event_type   text NOT NULL,
  message_id   text NOT NULL,
  attempt      integer NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed', 'gone', 'refused')),
  status_code  integer,
  error        text,
  duration_ms  double precision,
  attempted_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, message_id, channel_id, attempt, attempted_at)
);
SELECT create_hypertable('alert_deliveries', by_range('attempted_at', INTERVAL '7 days'));
CREATE INDEX alert_deliveries_alert ON alert_deliveries (tenant_id, alert_id, attempted_at DESC);

-- Continuous aggregates. materialized_only = false: queries see the newest, not yet materialised
-- minutes too (real-time aggregation).
CREATE MATERIALIZED VIEW metric_points_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, name, service_name, time_bucket(INTERVAL '1 minute', time) AS bucket,
       count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
       sum(value * value) AS sum_sq,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95
FROM metric_points
GROUP BY tenant_id, name, service_name, bucket
WITH NO DATA;

CREATE MATERIALIZED VIEW metric_points_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, name, service_name, time_bucket(INTERVAL '1 hour', bucket) AS bucket,
       sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max, sum(sum_sq) AS sum_sq
FROM metric_points_1m
GROUP BY tenant_id, name, service_name, time_bucket(INTERVAL '1 hour', bucket)
WITH NO DATA;

-- RED per service and operation; duration buckets (ms, cumulative "le") keep p95 mergeable across buckets.
CREATE MATERIALIZED VIEW span_red_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, service_name, name AS operation, time_bucket(INTERVAL '1 minute', start_time) AS bucket,
       count(*) AS count,
       count(*) FILTER (WHERE status_code = 2) AS errors,
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
GROUP BY tenant_id, service_name, name, bucket
WITH NO DATA;

-- Policies: on a real server TimescaleDB's job scheduler runs them; the embedded database has no
-- background workers, so there the service refreshes the aggregates itself (src/db/AggregateRefresher.ts).
SELECT add_continuous_aggregate_policy('metric_points_1m', start_offset => INTERVAL '2 days', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
SELECT add_continuous_aggregate_policy('metric_points_1h', start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');
SELECT add_continuous_aggregate_policy('span_red_1m', start_offset => INTERVAL '2 days', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');

ALTER TABLE metric_points SET (timescaledb.compress, timescaledb.compress_segmentby = 'tenant_id, name', timescaledb.compress_orderby = 'time DESC');
ALTER TABLE spans SET (timescaledb.compress, timescaledb.compress_segmentby = 'tenant_id, service_name', timescaledb.compress_orderby = 'start_time DESC');
SELECT add_compression_policy('metric_points', compress_after => INTERVAL '7 days');
SELECT add_compression_policy('spans', compress_after => INTERVAL '7 days');

SELECT add_retention_policy('metric_points', drop_after => INTERVAL '30 days');
SELECT add_retention_policy('spans', drop_after => INTERVAL '30 days');
SELECT add_retention_policy('execution_events', drop_after => INTERVAL '30 days');
SELECT add_retention_policy('metric_windows', drop_after => INTERVAL '90 days');
SELECT add_retention_policy('alert_deliveries', drop_after => INTERVAL '90 days');
SELECT add_retention_policy('metric_points_1m', drop_after => INTERVAL '90 days');
SELECT add_retention_policy('span_red_1m', drop_after => INTERVAL '90 days');
SELECT add_retention_policy('metric_points_1h', drop_after => INTERVAL '400 days');
