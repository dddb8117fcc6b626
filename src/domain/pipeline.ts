import { Schema } from "effect"
import { WindowAggSchema } from "./windowAgg.ts"
import { TraceCarrier } from "./jobs.ts"

// Contracts of the aggregate, detect and alert queues. Decoded again on dequeue.

/** A series: one metric of one service (and operation, for span-derived RED series). */
export const Series = Schema.Struct({
  metricName: Schema.String,
  serviceName: Schema.String,
  operation: Schema.String
})
export type Series = typeof Series.Type

const part = (s: string) => s.replace(/%/g, "%25").replace(/\|/g, "%7C")
/** `metric|service|operation`, with `|` escaped inside the parts so two series never share a key. */
export const seriesKeyOf = (s: Series): string => `${part(s.metricName)}|${part(s.serviceName)}|${part(s.operation)}`

/** One ingest batch folded into per-(series, window) partial aggregates. */
export const AggregateJob = Schema.Struct({
  ...TraceCarrier,
  tenantId: Schema.String,
  sourceJobId: Schema.String,
  windowSizeMs: Schema.Number,
  maxEventTimeMs: Schema.Number,
  partials: Schema.Array(Schema.Struct({ ...Series.fields, windowStartMs: Schema.Number, agg: WindowAggSchema }))
})
export type AggregateJob = typeof AggregateJob.Type

export const ClosedWindow = Schema.Struct({
  ...Series.fields,
  seriesKey: Schema.String,
  windowStartMs: Schema.Number,
  windowEndMs: Schema.Number,
  count: Schema.Number,
  mean: Schema.Number,
  min: Schema.Number,
  max: Schema.Number,
  p95: Schema.NullOr(Schema.Number)
})
export type ClosedWindow = typeof ClosedWindow.Type

/** "This tenant has newly closed windows": the detect stage reads them from metric_windows, in order. */
export const DetectJob = Schema.Struct({ tenantId: Schema.String, ...TraceCarrier })
export type DetectJob = typeof DetectJob.Type

export const Severity = Schema.Literal("none", "warning", "critical")

export const EvaluationMsg = Schema.Struct({
  ...Series.fields,
  seriesKey: Schema.String,
  /** budget: a settings.budgets limit (src/alerting/budgets.ts), not a window of the detector. */
  rule: Schema.Literal("anomaly", "threshold", "budget"),
  severity: Severity,
  windowStartMs: Schema.Number,
  windowEndMs: Schema.Number,
  value: Schema.Number,
  expected: Schema.NullOr(Schema.Number),
  sd: Schema.NullOr(Schema.Number),
  z: Schema.NullOr(Schema.Number),
  threshold: Schema.NullOr(Schema.Number)
})
export type EvaluationMsg = typeof EvaluationMsg.Type

/** "This tenant has pending evaluations": the alert stage reads them from pending_evaluations, in order. */
export const EvaluateJob = Schema.TaggedStruct("evaluate", { tenantId: Schema.String, ...TraceCarrier })
/** A notification (already recorded in alert_notifications) to send to one channel. */
export const DeliverJob = Schema.TaggedStruct("deliver", { tenantId: Schema.String, messageId: Schema.String, channelId: Schema.String, ...TraceCarrier })
/** An event that is not a window evaluation (execution completed, execution timed out). */
export const EventJob = Schema.TaggedStruct("event", {
  ...TraceCarrier,
  tenantId: Schema.String,
  eventType: Schema.Literal("execution_completed", "execution_timeout", "agent_loop_suspected"),
  key: Schema.String,
  payload: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})
/** "Evaluate this tenant's budgets now" (after GenAI spans with a cost, and every so often while one is exceeded). */
export const BudgetsJob = Schema.TaggedStruct("budgets", { tenantId: Schema.String })
/**
 * "Count these traces' repeated calls again, now that every batch stored beside this one is committed"
 * (src/ingest/genai/loops.ts, loopsAndRechecks): a batch counts only the calls stored before it.
 */
export const LoopsJob = Schema.TaggedStruct("loops", {
  tenantId: Schema.String, traceIds: Schema.Array(Schema.String), fromMs: Schema.Number, maxRepeatedCalls: Schema.Number
})
export const AlertJob = Schema.Union(EvaluateJob, DeliverJob, EventJob, BudgetsJob, LoopsJob)
export type AlertJob = typeof AlertJob.Type
