-- Does this trace already have an execution? One row per trace that has one (native or from an OTLP
-- root span), in a plain table: an OTLP root span claims its trace here (INSERT … ON CONFLICT DO
-- NOTHING) and becomes an execution only when the claim is new (src/ingest/persist.ts,
-- upsertSpanExecutions); a native start registers its trace in the same way (src/ingest/executions.ts).
-- It replaces 0004's probe of executions by trace id, which has no time bound and so searched every
-- chunk of the hypertable, one index per day of executions, for every root span, and planned every
-- chunk for every batch (measured on a server with 61 daily chunks: bench/rootsCost.ts). The claim
-- is one probe of one index whatever the table's age, and its primary key makes two batches holding
-- roots of the same trace, stored at the same moment, give one execution.
CREATE TABLE execution_traces (
  tenant_id text NOT NULL,
  trace_id  text NOT NULL,
  PRIMARY KEY (tenant_id, trace_id)
);
INSERT INTO execution_traces (tenant_id, trace_id) SELECT DISTINCT tenant_id, trace_id FROM executions;
