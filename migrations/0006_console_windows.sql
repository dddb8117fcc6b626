-- The detector's view of each window it evaluated: the EWMA level and standard deviation before the
-- window, and the window's z (null while the series warms up, or when the detector is off). The console
-- draws the expected band from them (GET /api/metrics/windows).
ALTER TABLE metric_windows ADD COLUMN expected double precision;
ALTER TABLE metric_windows ADD COLUMN sd double precision;
ALTER TABLE metric_windows ADD COLUMN z double precision;

-- An alert's notifications (GET /api/alerts/{id}); event alerts' message ids do not start with the alert id.
CREATE INDEX alert_notifications_alert ON alert_notifications (tenant_id, alert_id, created_at) WHERE alert_id IS NOT NULL;
