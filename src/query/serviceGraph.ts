import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import { executionByTrace } from "../db/executionByTrace.ts"
import type { ServiceGraphView } from "../domain/consoleViews.ts"
import { mergeHistograms, quantileFromHistogram } from "../domain/histogram.ts"
import { minuteRange, redRows } from "./services.ts"

/** A longer range is cut to its last 24 h (truncated). */
export const GRAPH_MAX_RANGE_MS = 24 * 3_600_000
/**
 * Child spans examined in all: each (service, operation) gets an equal share (at least 500), its newest
 * spans first; an operation with more makes the answer a sample of the newest calls (truncated).
 * Measured on the embedded database: 15,000 children (parent probes included) take about 0.9 s.
 */
export const GRAPH_CHILD_BUDGET = 20_000
const MIN_PER_OPERATION = 500
/** How long before the range a parent span may have started and still be found. */
const PARENT_LOOKBACK_MS = 3_600_000
/** Clock skew allowed between a child and a parent that starts after it. */
const PARENT_SKEW_MS = 60_000

type EdgeRow = readonly [source: string, target: string, calls: number, errors: number, p95: number | null]

/**
 * Calls between services: each span whose parent belongs to another service. The child spans come from
 * spans_service (tenant, service, operation, time), per operation that span_red_1m knows in the range,
 * within GRAPH_CHILD_BUDGET; each parent is one probe of the primary key (tenant, trace, span) within the
 * range's chunks. A native execution is a span once it ends (src/ingest/executionSpan.ts); while it runs
 * its row stands for it, as a child (no duration yet) and as a parent.
 */
export const EDGES_SQL = `
WITH ops AS (
  SELECT DISTINCT service_name, operation FROM span_red_1m
  WHERE tenant_id = $1 AND bucket >= to_timestamp($4 / 1000.0) AND bucket < to_timestamp($5 / 1000.0)
),
budget AS (SELECT greatest(${MIN_PER_OPERATION}, $6 / greatest(count(*), 1))::int AS n FROM ops),
children AS (
  SELECT c.* FROM ops CROSS JOIN LATERAL (
    SELECT s.trace_id, s.parent_span_id, s.service_name, s.status_code, s.duration_ms, row_number() OVER (ORDER BY s.start_time DESC) AS rn
    FROM spans s
    WHERE s.tenant_id = $1 AND s.service_name = ops.service_name AND s.name = ops.operation
      AND s.start_time >= to_timestamp($2 / 1000.0) AND s.start_time < to_timestamp($3 / 1000.0) AND s.parent_span_id IS NOT NULL
    ORDER BY s.start_time DESC LIMIT (SELECT n + 1 FROM budget)
  ) c
  UNION ALL
  (SELECT trace_id, parent_span_id, service_name, 0::smallint, NULL::float8, row_number() OVER (ORDER BY start_time DESC)
   FROM executions
   WHERE tenant_id = $1 AND start_time >= to_timestamp($2 / 1000.0) AND start_time < to_timestamp($3 / 1000.0)
     AND source = 'api' AND status IN ('active', 'paused') AND parent_span_id IS NOT NULL
   ORDER BY start_time DESC LIMIT (SELECT n + 1 FROM budget))
),
pairs AS (
  SELECT coalesce(ps.service_name, pe.service_name) AS source, c.service_name AS target, c.status_code, c.duration_ms
  FROM children c
  LEFT JOIN LATERAL (
    SELECT p.service_name FROM spans p
    WHERE p.tenant_id = $1 AND p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
      AND p.start_time >= to_timestamp($7 / 1000.0) AND p.start_time < to_timestamp($8 / 1000.0)
    LIMIT 1
  ) ps ON true
  LEFT JOIN LATERAL (
    SELECT e.service_name FROM executions e
    WHERE ps.service_name IS NULL AND ${executionByTrace("c.trace_id", "e.")} AND e.span_id = c.parent_span_id AND e.source = 'api'
      AND e.status IN ('active', 'paused')
    LIMIT 1
  ) pe ON true
  WHERE c.rn <= (SELECT n FROM budget)
)
SELECT coalesce((SELECT bool_or(rn > (SELECT n FROM budget)) FROM children), false) AS truncated,
       coalesce((SELECT json_agg(json_build_array(source, target, calls, errors, p95) ORDER BY source, target) FROM (
         SELECT source, target, count(*) AS calls, count(*) FILTER (WHERE status_code = 2) AS errors,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
         FROM pairs WHERE source IS NOT NULL AND source <> target GROUP BY 1, 2
       ) e), '[]'::json) AS edges`

/** Services with their RED (span_red_1m) and the calls between them (parent/child spans across services). */
export const queryServiceGraph = (q: Queryable, tenantId: string, fromMs: number, toMs: number) =>
  Effect.gen(function* () {
    const clipped = toMs - fromMs > GRAPH_MAX_RANGE_MS
    const from = clipped ? toMs - GRAPH_MAX_RANGE_MS : fromMs
    const minutes = minuteRange(from, toMs)
    const [row] = yield* q.query<{ truncated: boolean; edges: ReadonlyArray<EdgeRow> }>(EDGES_SQL, [
      tenantId, from, toMs, minutes.fromMs, minutes.toMs, GRAPH_CHILD_BUDGET, from - PARENT_LOOKBACK_MS, toMs + PARENT_SKEW_MS
    ])
    const red = yield* redRows(q, tenantId, minutes.fromMs, minutes.toMs)
    const byService = new Map<string, Array<(typeof red)[number]["acc"]>>()
    for (const r of red) byService.set(r.service, [...(byService.get(r.service) ?? []), r.acc])
    const edges = (row?.edges ?? []).map(([source, target, calls, errors, p95]) => ({
      source, target, calls: Number(calls), errors: Number(errors), errorRate: Number(calls) > 0 ? Number(errors) / Number(calls) : 0, p95Ms: p95
    }))
    // A service seen only as a native execution has no span RED: it is still a node.
    for (const e of edges) for (const s of [e.source, e.target]) if (!byService.has(s)) byService.set(s, [])
    const nodes = [...byService].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([service, accs]) => {
      const hist = mergeHistograms(accs.map((a) => a.hist))
      const errors = accs.reduce((n, a) => n + a.errors, 0)
      return { service, requests: hist.count, errors, errorRate: hist.count > 0 ? errors / hist.count : 0, p95Ms: quantileFromHistogram(hist, 0.95) }
    })
    return {
      from: new Date(from).toISOString(),
      to: new Date(toMs).toISOString(),
      nodes,
      edges,
      truncated: clipped || (row?.truncated ?? false)
    } satisfies ServiceGraphView
  }).pipe(Effect.withSpan("ServiceGraph.query"))
