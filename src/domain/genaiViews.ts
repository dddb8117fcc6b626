import { Schema } from "effect"

// What the GenAI (agent-aware) read endpoints and fields return.

const NullableNumber = Schema.NullOr(Schema.Number)
const NullableString = Schema.NullOr(Schema.String)
const Time = Schema.String.annotations({ description: "ISO-8601 UTC" })

/** What a span says about agents, models and tools, recognised at ingest (OpenTelemetry GenAI or OpenInference). */
export const SpanGenaiView = Schema.Struct({
  /** gen_ai.operation.name (chat, embeddings, invoke_agent, execute_tool, …), or mapped from openinference.span.kind. */
  operation: NullableString,
  provider: NullableString,
  requestModel: NullableString,
  responseModel: NullableString,
  /** Own or inherited from the nearest ancestor that names one. */
  agentName: NullableString,
  agentId: NullableString,
  toolName: NullableString,
  conversationId: NullableString,
  workflowName: NullableString,
  inputTokens: NullableNumber,
  outputTokens: NullableNumber,
  cacheReadTokens: NullableNumber,
  cacheWriteTokens: NullableNumber,
  /** USD from the tenant's price table at the span's time; null when no price matched (the tokens are unpriced, not free). */
  costUsd: NullableNumber,
  errorType: NullableString
}).annotations({ identifier: "SpanGenai" })
export type SpanGenaiView = typeof SpanGenaiView.Type

/** An execution's (or a trace's) GenAI totals. */
export const GenaiTotalsView = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  cacheReadTokens: Schema.Number,
  cacheWriteTokens: Schema.Number,
  costUsd: Schema.Number,
  /** Tokens of model calls without a price: not counted in costUsd. */
  unpricedTokens: Schema.Number,
  llmCalls: Schema.Number,
  toolCalls: Schema.Number,
  agents: Schema.Array(Schema.String),
  models: Schema.Array(Schema.String)
}).annotations({ identifier: "GenaiTotals" })
export type GenaiTotalsView = typeof GenaiTotalsView.Type

export const GenaiGroupBy = Schema.Literal("model", "agent", "tool", "service", "user", "conversation")
export type GenaiGroupBy = typeof GenaiGroupBy.Type

const UsageStats = {
  calls: Schema.Number,
  errors: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  cacheReadTokens: Schema.Number,
  cacheWriteTokens: Schema.Number,
  costUsd: Schema.Number,
  unpricedTokens: Schema.Number
}

export const GenaiUsageView = Schema.Struct({
  from: Time,
  to: Time,
  groupBy: GenaiGroupBy,
  bucketSeconds: NullableNumber,
  source: Schema.String,
  groups: Schema.Array(Schema.Struct({
    key: Schema.String,
    ...UsageStats,
    p50Ms: NullableNumber,
    p95Ms: NullableNumber,
    series: Schema.optional(Schema.Array(Schema.Struct({ time: Time, ...UsageStats })))
  }))
}).annotations({ identifier: "GenaiUsage" })
export type GenaiUsageView = typeof GenaiUsageView.Type

const GraphStats = {
  calls: Schema.Number,
  errors: Schema.Number,
  p95Ms: NullableNumber,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number,
  /** Tokens of model calls without a price: not counted in costUsd (a model at 0 USD with these is unpriced, not free). */
  unpricedTokens: Schema.Number
}

export const AgentGraphView = Schema.Struct({
  from: Time,
  to: Time,
  /** id is `<kind>:<name>`, e.g. `agent:planner`, `tool:web_search`, `model:gpt-4o`. */
  nodes: Schema.Array(Schema.Struct({ id: Schema.String, kind: Schema.Literal("agent", "tool", "model"), name: Schema.String, ...GraphStats })),
  /** "invokes": agent → agent, agent → tool, agent → model, from parent/child spans. */
  edges: Schema.Array(Schema.Struct({ source: Schema.String, target: Schema.String, ...GraphStats }))
}).annotations({ identifier: "AgentGraph" })
export type AgentGraphView = typeof AgentGraphView.Type
