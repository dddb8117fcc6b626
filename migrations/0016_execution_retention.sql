-- Executions are kept 30 days, as the spans and execution events they are read with (0001); before,
-- the hypertable grew forever. A daily chunk goes once its whole day is older than 30 days, so an
-- execution lives 30 to 31 days.
SELECT add_retention_policy('executions', drop_after => INTERVAL '30 days');

-- The claims of 0014 (one per trace that has an execution) get their time: when the claim was made.
-- The insert paths name only (tenant_id, trace_id), so the default fills it at no cost per row; the
-- claims there already take the migration's time (a constant default: no rewrite of the table) and
-- so live the full period from now on. Their index is BRIN: claims come in time order, so a block
-- range holds a narrow span of times and the daily delete reads only the old ranges, while an insert
-- touches no index page (a btree would cost every claim one more insert: 0015 measured ~5 µs a row).
ALTER TABLE execution_traces ADD COLUMN claimed_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX execution_traces_claimed ON execution_traces USING brin (claimed_at);

-- A claim may go after 32 days. Its executions are gone by then: one started when it was claimed lives
-- at most 31 days (above), plus at most the allowed clock skew when its start lay ahead of the claim
-- (MPLP_EVENT_MAX_FUTURE_SECONDS, at most a day; 10 minutes by default); one started earlier goes
-- earlier. Every other span of such a trace is older than the event-age bound (30 days) and refused at
-- the API. A root span of the trace whose own time is recent (a trace id sent again, or a trace running
-- for more than a month) claims it anew and becomes a new execution: the old one is gone, so it is the
-- trace's only execution, as a new trace's would be. Kept forever, the claims made this table grow with
-- every trace ever executed, and such a root would never become an execution.
-- Deleted in batches of at most batch_size rows, each committed, so a day's claims never hold their
-- locks or a long transaction; the cut-off is taken once, so claims keep coming meanwhile unharmed.
CREATE PROCEDURE prune_execution_traces(job_id int, config jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  cutoff timestamptz := now() - coalesce((config ->> 'drop_after')::interval, INTERVAL '32 days');
  batch int := coalesce((config ->> 'batch_size')::int, 10000);
  deleted bigint;
BEGIN
  LOOP
    DELETE FROM execution_traces
    WHERE ctid = ANY (ARRAY(SELECT ctid FROM execution_traces WHERE claimed_at < cutoff LIMIT batch));
    GET DIAGNOSTICS deleted = ROW_COUNT;
    COMMIT;
    EXIT WHEN deleted < batch;
  END LOOP;
END
$$;

-- TimescaleDB's scheduler runs it daily on a server; in embedded mode the service runs it with the
-- policies (src/db/AggregateRefresher.ts).
SELECT add_job('prune_execution_traces', INTERVAL '1 day', config => '{"drop_after": "32 days", "batch_size": 10000}');
