import { Schema } from "effect"
import { GenaiTotalsView } from "./genaiViews.ts"

// What the read endpoints return.

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const ExecutionEventView = Schema.Struct({
  eventName: Schema.String,
  eventType: Schema.String,
  timestamp: Schema.String,
  metadata: Json
})

/** What every view of an execution shows first: identity, status and timing. */
export const executionHeadFields = {
  /** The id in /api/executions/{id}: the trace id for an execution that starts its trace, `<traceId>-<spanId>` for one with a parent span. */
  executionId: Schema.String,
  traceId: Schema.String,
  spanId: Schema.String,
  parentSpanId: Schema.NullOr(Schema.String),
  operationName: Schema.String,
  serviceName: Schema.String,
  operationType: Schema.NullOr(Schema.String),
  priority: Schema.NullOr(Schema.String),
  status: Schema.String,
  source: Schema.String,
  startTime: Schema.String,
  endTime: Schema.NullOr(Schema.String),
  durationMs: Schema.NullOr(Schema.Number)
}

export const ExecutionView = Schema.Struct({
  ...executionHeadFields,
  context: Json,
  tags: Schema.Unknown,
  metadata: Json,
  samplingRate: Schema.Number,
  traceFlags: Schema.Number,
  progressPercentage: Schema.NullOr(Schema.Number),
  currentOperation: Schema.NullOr(Schema.String),
  metrics: Json,
  customAttributes: Json,
  result: Schema.NullOr(Json),
  errors: Schema.Array(Schema.Unknown),
  warnings: Schema.Array(Schema.Unknown),
  performanceScore: Schema.NullOr(Schema.Number),
  /** Tokens, cost, model and tool calls of the execution's spans; null when none of them is a GenAI span. */
  genai: Schema.NullOr(GenaiTotalsView),
  events: Schema.Array(ExecutionEventView),
  spans: Schema.optional(Schema.Array(Schema.Unknown)),
  analysis: Schema.optional(Schema.Unknown)
}).annotations({ identifier: "Execution" })
export type ExecutionView = typeof ExecutionView.Type

export const TenantView = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  createdAt: Schema.String,
  settingsSource: Schema.String
}).annotations({ identifier: "Tenant" })

export const CreatedKey = Schema.Struct({
  keyId: Schema.String,
  key: Schema.String,
  tenantId: Schema.String,
  scopes: Schema.Array(Schema.String)
}).annotations({ identifier: "CreatedKey", description: "The key is shown once; only its hash is stored." })

export const Health = Schema.Struct({ status: Schema.String }).annotations({ identifier: "Health" })
export const Readiness = Schema.Struct({
  status: Schema.Literal("ready", "not_ready"),
  database: Schema.String,
  redis: Schema.String
}).annotations({ identifier: "Readiness" })
