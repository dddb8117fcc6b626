-- The trace context of the span that queued an evaluation (W3C traceparent): the alert job that applies
-- several producers' evaluations at once links its span to each of them.
ALTER TABLE pending_evaluations ADD COLUMN traceparent text;
