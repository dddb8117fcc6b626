import { Schema } from "effect"
import { IngestJob } from "./jobs.ts"
import { fromMetricColumns, MetricColumnsJob } from "./metricColumns.ts"
import { fromSpanColumns, SpanColumnsJob } from "./spanColumns.ts"

// The ingest queue's jobs as they travel through Redis: metrics and spans as columns
// (src/domain/metricColumns.ts, src/domain/spanColumns.ts), the others as their `IngestJob`. Workers
// decode the row forms too (jobs queued before an upgrade): upgrade workers before or with the API.

/** What the ingest queue's worker decodes: every ingest job, and metrics and spans in either form. */
export const IngestJobWire = Schema.Union(...IngestJob.members, MetricColumnsJob, SpanColumnsJob)
export type IngestJobWire = typeof IngestJobWire.Type
export type IngestJobWireEncoded = typeof IngestJobWire.Encoded

/** The job as the stage handles it (a columns job back in rows). */
export const ingestJobOfWire = (job: IngestJobWire): IngestJob =>
  job._tag === "metrics-columns" ? fromMetricColumns(job) : job._tag === "spans-columns" ? fromSpanColumns(job) : job
