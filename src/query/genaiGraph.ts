import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import type { AgentGraphView } from "../domain/genaiViews.ts"

// GET /api/genai/graph: agents, tools and models as nodes; "invokes" edges from parent/child spans.
// The edge is known at ingest (the spans' genai_* columns): a model or tool call names the agent it ran under (its
// inherited agentName), an agent span the agent that invoked it (parentAgent). So the graph is one
// grouped scan of the range's GenAI spans (index spans_genai), no join.

/** A longer range is cut to its last 24 h. */
export const GENAI_GRAPH_MAX_RANGE_MS = 24 * 3_600_000

const MODEL = "coalesce(genai_response_model, genai_request_model)"
const NAME = `CASE genai_kind WHEN 'agent' THEN genai_agent WHEN 'tool' THEN genai_tool WHEN 'model' THEN ${MODEL} END`
const SOURCE = `CASE genai_kind WHEN 'agent' THEN genai_parent_agent ELSE genai_agent END`

export const GRAPH_SQL = `
SELECT genai_kind AS kind, ${NAME} AS name, CASE WHEN grouping(${SOURCE}) = 0 THEN ${SOURCE} END AS source,
       grouping(${SOURCE}) AS node,
       count(*)::float8 AS calls, (count(*) FILTER (WHERE genai_error))::float8 AS errors,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
       sum(coalesce(genai_input_tokens, 0)) AS input_tokens, sum(coalesce(genai_output_tokens, 0)) AS output_tokens,
       sum(coalesce(genai_cost_usd, 0)) AS cost_usd, sum(coalesce(genai_unpriced_tokens, 0)) AS unpriced_tokens
FROM spans
WHERE tenant_id = $1 AND genai_kind IS NOT NULL AND start_time >= to_timestamp($2 / 1000.0) AND start_time < to_timestamp($3 / 1000.0)
  AND genai_kind IN ('agent', 'tool', 'model') AND ${NAME} IS NOT NULL
GROUP BY GROUPING SETS ((genai_kind, ${NAME}), (genai_kind, ${NAME}, ${SOURCE}))
LIMIT 5000`

type Row = { kind: "agent" | "tool" | "model"; name: string; source: string | null; node: number; calls: number; errors: number; p95: number | null; input_tokens: number; output_tokens: number; cost_usd: number; unpriced_tokens: number }

const stats = (r: Row) => ({
  calls: Number(r.calls), errors: Number(r.errors), p95Ms: r.p95 === null ? null : Number(r.p95),
  inputTokens: Number(r.input_tokens), outputTokens: Number(r.output_tokens), costUsd: Number(r.cost_usd), unpricedTokens: Number(r.unpriced_tokens)
})

export const queryGenaiGraph = (q: Queryable, tenantId: string, fromMs: number, toMs: number) =>
  Effect.gen(function* () {
    const from = Math.max(fromMs, toMs - GENAI_GRAPH_MAX_RANGE_MS)
    const rows = yield* q.query<Row>(GRAPH_SQL, [tenantId, from, toMs])
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
      to: new Date(toMs).toISOString(),
      nodes: [...nodes.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
      edges: edges.sort((a, b) => (a.source + a.target < b.source + b.target ? -1 : 1))
    } satisfies AgentGraphView
  }).pipe(Effect.withSpan("Genai.graph"))
