-- The alert policy's state per (tenant, series, rule): advanced once per window in the same
-- transaction as the alert rows and notifications it produces.
CREATE TABLE alert_policy_state (
  tenant_id  text NOT NULL,
  series_key text NOT NULL,
  rule       text NOT NULL,
  state      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, series_key, rule)
);

-- The outbox of notifications: written with the alert change, then fanned out to channels as
-- delivery jobs. A notification still undispatched after a crash is picked up by a sweeper.
CREATE TABLE alert_notifications (
  tenant_id     text NOT NULL,
  message_id    text NOT NULL,
  alert_id      text,
  event_type    text NOT NULL,
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  dispatched_at timestamptz,
  PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX alert_notifications_pending ON alert_notifications (created_at) WHERE dispatched_at IS NULL;

-- Detection walks each tenant's closed windows in order, exactly once: a window is evaluated in the
-- same transaction that advances its series' detector and marks it evaluated.
ALTER TABLE metric_windows ADD COLUMN evaluated_at timestamptz;
CREATE INDEX metric_windows_unevaluated ON metric_windows (tenant_id, window_start) WHERE evaluated_at IS NULL;

-- One row per (tenant, stage), locked by the stage's transaction: two workers never interleave one
-- tenant's windows or evaluations, whatever order their jobs arrive in.
CREATE TABLE pipeline_cursor (
  tenant_id text NOT NULL,
  stage     text NOT NULL,
  PRIMARY KEY (tenant_id, stage)
);

-- Evaluations handed from detection to the alert policy, in order (id), consumed exactly once.
CREATE TABLE pending_evaluations (
  id         bigserial PRIMARY KEY,
  tenant_id  text NOT NULL,
  payload    jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_evaluations_tenant ON pending_evaluations (tenant_id, id);
