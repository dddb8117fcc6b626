import { Schema } from "effect"
import { ExecutionResult, ExecutionUpdate, StartExecutionRequest } from "./ingest.ts"

// The contracts between stages: what a job on each queue carries. Decoded again on dequeue.

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const MetricRow = Schema.Struct({
  name: Schema.String,
  value: Schema.Number,
  timeMs: Schema.Number,
  serviceName: Schema.String,
  traceId: Schema.NullOr(Schema.String),
  attributes: Json
})
export type MetricRow = typeof MetricRow.Type

export const SpanRow = Schema.Struct({
  traceId: Schema.String,
  spanId: Schema.String,
  parentSpanId: Schema.NullOr(Schema.String),
  name: Schema.String,
  kind: Schema.Number,
  statusCode: Schema.Number,
  statusMessage: Schema.NullOr(Schema.String),
  startTimeMs: Schema.Number,
  endTimeMs: Schema.Number,
  durationMs: Schema.Number,
  serviceName: Schema.String,
  scopeName: Schema.NullOr(Schema.String),
  resourceAttributes: Json,
  attributes: Json,
  events: Schema.Array(Schema.Unknown),
  links: Schema.Array(Schema.Unknown)
})
export type SpanRow = typeof SpanRow.Type

/**
 * The W3C traceparent of the span that enqueued the job: the stage's span continues that trace.
 * Optional: jobs queued before it existed, and jobs enqueued outside any span, have none.
 */
export const TraceCarrier = { traceparent: Schema.optional(Schema.String) }

const Base = { tenantId: Schema.String, receivedAtMs: Schema.Number, ...TraceCarrier }

/** Native points are deduplicated by job and position; OTLP points by their series and time. */
export const MetricsJob = Schema.TaggedStruct("metrics", { ...Base, source: Schema.Literal("native", "otlp"), points: Schema.Array(MetricRow) })
export const SpansJob = Schema.TaggedStruct("spans", { ...Base, spans: Schema.Array(SpanRow) })
/**
 * `executionId` (the trace id, or `<traceId>-<spanId>` for a later execution of the trace) is optional
 * only so that jobs queued before it existed still decode: they meant their trace id.
 */
const ExecutionRef = { traceId: Schema.String, executionId: Schema.optional(Schema.String) }
export const executionIdOfJob = (job: { readonly traceId: string; readonly executionId?: string | undefined }) => job.executionId ?? job.traceId

export const ExecutionStartJob = Schema.TaggedStruct("execution-start", {
  ...Base,
  ...ExecutionRef,
  spanId: Schema.String,
  parentSpanId: Schema.NullOr(Schema.String),
  startTimeMs: Schema.Number,
  request: StartExecutionRequest
})
/** `seq` orders the updates of one execution (start is 1): they apply in that order, each once. */
export const ExecutionUpdateJob = Schema.TaggedStruct("execution-update", {
  ...Base,
  ...ExecutionRef,
  seq: Schema.Number,
  update: ExecutionUpdate
})
export const ExecutionFinishJob = Schema.TaggedStruct("execution-finish", {
  ...Base,
  ...ExecutionRef,
  seq: Schema.Number,
  result: ExecutionResult
})

export const IngestJob = Schema.Union(MetricsJob, SpansJob, ExecutionStartJob, ExecutionUpdateJob, ExecutionFinishJob)
export type IngestJob = typeof IngestJob.Type
export type IngestJobEncoded = typeof IngestJob.Encoded
