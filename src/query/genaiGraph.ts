import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import type { AgentGraphView } from "../domain/genaiViews.ts"
import { histogramOfRow, LE_COLUMNS, quantileFromHistogram } from "../domain/histogram.ts"

// GET /api/genai/graph: agents, tools and models as nodes; "invokes" edges from parent/child spans.
// The edge is known at ingest (the spans' genai_* columns): a model or tool call names the agent it ran under (its
// inherited agentName), an agent span the agent that invoked it (parentAgent). spans_1m groups by both
// (migrations/0020_spans_1m_parent_agent.sql), so the graph adds up the range's minutes, real-time ones
// included: no scan of the spans themselves. p95 from the merged le_* buckets, as for usage.

/** A longer range is cut to its last 7 days (the per-minute aggregate serves it; usage's totals switch to hours past it too). */
export const GENAI_GRAPH_MAX_RANGE_MS = 7 * 86_400_000
const MINUTE_MS = 60_000

const NAME = "CASE kind WHEN 'agent' THEN agent WHEN 'tool' THEN tool ELSE model END"
const SOURCE = "CASE kind WHEN 'agent' THEN parent_agent ELSE agent END"

export const GRAPH_SQL = `
SELECT kind, name, CASE WHEN grouping(source) = 0 THEN source END AS source, grouping(source) AS node,
       sum(count)::float8 AS calls, sum(genai_errors)::float8 AS errors,
       coalesce(sum(input_tokens), 0)::float8 AS input_tokens, coalesce(sum(output_tokens), 0)::float8 AS output_tokens,
       coalesce(sum(cost_usd), 0)::float8 AS cost_usd, coalesce(sum(unpriced_tokens), 0)::float8 AS unpriced_tokens,
       min(duration_min)::float8 AS dmin, max(duration_max)::float8 AS dmax, ${LE_COLUMNS.map((c) => `sum(${c})::float8 AS ${c}`).join(", ")}
FROM (SELECT kind, ${NAME} AS name, ${SOURCE} AS source, count, genai_errors, input_tokens, output_tokens, cost_usd, unpriced_tokens,
             duration_min, duration_max, ${LE_COLUMNS.join(", ")}
      FROM spans_1m
      WHERE tenant_id = $1 AND kind IN ('agent', 'tool', 'model') AND bucket >= to_timestamp($2 / 1000.0) AND bucket < to_timestamp($3 / 1000.0)) m
WHERE name IS NOT NULL
GROUP BY GROUPING SETS ((kind, name), (kind, name, source))
LIMIT 5000`

type Row = {
  kind: "agent" | "tool" | "model"; name: string; source: string | null; node: number; calls: number; errors: number
  input_tokens: number; output_tokens: number; cost_usd: number; unpriced_tokens: number; dmin: number | null; dmax: number | null
  [le: string]: number | string | null
}

const stats = (r: Row) => ({
  calls: Number(r.calls), errors: Number(r.errors), p95Ms: quantileFromHistogram(histogramOfRow(r), 0.95),
  inputTokens: Number(r.input_tokens), outputTokens: Number(r.output_tokens), costUsd: Number(r.cost_usd), unpricedTokens: Number(r.unpriced_tokens)
})

/** The range widened to whole minutes (the aggregate's buckets), then cut to its last GENAI_GRAPH_MAX_RANGE_MS. */
export const graphRange = (fromMs: number, toMs: number) => {
  const to = Math.ceil(toMs / MINUTE_MS) * MINUTE_MS
  return { from: Math.max(Math.floor(fromMs / MINUTE_MS) * MINUTE_MS, to - GENAI_GRAPH_MAX_RANGE_MS), to }
}

export const queryGenaiGraph = (q: Queryable, tenantId: string, fromMs: number, toMs: number) =>
  Effect.gen(function* () {
    const { from, to } = graphRange(fromMs, toMs)
    const rows = yield* q.query<Row>(GRAPH_SQL, [tenantId, from, to])
    const nodes = new Map<string, AgentGraphView["nodes"][number]>()
    const edges: Array<AgentGraphView["edges"][number]> = []
    for (const r of rows) {
      const id = `${r.kind}:${r.name}`
      if (Number(r.node) === 1) nodes.set(id, { id, kind: r.kind, name: r.name, ...stats(r) })
    }
    for (const r of rows) {
      if (Number(r.node) === 1 || r.source === null) continue
      const source = `agent:${r.source}`
      // An agent that invoked another but sent no span of its own still appears, as the edge's end.
      if (!nodes.has(source)) nodes.set(source, { id: source, kind: "agent", name: r.source, calls: 0, errors: 0, p95Ms: null, inputTokens: 0, outputTokens: 0, costUsd: 0, unpricedTokens: 0 })
      edges.push({ source, target: `${r.kind}:${r.name}`, ...stats(r) })
    }
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      nodes: [...nodes.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
      edges: edges.sort((a, b) => (a.source + a.target < b.source + b.target ? -1 : 1))
    } satisfies AgentGraphView
  }).pipe(Effect.withSpan("Genai.graph"))
