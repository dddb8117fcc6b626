import { Schema } from "effect"
import { Name, SpanId, Timestamp, TraceId, toEpochMs } from "./ids.ts"
import type { Issue } from "./issues.ts"
import {
  describeWindow, MAX_ATTRIBUTE_KEY_LENGTH, MAX_ATTRIBUTE_VALUE_LENGTH, MAX_ATTRIBUTES, MAX_DURATION_MS, MAX_NAME_LENGTH, outsideWindow,
  storableValue, VALUE_RANGE
} from "./limits.ts"
import type { TimeWindow } from "./limits.ts"

// Request bodies of the native ingestion API, with the seed's JSON field names.

const Finite = Schema.Number.pipe(Schema.finite({ message: () => "must be a finite number" }))
/** A number the pipeline computes with (windows, continuous aggregates): see MAX_VALUE_MAGNITUDE. */
const Value = Finite.pipe(Schema.filter((x) => storableValue(x) || `must be ${VALUE_RANGE}`))
const AttributeValue = Schema.Union(
  Schema.String.pipe(Schema.maxLength(MAX_ATTRIBUTE_VALUE_LENGTH, { message: () => `attribute values must be at most ${MAX_ATTRIBUTE_VALUE_LENGTH} characters` })),
  Finite,
  Schema.Boolean
)
/**
 * At most `max` entries, each key a non-empty name of at most `keyMax` characters. Checked as a filter:
 * a key refinement of Schema.Record would only skip the keys it does not match, silently.
 */
const boundedRecord = <V, I>(what: string, value: Schema.Schema<V, I>, max: number, keyMax: number) =>
  Schema.Record({ key: Schema.String, value }).pipe(Schema.filter((r) => {
    const keys = Object.keys(r)
    if (keys.length > max) return `at most ${max} ${what}s (got ${keys.length})`
    const bad = keys.find((k) => k.length === 0 || k.length > keyMax)
    return bad === undefined || { path: [bad], message: `${what} names must be 1-${keyMax} characters (got ${bad.length})` }
  }))
export const Attributes = boundedRecord("attribute", AttributeValue, MAX_ATTRIBUTES, MAX_ATTRIBUTE_KEY_LENGTH)
const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const ExecutionStatus = Schema.Literal("active", "paused", "completed", "failed", "cancelled", "timed_out")
export type ExecutionStatus = typeof ExecutionStatus.Type

export const StartExecutionRequest = Schema.Struct({
  operationName: Name("operationName"),
  serviceName: Name("serviceName"),
  context: Schema.Struct(
    { contextId: Schema.String, userId: Schema.String },
    Schema.Record({ key: Schema.String, value: Schema.Unknown })
  ),
  operationType: Schema.optional(Schema.String),
  priority: Schema.optional(Schema.String),
  tags: Schema.optional(Schema.Union(Schema.Array(Schema.String), Schema.Record({ key: Schema.String, value: Schema.String }))),
  metadata: Schema.optional(JsonObject),
  samplingRate: Schema.optional(Finite.pipe(Schema.between(0, 1, { message: () => "samplingRate must be between 0 and 1" }))),
  traceFlags: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.between(0, 255))),
  /** Optional W3C parent: continue an existing trace instead of starting a new one. */
  traceId: Schema.optional(TraceId),
  parentSpanId: Schema.optional(SpanId),
  /** The parent as a W3C `traceparent` (`00-<traceId>-<spanId>-<flags>`); the request's traceparent header is read too. */
  traceparent: Schema.optional(Schema.String)
}).annotations({ identifier: "StartExecutionRequest" })
export type StartExecutionRequest = typeof StartExecutionRequest.Type

export const StartExecutionResponse = Schema.Struct({
  /** The id of /api/executions/{id}: the trace id, or `<traceId>-<spanId>` for an execution with a parent. */
  executionId: Schema.String,
  traceId: Schema.String,
  spanId: Schema.String,
  /** The W3C traceparent of the execution's span: hand it to the agents and calls it makes. */
  traceparent: Schema.String,
  status: Schema.Literal("active"),
  startTime: Schema.String
}).annotations({ identifier: "StartExecutionResponse" })

export const ExecutionMetrics = boundedRecord("metric", Value, MAX_ATTRIBUTES, MAX_NAME_LENGTH).annotations({
  identifier: "ExecutionMetrics",
  description: "cpuUsagePercent, memoryUsageMb, memoryUsagePercent, responseTimeMs, errorRate, or any custom number"
})

export const ExecutionEvent = Schema.Struct({
  eventName: Name("eventName"),
  eventType: Name("eventType", 64),
  timestamp: Timestamp,
  metadata: Schema.optional(JsonObject)
})

export const ExecutionUpdate = Schema.Struct({
  progressPercentage: Schema.optional(Finite.pipe(Schema.between(0, 100, { message: () => "progressPercentage must be between 0 and 100" }))),
  currentOperation: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Literal("active", "paused")),
  metrics: Schema.optional(ExecutionMetrics),
  events: Schema.optional(Schema.Array(ExecutionEvent).pipe(Schema.maxItems(1000))),
  customAttributes: Schema.optional(JsonObject)
}).annotations({ identifier: "ExecutionUpdate" })
export type ExecutionUpdate = typeof ExecutionUpdate.Type

export const ExecutionResult = Schema.Struct({
  success: Schema.Boolean,
  errorMessage: Schema.optional(Schema.String),
  durationMs: Schema.optional(Value.pipe(Schema.between(0, MAX_DURATION_MS, { message: () => `durationMs must be between 0 and ${MAX_DURATION_MS}` }))),
  performanceScore: Schema.optional(Finite),
  finalMetrics: Schema.optional(ExecutionMetrics),
  errors: Schema.optional(Schema.Array(Schema.Unknown)),
  warnings: Schema.optional(Schema.Array(Schema.Unknown))
}).annotations({ identifier: "ExecutionResult" })
export type ExecutionResult = typeof ExecutionResult.Type

export const MetricPointInput = Schema.Struct({
  name: Name("name"),
  value: Value,
  time: Schema.optional(Timestamp),
  serviceName: Schema.optional(Name("serviceName")),
  traceId: Schema.optional(TraceId),
  attributes: Schema.optional(Attributes)
})

export const MetricsRequest = Schema.Struct({
  points: Schema.Array(MetricPointInput).pipe(
    Schema.minItems(1, { message: () => "points must not be empty" }),
    Schema.maxItems(50_000, { message: () => "at most 50000 points per request" })
  )
}).annotations({ identifier: "MetricsRequest" })
export type MetricsRequest = typeof MetricsRequest.Type

export const Accepted = Schema.Struct({
  accepted: Schema.Number,
  jobId: Schema.String,
  /** Points refused (new series over settings.limits.maxActiveSeries), with why. */
  rejected: Schema.optional(Schema.Number),
  message: Schema.optional(Schema.String)
}).annotations({ identifier: "Accepted" })
export const JobAccepted = Schema.Struct({ jobId: Schema.String }).annotations({ identifier: "JobAccepted" })

export const JobKind = Schema.Literal("metrics", "otlp-traces", "otlp-metrics")
export const JobRequest = Schema.Struct({
  kind: JobKind,
  payload: Schema.Unknown,
  idempotencyKey: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)))
}).annotations({ identifier: "JobRequest" })

export const JobStatus = Schema.Struct({
  jobId: Schema.String,
  kind: Schema.String,
  state: Schema.String,
  attempts: Schema.Number,
  failedReason: Schema.optional(Schema.String),
  createdAt: Schema.String,
  /** When a worker took the job (its last attempt): createdAt → startedAt is time spent queued. */
  startedAt: Schema.optional(Schema.String),
  finishedAt: Schema.optional(Schema.String)
}).annotations({ identifier: "JobStatus" })

/** The event times of a native request outside `w`, each named by its path (`points.3.time`). */
export const timeIssues = (w: TimeWindow, times: ReadonlyArray<readonly [path: string, time: typeof Timestamp.Type | undefined]>): Array<Issue> =>
  times.flatMap(([path, t]) => (t !== undefined && outsideWindow(w, toEpochMs(t)) ? [{ path, message: describeWindow(w) }] : [])).slice(0, 20)

export const metricTimes = (req: MetricsRequest, prefix = "") =>
  req.points.map((p, i) => [`${prefix}points.${i}.time`, p.time] as const)

export const eventTimes = (u: ExecutionUpdate) => (u.events ?? []).map((e, i) => [`events.${i}.timestamp`, e.timestamp] as const)
