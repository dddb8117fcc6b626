import { Schema } from "effect"
import { GenaiTotalsView, SpanGenaiView } from "./genaiViews.ts"
import { executionHeadFields, ExecutionView } from "./views.ts"

// What the query endpoints return.

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const Ms = Schema.Number
const NullableNumber = Schema.NullOr(Schema.Number)

export const SeriesView = Schema.Struct({
  name: Schema.String,
  agg: Schema.String,
  bucket: Schema.String,
  bucketSeconds: NullableNumber,
  source: Schema.Literal("metric_points_1m", "metric_points_1h", "metric_points"),
  from: Schema.String,
  to: Schema.String,
  groupBy: Schema.NullOr(Schema.Literal("service")),
  truncated: Schema.Boolean,
  series: Schema.Array(Schema.Struct({
    service: Schema.NullOr(Schema.String),
    points: Schema.Array(Schema.Struct({ time: Schema.String, value: NullableNumber, count: Schema.Number }))
  }))
}).annotations({ identifier: "MetricSeries" })

const RedFields = {
  requests: Schema.Number,
  errors: Schema.Number,
  ratePerSecond: Schema.Number,
  errorRate: Schema.Number,
  durationAvgMs: NullableNumber,
  durationMinMs: NullableNumber,
  durationMaxMs: NullableNumber,
  durationP95Ms: NullableNumber
}

export const ServicesView = Schema.Struct({
  from: Schema.String,
  to: Schema.String,
  source: Schema.Literal("span_red_1m"),
  services: Schema.Array(Schema.Struct({
    service: Schema.String,
    ...RedFields,
    operations: Schema.Array(Schema.Struct({ operation: Schema.String, ...RedFields }))
  }))
}).annotations({ identifier: "ServicesRed" })

export const ExecutionSummary = Schema.Struct({
  ...executionHeadFields,
  tags: Schema.Unknown,
  metadata: Json,
  customAttributes: Json,
  progressPercentage: Schema.NullOr(Schema.Number),
  currentOperation: Schema.NullOr(Schema.String),
  genai: Schema.NullOr(GenaiTotalsView)
}).annotations({ identifier: "ExecutionSummary" })

export const ExecutionPage = Schema.Struct({
  executions: Schema.Array(ExecutionSummary),
  nextCursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "ExecutionPage" })

export const AnomalyView = Schema.Struct({
  seriesKey: Schema.String,
  metricName: Schema.String,
  serviceName: Schema.String,
  operation: Schema.String,
  method: Schema.String,
  windowStart: Schema.String,
  windowEnd: Schema.String,
  observed: Schema.Number,
  expected: NullableNumber,
  sd: NullableNumber,
  z: NullableNumber,
  threshold: NullableNumber,
  severity: Schema.String,
  traceId: Schema.NullOr(Schema.String),
  detectedAt: Schema.String
}).annotations({ identifier: "Anomaly" })

export const AnomalyList = Schema.Struct({ anomalies: Schema.Array(AnomalyView) }).annotations({ identifier: "AnomalyList" })

export const AlertView = Schema.Struct({
  id: Schema.String,
  seriesKey: Schema.String,
  rule: Schema.String,
  type: Schema.String,
  state: Schema.String,
  severity: Schema.String,
  metricName: Schema.NullOr(Schema.String),
  serviceName: Schema.NullOr(Schema.String),
  traceId: Schema.NullOr(Schema.String),
  title: Schema.String,
  observed: NullableNumber,
  expected: NullableNumber,
  peak: NullableNumber,
  occurrences: Schema.Number,
  openedAt: Schema.String,
  lastSeenAt: Schema.String,
  acknowledgedAt: Schema.NullOr(Schema.String),
  resolvedAt: Schema.NullOr(Schema.String),
  details: Json
}).annotations({ identifier: "Alert" })

export const AlertList = Schema.Struct({ alerts: Schema.Array(AlertView) }).annotations({ identifier: "AlertList" })

export const SpanNodeView = Schema.Struct({
  spanId: Schema.String,
  parentSpanId: Schema.NullOr(Schema.String),
  name: Schema.String,
  serviceName: Schema.String,
  kind: Schema.Number,
  statusCode: Schema.Number,
  statusMessage: Schema.NullOr(Schema.String),
  startTime: Schema.String,
  endTime: Schema.String,
  durationMs: Ms,
  depth: Schema.Number,
  selfTimeMs: Ms,
  children: Schema.Array(Schema.String),
  criticalPathMs: Ms,
  attributes: Json,
  events: Schema.Unknown,
  /** Null for a span that is not a GenAI span. */
  genai: Schema.NullOr(SpanGenaiView)
}).annotations({ identifier: "SpanNode" })

const Recommendation = Schema.Struct({ kind: Schema.String, fact: Schema.String, recommendation: Schema.String, spanId: Schema.NullOr(Schema.String) })

export const PerformanceAnalysisView = Schema.Struct({
  overallPerformance: Schema.Struct({
    status: Schema.String,
    succeeded: Schema.Boolean,
    durationMs: Ms,
    spanCount: Schema.Number,
    serviceCount: Schema.Number,
    errorSpanCount: Schema.Number,
    maxDepth: Schema.Number,
    criticalPathMs: Ms,
    untrackedMs: Ms,
    parallelism: NullableNumber,
    summary: Schema.String
  }),
  bottlenecks: Schema.Array(Schema.Struct({
    spanId: Schema.String, name: Schema.String, serviceName: Schema.String, durationMs: Ms, selfTimeMs: Ms, criticalPathMs: Ms, shareOfDuration: Schema.Number
  })),
  comparisonWithBaseline: Schema.Struct({
    source: Schema.Literal("executions", "span_red_1m"),
    windowDays: Schema.Number,
    sampleCount: Schema.Number,
    p50Ms: NullableNumber,
    p95Ms: NullableNumber,
    durationMs: Ms,
    ratioToP50: NullableNumber,
    ratioToP95: NullableNumber,
    band: Schema.Literal("at_or_below_p50", "p50_to_p95", "above_p95", "no_baseline"),
    summary: Schema.String
  }),
  optimizationRecommendations: Schema.Array(Recommendation),
  performanceGrade: Schema.Literal("A", "B", "C", "D", "E", "F"),
  /** GenAI facts: critical-path shares of model and tool calls, sequential model calls, the most expensive model (null without GenAI spans). */
  genai: Schema.optional(Schema.NullOr(Schema.Struct({
    modelCallsCriticalPathMs: Schema.Number, modelCallsShareOfCriticalPath: Schema.Number,
    toolCallsCriticalPathMs: Schema.Number, toolCallsShareOfCriticalPath: Schema.Number,
    sequentialModelCalls: Schema.Array(Schema.Struct({ parentSpanId: Schema.String, spanIds: Schema.Array(Schema.String), totalMs: Schema.Number, savableMs: Schema.Number })),
    mostExpensiveModel: Schema.NullOr(Schema.Struct({ model: Schema.String, costUsd: Schema.Number, calls: Schema.Number })),
    summary: Schema.String
  }))),
  gradeReasons: Schema.Array(Schema.String)
}).annotations({ identifier: "PerformanceAnalysis" })

export const MetricPointView = Schema.Struct({ name: Schema.String, time: Schema.String, value: Schema.Number, serviceName: Schema.String })

const { spans: _spans, analysis: _analysis, ...executionFields } = ExecutionView.fields

/** An execution with its span tree, metric points, anomalies and (once finished) its analysis. */
export const ExecutionDetailView = Schema.Struct({
  ...executionFields,
  spans: Schema.Array(SpanNodeView),
  metricPoints: Schema.Array(MetricPointView),
  anomalies: Schema.Array(AnomalyView),
  analysis: Schema.NullOr(PerformanceAnalysisView)
}).annotations({ identifier: "ExecutionDetail" })
export type ExecutionDetailView = typeof ExecutionDetailView.Type
