import { loadExecutionTotals, refKey } from "./genaiTotals.ts"
import { Context, Effect, Layer, Option } from "effect"
import { Db } from "../db/Db.ts"
import type { Queryable } from "../db/Db.ts"
import type { ExecutionDetailView } from "../domain/queryViews.ts"
import type { ExecutionView } from "../domain/views.ts"
import type { PerformanceAnalysis } from "./analysis.ts"
import { analyseExecution, executionSubtree, loadDetail, loadTraceSpans } from "./ExecutionDetail.ts"
import { executionsWithId } from "../db/executionByTrace.ts"

interface ExecutionRow {
  execution_id: string
  trace_id: string
  span_id: string
  parent_span_id: string | null
  operation_name: string
  service_name: string
  operation_type: string | null
  priority: string | null
  status: string
  source: string
  start_time: Date
  end_time: Date | null
  duration_ms: number | null
  context: Record<string, unknown>
  tags: unknown
  metadata: Record<string, unknown>
  sampling_rate: number
  trace_flags: number
  progress_percentage: number | null
  current_operation: string | null
  metrics: Record<string, unknown>
  custom_attributes: Record<string, unknown>
  result: Record<string, unknown> | null
  errors: Array<unknown>
  warnings: Array<unknown>
  performance_score: number | null
  last_seq: number
}

const iso = (d: Date | string) => new Date(d).toISOString()

/** The columns behind `executionHeadFields`, as every execution view shows them. */
export type ExecutionHeadRow = Pick<ExecutionRow,
  "execution_id" | "trace_id" | "span_id" | "parent_span_id" | "operation_name" | "service_name" | "operation_type" | "priority" | "status" | "source" | "start_time" | "end_time" | "duration_ms">

export const headOf = (r: ExecutionHeadRow) => ({
  executionId: r.execution_id,
  traceId: r.trace_id,
  spanId: r.span_id,
  parentSpanId: r.parent_span_id,
  operationName: r.operation_name,
  serviceName: r.service_name,
  operationType: r.operation_type,
  priority: r.priority,
  status: r.status,
  source: r.source,
  startTime: iso(r.start_time),
  endTime: r.end_time === null ? null : iso(r.end_time),
  durationMs: r.duration_ms
})

export const toView = (r: ExecutionRow, events: ExecutionView["events"]): ExecutionView => ({
  ...headOf(r),
  context: r.context,
  tags: r.tags,
  metadata: r.metadata,
  samplingRate: r.sampling_rate,
  traceFlags: r.trace_flags,
  progressPercentage: r.progress_percentage,
  currentOperation: r.current_operation,
  metrics: r.metrics,
  customAttributes: r.custom_attributes,
  result: r.result,
  errors: r.errors,
  warnings: r.warnings,
  performanceScore: r.performance_score,
  genai: null,
  events
})

interface EventJson { readonly n: string; readonly ty: string; readonly t: number; readonly m: Record<string, unknown> }

/**
 * The execution of this tenant with this id; another tenant's is simply not found. One statement, so
 * the row and its events are one snapshot: an update's events never show beside the row before it. A
 * native start that raced an OTLP root span to the same trace id wins over it (see ingest/executions.ts).
 */
export const getExecution = (q: Queryable, tenantId: string, executionId: string) =>
  Effect.gen(function* () {
    const traceId = executionId.slice(0, 32)
    const rows = yield* q.query<ExecutionRow & Record<string, unknown> & { readonly events_json: ReadonlyArray<EventJson> }>(
      `SELECT x.*, coalesce((
         SELECT json_agg(json_build_object('n', ev.event_name, 'ty', ev.event_type, 't', ev.t, 'm', ev.metadata) ORDER BY ev.time, ev.event_key)
         FROM (SELECT event_name, event_type, time, event_key, metadata, extract(epoch FROM time) * 1000 AS t FROM execution_events
               WHERE tenant_id = $1 AND trace_id = $2 AND execution_id = $3 ORDER BY time, event_key LIMIT 10000) ev), '[]'::json) AS events_json
       FROM ${executionsWithId("$3")} x ORDER BY x.source = 'api' DESC, x.start_time LIMIT 1`, [tenantId, traceId, executionId]
    )
    const row = rows[0]
    if (row === undefined) return Option.none<ExecutionView>()
    const view = toView(row, row.events_json.map((e) => ({ eventName: e.n, eventType: e.ty, timestamp: iso(new Date(Number(e.t))), metadata: e.m })))
    const totals = yield* loadExecutionTotals(q, tenantId, [view])
    return Option.some({ ...view, genai: totals.get(refKey(view)) ?? null })
  })

/**
 * The performance analysis of a finished execution (None when it is unknown or still running), for
 * callers outside the query API, e.g. the execution_completed notification.
 */
export const loadAnalysis = (q: Queryable, tenantId: string, executionId: string) =>
  Effect.gen(function* () {
    const found = yield* getExecution(q, tenantId, executionId)
    if (Option.isNone(found)) return Option.none<PerformanceAnalysis>()
    const trace = yield* loadTraceSpans(q, tenantId, found.value)
    const analysis = yield* analyseExecution(q, tenantId, found.value, executionSubtree(trace, found.value.spanId))
    return Option.fromNullable(analysis)
  })

const makeReader = Effect.gen(function* () {
  const db = yield* Db
  const get = (tenantId: string, executionId: string) => getExecution(db, tenantId, executionId)
  /** The execution with its trace's span tree, metric points, anomalies and performance analysis. */
  const detail = (tenantId: string, executionId: string) =>
    Effect.flatMap(getExecution(db, tenantId, executionId), Option.match({
      onNone: () => Effect.succeed(Option.none<ExecutionDetailView>()),
      onSome: (view) => Effect.map(loadDetail(db, tenantId, view), Option.some)
    }))
  /** The last applied sequence number, to resume an execution's counter after its Redis key expired. */
  const lastSeq = (tenantId: string, executionId: string) =>
    db.query<{ last_seq: number }>(
      `SELECT last_seq FROM ${executionsWithId()} x ORDER BY source = 'api' DESC LIMIT 1`, [tenantId, executionId]
    ).pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => Number(r.last_seq))))
  /**
   * Does the trace already hold an execution (then a new one in it goes by `<traceId>-<spanId>`)? Its row in
   * execution_traces (migrations/0014): one probe, where executions by trace id searched every chunk.
   */
  const traceHasExecution = (tenantId: string, traceId: string) =>
    db.query("SELECT 1 FROM execution_traces WHERE tenant_id = $1 AND trace_id = $2", [tenantId, traceId]).pipe(Effect.map((rows) => rows.length > 0))
  return { get, detail, lastSeq, traceHasExecution } as const
})

export class ExecutionReader extends Context.Tag("query/ExecutionReader")<ExecutionReader, Effect.Effect.Success<typeof makeReader>>() {
  static readonly Live = Layer.effect(ExecutionReader, makeReader)
}
