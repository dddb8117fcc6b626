import { Schema } from "effect"

/** One of the last events a running execution reported, as the live view shows it. */
export const LiveEventView = Schema.Struct({
  eventName: Schema.String,
  eventType: Schema.String,
  timestamp: Schema.String
})

/** A trace actor's live state of its execution: what the console's running list shows. */
export const LiveExecution = Schema.Struct({
  executionId: Schema.String,
  traceId: Schema.String,
  serviceName: Schema.String,
  operationName: Schema.String,
  status: Schema.String,
  progressPercentage: Schema.NullOr(Schema.Number),
  currentOperation: Schema.NullOr(Schema.String),
  /** The latest value of each metric the execution reported. */
  metrics: Schema.Record({ key: Schema.String, value: Schema.Number }),
  lastEvents: Schema.Array(LiveEventView),
  startTime: Schema.String,
  updatedAt: Schema.String
}).annotations({ identifier: "LiveExecution" })
export type LiveExecution = typeof LiveExecution.Type

/**
 * One change of a running execution, as `GET /api/executions/live` sends it (the SSE `event:` is the
 * kind, `data:` this JSON, `id:` the position to resume from with Last-Event-ID).
 */
export const LiveChange = Schema.Struct({
  kind: Schema.Literal("start", "update", "finish", "timeout"),
  execution: LiveExecution
}).annotations({ identifier: "LiveChange" })
export type LiveChange = typeof LiveChange.Type
