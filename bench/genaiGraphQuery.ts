import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { graphRange, queryGenaiGraph } from "../src/query/genaiGraph.ts"
import { openBenchDb, refreshAggregate } from "./benchDb.ts"

// The agent graph (GET /api/genai/graph) over a day of a tenant's GenAI spans: the service's query, which
// adds up spans_1m's minutes (migrations/0020), against the same graph computed from the spans themselves
// (RAW_GRAPH_SQL: the endpoint's query before 0020, with exact p95). Seven agents, each invoked by the
// next and calling its own model and tool, as an agent platform's graph is shaped; spans spread evenly
// over the 24 h. The answers are compared (calls, errors, tokens, cost per node and edge).

const MINUTE = 60_000
const DAY = 86_400_000

const MODEL = "coalesce(genai_response_model, genai_request_model)"
const NAME = `CASE genai_kind WHEN 'agent' THEN genai_agent WHEN 'tool' THEN genai_tool WHEN 'model' THEN ${MODEL} END`
const SOURCE = `CASE genai_kind WHEN 'agent' THEN genai_parent_agent ELSE genai_agent END`

/** The graph from the spans themselves: one grouped scan of the range's GenAI spans (index spans_genai). */
export const RAW_GRAPH_SQL = `
SELECT genai_kind AS kind, ${NAME} AS name, CASE WHEN grouping(${SOURCE}) = 0 THEN ${SOURCE} END AS source,
       grouping(${SOURCE}) AS node,
       count(*)::float8 AS calls, (count(*) FILTER (WHERE genai_error))::float8 AS errors,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
       sum(coalesce(genai_input_tokens, 0))::float8 AS input_tokens, sum(coalesce(genai_output_tokens, 0))::float8 AS output_tokens,
       sum(coalesce(genai_cost_usd, 0))::float8 AS cost_usd, sum(coalesce(genai_unpriced_tokens, 0))::float8 AS unpriced_tokens
FROM spans
WHERE tenant_id = $1 AND genai_kind IS NOT NULL AND start_time >= to_timestamp($2 / 1000.0) AND start_time < to_timestamp($3 / 1000.0)
  AND genai_kind IN ('agent', 'tool', 'model') AND ${NAME} IS NOT NULL
GROUP BY GROUPING SETS ((genai_kind, ${NAME}), (genai_kind, ${NAME}, ${SOURCE}))
LIMIT 5000`

/** $1 tenant, $2 first span's ms, $3 ms between spans, $4 spans: traces of an agent span, two model calls and a tool call. */
const FILL_SQL = `
INSERT INTO spans (tenant_id, trace_id, span_id, name, service_name, start_time, end_time, duration_ms,
                   genai_kind, genai_request_model, genai_agent, genai_parent_agent, genai_tool,
                   genai_input_tokens, genai_output_tokens, genai_cost_usd, genai_error)
SELECT $1, md5((i / 4)::text), md5(i::text),
       CASE i % 4 WHEN 0 THEN 'invoke_agent' WHEN 3 THEN 'execute_tool' ELSE 'chat' END, 'agents',
       to_timestamp(($2::float8 + i * $3::float8) / 1000.0), to_timestamp(($2::float8 + i * $3::float8 + 120) / 1000.0), 10 + (i % 997),
       CASE i % 4 WHEN 0 THEN 'agent' WHEN 3 THEN 'tool' ELSE 'model' END,
       CASE WHEN i % 4 IN (1, 2) THEN 'model-' || ((i / 4) % 7 % 3) END,
       'agent-' || ((i / 4) % 7), CASE WHEN i % 4 = 0 THEN 'agent-' || (((i / 4) % 7 + 1) % 7) END,
       CASE WHEN i % 4 = 3 THEN 'tool-' || ((i / 4) % 7) END,
       CASE WHEN i % 4 IN (1, 2) THEN 1000 + i % 97 END, CASE WHEN i % 4 IN (1, 2) THEN 100 + i % 31 END,
       CASE WHEN i % 4 IN (1, 2) THEN (1000 + i % 97) * 2.5e-6 END, CASE WHEN i % 50 = 0 THEN true END
FROM generate_series(0, $4::int - 1) i`

type Row = { kind: string; name: string; source: string | null; node: number; calls: number; errors: number; input_tokens: number; output_tokens: number; cost_usd: number }

export const genaiGraphScenario = (o: { readonly spans: number; readonly rounds: number }) =>
  Effect.gen(function* () {
    const db = yield* openBenchDb
    const tenant = `bench-graph-${randomUUID().slice(0, 8)}`
    // A day ending two minutes ago: every minute of it is materialised by the refresh (end offset 1 minute).
    const end = Math.floor(Date.now() / MINUTE) * MINUTE - 2 * MINUTE
    const start = end - DAY
    const tFill = performance.now()
    yield* db.query(FILL_SQL, [tenant, start, DAY / o.spans, o.spans])
    const fillSeconds = (performance.now() - tFill) / 1000
    const tRefresh = performance.now()
    yield* refreshAggregate(db, "spans_1m", "1 minute")
    const refreshSeconds = (performance.now() - tRefresh) / 1000
    const minuteGroups = (yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM spans_1m WHERE tenant_id = $1", [tenant]))[0]?.n ?? 0

    const { from, to } = graphRange(start, end)
    const service = Effect.gen(function* () {
      const t0 = performance.now()
      const graph = yield* queryGenaiGraph(db, tenant, from, to)
      return { ms: performance.now() - t0, graph }
    })
    const raw = Effect.gen(function* () {
      const t0 = performance.now()
      const rows = yield* db.query<Row>(RAW_GRAPH_SQL, [tenant, from, to])
      return { ms: performance.now() - t0, rows }
    })

    // Warm-up, and the check: every node and edge of the raw graph with the same calls, errors, tokens and cost.
    const { graph } = yield* service
    const { rows } = yield* raw
    type Stats = { calls: number; errors: number; inputTokens: number; outputTokens: number; costUsd: number }
    const served = new Map<string, Stats>([
      ...graph.nodes.map((n): [string, Stats] => [`${n.id}|`, n]),
      ...graph.edges.map((e): [string, Stats] => [`${e.target}|${e.source}`, e])
    ])
    let mismatches = Math.abs(served.size - rows.length)
    for (const r of rows) {
      const s = served.get(`${r.kind}:${r.name}|${Number(r.node) === 1 ? "" : `agent:${r.source}`}`)
      const same = s !== undefined && s.calls === Number(r.calls) && s.errors === Number(r.errors) && s.inputTokens === Number(r.input_tokens) &&
        s.outputTokens === Number(r.output_tokens) && Math.abs(s.costUsd - Number(r.cost_usd)) <= 1e-9 * Math.max(1, Math.abs(Number(r.cost_usd)))
      if (!same) mismatches++
    }

    const samples = { aggregate: [] as Array<number>, raw: [] as Array<number> }
    for (let i = 0; i < o.rounds; i++) {
      samples.aggregate.push((yield* service).ms)
      samples.raw.push((yield* raw).ms)
    }
    if (db.kind === "postgres") {
      yield* db.query("DELETE FROM spans WHERE tenant_id = $1", [tenant])
      yield* refreshAggregate(db, "spans_1m", "1 minute")
    }
    return {
      spans: o.spans, fillSeconds, refreshSeconds, minuteGroups, nodes: graph.nodes.length, edges: graph.edges.length, mismatches, samples,
      ratios: samples.raw.map((r, i) => r / samples.aggregate[i]!)
    }
  })
