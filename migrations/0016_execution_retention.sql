-- Executions are kept 30 days, as the spans and execution events they are read with (0001); before,
-- the hypertable grew forever. A daily chunk goes at the policy's first daily run after the whole day
-- is 30 days old: an execution is dropped 30 to 32 days after its start.
SELECT add_retention_policy('executions', drop_after => INTERVAL '30 days');

-- The claims of 0014 (one per trace that has an execution) get their time: when the claim was made.
-- The insert paths name only (tenant_id, trace_id), so the default fills it at no cost per row; the
-- claims there already take the migration's time (a constant default: no rewrite of the table), so
-- they live the full period from now on. Their index is BRIN: claims come in time order, so a block
-- range holds a narrow span of times and the prune reads only the old ranges, while an insert touches
-- no index page. Measured on a server: a btree on claimed_at took 1.4 MB per 150k claims, BRIN 24 kB
-- for 1.2M; backend CPU per claim 12.7 µs without either, 13.2 with BRIN, 14.4 with a btree.
ALTER TABLE execution_traces ADD COLUMN claimed_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX execution_traces_claimed ON execution_traces USING brin (claimed_at);

-- A claim goes 33 days after it was made, when its executions are gone: one that started as its trace
-- was claimed is dropped within 32 days (above), and its start may lie ahead of the claim by the clock
-- skew the API allows (MPLP_EVENT_MAX_FUTURE_SECONDS: 10 minutes by default, at most a day); one that
-- started before its claim (sent late, or queued) goes sooner. So while a trace's execution is stored,
-- its claim is too and no root span of the trace makes a second one. Once the claim is gone, a root
-- span of the trace becomes an execution again only if its own time is recent: the API refuses event
-- times older than 30 days (MPLP_EVENT_MAX_AGE_SECONDS), so no late root of the old trace comes; a
-- recent one (a trace id sent again, a trace running for more than a month) makes a new execution,
-- the only one stored for that trace, as for a new trace. Kept forever, the claims grew with every
-- trace ever executed, and such a root never became an execution.
-- Deleted in batches of at most batch_size rows, each committed, so the prune never holds locks or a
-- transaction long (a day's claims, 691k of 1.2M, went in 1.4-3.3 s on a loaded server).
CREATE PROCEDURE prune_execution_traces(job_id int, config jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  cutoff timestamptz := now() - coalesce((config ->> 'drop_after')::interval, INTERVAL '33 days');
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
SELECT add_job('prune_execution_traces', INTERVAL '1 day', config => '{"drop_after": "33 days", "batch_size": 10000}');
