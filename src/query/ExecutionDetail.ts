import { genaiSelect, recordOfColumns } from "../ingest/genai/columns.ts"
import { spanAttributesSql } from "../ingest/genai/heldAttributes.ts"
import type { GenaiColumns } from "../ingest/genai/columns.ts"
import type { GenaiRecord } from "../ingest/genai/recognize.ts"
import { spanGenaiView } from "./genaiTotals.ts"
import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import type { ExecutionDetailView } from "../domain/queryViews.ts"
import type { ExecutionView } from "../domain/views.ts"
import { generatePerformanceAnalysis, isFinished } from "./analysis.ts"
import type { Baseline, ExecutionFacts } from "./analysis.ts"
import { ANOMALY_COLUMNS, anomalyView } from "./anomalies.ts"
import type { AnomalyRow } from "./anomalies.ts"
import { quantileFromHistogram } from "../domain/histogram.ts"
import { minuteRange, redRows } from "./services.ts"
import { executionByTrace } from "../db/executionByTrace.ts"
import { EXECUTION_SPAN_ATTRIBUTES, EXECUTION_SPAN_KIND, EXECUTION_SPAN_MESSAGE, EXECUTION_SPAN_STATUS } from "../ingest/executionSpan.ts"
import { buildSpanTree, criticalPath } from "./spanTree.ts"
import type { SpanInput } from "./spanTree.ts"

export const BASELINE_DAYS = 7
export const MAX_SPANS = 20_000
const DAY_MS = 86_400_000

type SpanRow = {
  span_id: string; parent_span_id: string | null; name: string; kind: number; status_code: number; status_message: string | null
  service_name: string; start_ms: number; end_ms: number; duration_ms: number; attributes: Record<string, unknown>; events: unknown
  genai: Partial<GenaiRecord> | null
}

type StoredSpanRow = Omit<SpanRow, "genai"> & Partial<GenaiColumns>

/** A row with the record of its genai_* columns (null for a plain span, or an execution not written yet). */
const withGenai = (rows: ReadonlyArray<StoredSpanRow>): Array<SpanRow> =>
  rows.map((r) => ({
    span_id: r.span_id, parent_span_id: r.parent_span_id, name: r.name, kind: r.kind, status_code: r.status_code, status_message: r.status_message,
    service_name: r.service_name, start_ms: r.start_ms, end_ms: r.end_ms, duration_ms: r.duration_ms, attributes: r.attributes, events: r.events,
    genai: recordOfColumns(r)
  }))

export const loadSpans = (q: Queryable, tenantId: string, traceId: string) =>
  q.query<StoredSpanRow>(
    `SELECT span_id, parent_span_id, name, kind, status_code, status_message, service_name,
            (extract(epoch FROM start_time) * 1000)::float8 AS start_ms, (extract(epoch FROM end_time) * 1000)::float8 AS end_ms,
            duration_ms, ${spanAttributesSql()} AS attributes, events, ${genaiSelect()}
     FROM spans WHERE tenant_id = $1 AND trace_id = $2 ORDER BY start_time, span_id LIMIT ${MAX_SPANS}`, [tenantId, traceId]
  ).pipe(Effect.map(withGenai))

/**
 * The trace's spans, plus the span of each of its executions not yet written to `spans` (one still
 * running ends now, for the picture): a trace shows every execution in it, whichever arrived first.
 */
export const loadTraceSpans = (q: Queryable, tenantId: string, view: ExecutionView) =>
  Effect.gen(function* () {
    const rows = yield* loadSpans(q, tenantId, view.traceId)
    const executions = yield* q.query<StoredSpanRow>(
      `SELECT x.span_id, x.parent_span_id, x.operation_name AS name, ${EXECUTION_SPAN_KIND} AS kind, ${EXECUTION_SPAN_STATUS} AS status_code,
              ${EXECUTION_SPAN_MESSAGE} AS status_message, x.service_name,
              (extract(epoch FROM x.start_time) * 1000)::float8 AS start_ms,
              (extract(epoch FROM coalesce(x.end_time, greatest(now(), x.start_time))) * 1000)::float8 AS end_ms,
              coalesce(x.duration_ms, extract(epoch FROM (greatest(now(), x.start_time) - x.start_time)) * 1000) AS duration_ms,
              ${EXECUTION_SPAN_ATTRIBUTES} AS attributes, '[]'::jsonb AS events
       FROM executions x WHERE ${executionByTrace("$2", "x.")} AND x.source = 'api' LIMIT 1000`, [tenantId, view.traceId]
    )
    const written = new Set(rows.map((r) => r.span_id))
    return [...rows, ...withGenai(executions.filter((e) => !written.has(e.span_id)))]
  })

/** The spans under (and including) the execution's span; the whole trace when its span is not there. */
export const executionSubtree = (rows: ReadonlyArray<SpanRow>, spanId: string): Array<SpanInput> => {
  const inputs = rows.map(spanInput)
  if (!inputs.some((s) => s.spanId === spanId)) return inputs
  const children = new Map<string, Array<SpanInput>>()
  for (const s of inputs) {
    if (s.parentSpanId === null) continue
    const list = children.get(s.parentSpanId)
    if (list === undefined) children.set(s.parentSpanId, [s])
    else list.push(s)
  }
  const seen = new Set<string>([spanId])
  const out: Array<SpanInput> = []
  const stack = inputs.filter((s) => s.spanId === spanId)
  for (let s = stack.pop(); s !== undefined; s = stack.pop()) {
    out.push(s)
    for (const c of children.get(s.spanId) ?? []) {
      if (!seen.has(c.spanId)) {
        seen.add(c.spanId)
        stack.push(c)
      }
    }
  }
  return out
}

export const spanInput = (r: SpanRow): SpanInput => ({
  spanId: r.span_id, parentSpanId: r.parent_span_id, name: r.name, serviceName: r.service_name,
  startMs: Number(r.start_ms), endMs: Number(r.end_ms), error: Number(r.status_code) === 2, genai: r.genai
})

export const factsOf = (v: ExecutionView): ExecutionFacts => ({
  traceId: v.traceId,
  spanId: v.spanId,
  operationName: v.operationName,
  serviceName: v.serviceName,
  status: v.status,
  startMs: Date.parse(v.startTime),
  durationMs: v.durationMs,
  errorCount: v.errors.length,
  warningCount: v.warnings.length,
  metrics: v.metrics
})

/**
 * The operation's durations over the 7 days before the execution started (the execution itself left
 * out): a trace that arrived as OTLP spans is compared with its root operation's spans in span_red_1m
 * (p50 and p95 interpolated from the le_* buckets); a native execution with the durations of the same
 * service and operation's finished executions (exact percentile_cont).
 */
export const loadBaseline = (q: Queryable, tenantId: string, f: ExecutionFacts, source: string) =>
  Effect.gen(function* () {
    const fromMs = f.startMs - BASELINE_DAYS * DAY_MS
    if (source === "otlp") {
      const range = minuteRange(fromMs, f.startMs)
      const rows = yield* redRows(q, tenantId, range.fromMs, Math.floor(f.startMs / 60_000) * 60_000, { service: f.serviceName, operation: f.operationName })
      const hist = rows[0]?.acc.hist
      return {
        source: "span_red_1m", windowDays: BASELINE_DAYS, sampleCount: hist?.count ?? 0,
        p50Ms: hist === undefined ? null : quantileFromHistogram(hist, 0.5),
        p95Ms: hist === undefined ? null : quantileFromHistogram(hist, 0.95)
      } satisfies Baseline
    }
    const rows = yield* q.query<{ n: number; p50: number | null; p95: number | null }>(
      `SELECT count(*)::float8 AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
       FROM executions
       WHERE tenant_id = $1 AND service_name = $2 AND operation_name = $3 AND trace_id <> $4 AND duration_ms IS NOT NULL
         AND status NOT IN ('active', 'paused') AND start_time >= to_timestamp($5 / 1000.0) AND start_time < to_timestamp($6 / 1000.0)`,
      [tenantId, f.serviceName, f.operationName, f.traceId, fromMs, f.startMs]
    )
    const r = rows[0]
    return { source: "executions", windowDays: BASELINE_DAYS, sampleCount: Number(r?.n ?? 0), p50Ms: r?.p50 ?? null, p95Ms: r?.p95 ?? null } satisfies Baseline
  })

/** The analysis of a loaded execution: null while it is still active or paused. */
export const analyseExecution = (q: Queryable, tenantId: string, view: ExecutionView, spans: ReadonlyArray<SpanInput>) =>
  Effect.gen(function* () {
    if (!isFinished(view.status)) return null
    const facts = factsOf(view)
    const baseline = yield* loadBaseline(q, tenantId, facts, view.source)
    return generatePerformanceAnalysis(facts, spans, baseline)
  }).pipe(Effect.withSpan("Execution.analyse"))

const iso = (ms: number) => new Date(ms).toISOString()

export const loadDetail = (q: Queryable, tenantId: string, view: ExecutionView) =>
  Effect.gen(function* () {
    const rows = yield* loadTraceSpans(q, tenantId, view)
    const inputs = rows.map(spanInput)
    const byId = new Map(rows.map((r) => [r.span_id, r]))
    const tree = buildSpanTree(inputs)
    const path = criticalPath(tree.roots)
    const startMs = Date.parse(view.startTime)
    const endMs = view.endTime === null ? Date.now() : Date.parse(view.endTime)
    const points = yield* q.query<{ name: string; t: number; value: number; service_name: string }>(
      `SELECT name, (extract(epoch FROM time) * 1000)::float8 AS t, value, service_name FROM metric_points
       WHERE tenant_id = $1 AND trace_id = $2 AND time >= to_timestamp($3 / 1000.0) AND time <= to_timestamp($4 / 1000.0)
       ORDER BY time, name LIMIT 1000`,
      [tenantId, view.traceId, startMs - 3_600_000, endMs + 3_600_000]
    )
    // Anomalies of the execution's service while it ran, or carrying its trace id (searched a day around it).
    const anomalies = yield* q.query<AnomalyRow>(
      `SELECT ${ANOMALY_COLUMNS} FROM anomalies
       WHERE tenant_id = $1 AND window_start >= to_timestamp($4 / 1000.0) - interval '1 day' AND window_start < to_timestamp($5 / 1000.0) + interval '1 day'
         AND (trace_id = $2 OR (service_name = $3 AND window_end > to_timestamp($4 / 1000.0) AND window_start < to_timestamp($5 / 1000.0)))
       ORDER BY window_start, series_key, method LIMIT 200`,
      [tenantId, view.traceId, view.serviceName, startMs, endMs]
    )
    const analysis = yield* analyseExecution(q, tenantId, view, executionSubtree(rows, view.spanId))
    const { spans: _spans, analysis: _analysis, ...base } = view
    return {
      ...base,
      spans: tree.ordered.map((n) => {
        const r = byId.get(n.span.spanId)
        return {
          spanId: n.span.spanId,
          parentSpanId: n.span.parentSpanId,
          name: n.span.name,
          serviceName: n.span.serviceName,
          kind: Number(r?.kind ?? 0),
          statusCode: Number(r?.status_code ?? 0),
          statusMessage: r?.status_message ?? null,
          startTime: iso(n.span.startMs),
          endTime: iso(n.span.endMs),
          durationMs: r?.duration_ms ?? n.span.endMs - n.span.startMs,
          depth: n.depth,
          selfTimeMs: n.selfTimeMs,
          children: n.children.map((c) => c.span.spanId),
          criticalPathMs: path.timeBySpan.get(n.span.spanId) ?? 0,
          attributes: r?.attributes ?? {},
          events: r?.events ?? [],
          genai: spanGenaiView(r?.genai)
        }
      }),
      metricPoints: points.map((p) => ({ name: p.name, time: iso(Number(p.t)), value: p.value, serviceName: p.service_name })),
      anomalies: anomalies.map(anomalyView),
      analysis
    } satisfies ExecutionDetailView
  }).pipe(Effect.withSpan("Execution.detail"))
