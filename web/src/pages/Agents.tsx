import { useQuery } from "@tanstack/react-query"
import { useMemo } from "react"
import { api } from "../api/client.ts"
import type { AgentGraph } from "../api/client.ts"
import { ErrorBox } from "../components/Banner.tsx"
import { CopyText } from "../components/CopyText.tsx"
import { MEASURES, UsageCards, UsageChart, UsageTable } from "../components/GenaiUsage.tsx"
import type { Measure } from "../components/GenaiUsage.tsx"
import { edgeKey, GraphView } from "../components/GraphView.tsx"
import type { GraphEdge, GraphNode } from "../components/GraphView.tsx"
import { useSession } from "../hooks/useSession.ts"
import { useParam, useSetParams, useTimeRange } from "../hooks/useUrlState.ts"
import { formatCalls, formatCount, formatDuration, formatPercent, formatSpend, formatTokens } from "../lib/format.ts"
import "./pages.css"

const GROUP_BY = ["model", "agent", "tool", "service", "user", "conversation"] as const
type GroupBy = (typeof GROUP_BY)[number]

const errorsLine = (errors: number, calls: number) => `⚠ ${formatPercent(calls === 0 ? 0 : errors / calls)} errors`

export const agentNodes = (g: AgentGraph): ReadonlyArray<GraphNode> =>
  g.nodes.map((n) => {
    // What it used, where its spans say so (a model; an agent whose span carries usage): an agent whose
    // usage is on its model calls says nothing here ("0 tok · $0" read as free) — its edges say it.
    const used = n.kind !== "tool" && (n.inputTokens + n.outputTokens > 0 || n.costUsd > 0 || n.unpricedTokens > 0)
    const calls = `${formatCalls(n.calls, true)} · p95 ${formatDuration(n.p95Ms)}`
    return {
      id: n.id,
      kind: n.kind,
      title: n.name,
      // Two lines: what it used (else its calls), then its errors, or else its calls.
      lines: [
        used ? `${formatTokens(n.inputTokens + n.outputTokens)} · ${formatSpend(n.costUsd, n.unpricedTokens)}` : calls,
        ...(n.errors > 0 ? [errorsLine(n.errors, n.calls)] : used ? [calls] : [])
      ],
      bad: n.errors > 0,
      description: `${n.kind} ${n.name}: ${formatCalls(n.calls)}, ${formatCount(n.errors)} errors, ${formatCount(n.inputTokens)} input and ${formatCount(n.outputTokens)} output tokens, ${formatSpend(n.costUsd, n.unpricedTokens)}${n.unpricedTokens > 0 ? ` (${formatCount(n.unpricedTokens)} tokens without a price)` : ""}, p95 ${formatDuration(n.p95Ms)}`
    }
  })

export const agentEdges = (g: AgentGraph): ReadonlyArray<GraphEdge> => {
  const name = new Map(g.nodes.map((n) => [n.id, `${n.kind} ${n.name}`]))
  return g.edges.map((e) => ({
    source: e.source,
    target: e.target,
    calls: e.calls,
    label: [`${formatCalls(e.calls, true)}${e.inputTokens + e.outputTokens > 0 ? ` · ${formatTokens(e.inputTokens + e.outputTokens)}` : ""}`, ...(e.errors > 0 ? [errorsLine(e.errors, e.calls)] : [])],
    bad: e.errors > 0,
    description: `${name.get(e.source) ?? e.source} invokes ${name.get(e.target) ?? e.target}: ${formatCalls(e.calls)}, ${formatCount(e.errors)} errors, ${formatCount(e.inputTokens + e.outputTokens)} tokens, ${formatSpend(e.costUsd, e.unpricedTokens)}, p95 ${formatDuration(e.p95Ms)}`
  }))
}

/** What to send for this page to fill: GenAI spans, with the attributes it reads. */
const SendGenai = () => {
  const { key } = useSession()
  const origin = window.location.origin
  return (
    <div className="empty" role="status">
      <h3>No GenAI spans in this range</h3>
      <p>
        Send spans that follow the OpenTelemetry GenAI conventions (or OpenInference) to this service, e.g. from
        <code> @opentelemetry/instrumentation-openai</code> or any SDK with an OTLP exporter:
      </p>
      <CopyText label="OpenTelemetry exporter settings" text={`OTEL_EXPORTER_OTLP_ENDPOINT=${origin}\nOTEL_EXPORTER_OTLP_HEADERS="x-api-key=${key ?? "<your key>"}"`} />
      <p>The page reads these span attributes:</p>
      <ul className="link-list">
        <li>
          <code>gen_ai.operation.name</code>: <code>invoke_agent</code>, <code>execute_tool</code>, <code>chat</code>…, with <code>gen_ai.agent.name</code> and{" "}
          <code>gen_ai.tool.name</code> (child spans inherit the agent)
        </li>
        <li>
          <code>gen_ai.request.model</code> / <code>gen_ai.response.model</code>, <code>gen_ai.provider.name</code>
        </li>
        <li>
          <code>gen_ai.usage.input_tokens</code>, <code>gen_ai.usage.output_tokens</code> (cost comes from the tenant's price table)
        </li>
        <li>
          <code>gen_ai.conversation.id</code> and <code>user.id</code> to group by conversation or user
        </li>
      </ul>
    </div>
  )
}

export default function AgentsPage() {
  const { range } = useTimeRange()
  const setParams = useSetParams()
  const groupParam = useParam("groupBy")
  const groupBy: GroupBy = GROUP_BY.find((g) => g === groupParam) ?? "model"
  const overTime = useParam("bucket") !== null
  const measureParam = useParam("measure")
  const measure: Measure = measureParam === "cost" || measureParam === "calls" ? measureParam : "tokens"
  const selected = useParam("edge")
  const usage = useQuery({
    queryKey: ["genaiUsage", range, groupBy, overTime],
    queryFn: () => api.genaiUsage({ ...range, groupBy, ...(overTime ? { bucket: "auto" } : {}) }),
    refetchInterval: 30_000
  })
  const graph = useQuery({ queryKey: ["genaiGraph", range], queryFn: () => api.genaiGraph(range), refetchInterval: 30_000 })
  const groups = usage.data?.groups ?? []
  const g = graph.data
  const nodes = useMemo(() => (g === undefined ? [] : agentNodes(g)), [g])
  const edges = useMemo(() => (g === undefined ? [] : agentEdges(g)), [g])
  const empty = usage.data !== undefined && graph.data !== undefined && groups.length === 0 && (g?.nodes.length ?? 0) === 0
  const chosen = g?.edges.find((e) => edgeKey(e) === selected)
  return (
    <section className="page" aria-labelledby="agents-title">
      <div className="page-head">
        <h1 id="agents-title">Agents</h1>
        <p className="muted">Model calls, tokens and cost of the GenAI spans in the selected range, and who invokes whom</p>
      </div>
      <div className="controls">
        <div role="group" aria-label="Group usage by">
          <span className="muted">Group by </span>
          <span className="segmented">
            {GROUP_BY.map((k) => (
              <button key={k} type="button" aria-pressed={k === groupBy} onClick={() => setParams({ groupBy: k === "model" ? null : k })}>
                {k}
              </button>
            ))}
          </span>
        </div>
        <label className="check">
          <input type="checkbox" checked={overTime} onChange={(e) => setParams({ bucket: e.target.checked ? "auto" : null })} /> Over time
        </label>
        {overTime && (
          <label className="inline">
            Chart
            <select value={measure} onChange={(e) => setParams({ measure: e.target.value === "tokens" ? null : e.target.value })}>
              {(Object.keys(MEASURES) as Array<Measure>).map((k) => (
                <option key={k} value={k}>
                  {MEASURES[k].label}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {usage.error !== null && <ErrorBox error={usage.error} />}
      {graph.error !== null && <ErrorBox error={graph.error} />}
      {(usage.isPending || graph.isPending) && <p className="muted" role="status">Loading GenAI usage…</p>}
      {empty && <SendGenai />}
      {!empty && usage.data !== undefined && (
        <>
          <UsageCards groups={groups} />
          <div className="card">
            <h2>Usage by {groupBy}</h2>
            {overTime && <UsageChart groups={groups} measure={measure} />}
            {groups.length === 0 ? <p className="muted">No model call in this range.</p> : <UsageTable groups={groups} groupBy={groupBy} />}
          </div>
        </>
      )}
      {!empty && g !== undefined && (
        <div className="card graph-card">
          <h2>Agent graph</h2>
          <p className="muted graph-legend">
            <span>Agents (rounded), tools (hexagons) and models (pills); an edge is an invocation from a parent span to a child span</span>
            <span>
              <span className="legend-line bad" aria-hidden="true" /> ⚠ with errors (dashed)
            </span>
          </p>
          {g.nodes.length === 0 ? (
            <p className="muted">No agent, tool or model span in this range.</p>
          ) : (
            <GraphView nodes={nodes} edges={edges} selected={selected} onSelectEdge={(k) => setParams({ edge: k }, { replace: true })} label={`Agent graph: ${g.nodes.length} nodes, ${g.edges.length} invocations`} />
          )}
          {chosen !== undefined && (
            <p aria-live="polite" className="edge-detail">
              <strong>{edges.find((e) => edgeKey(e) === selected)?.description}</strong>
            </p>
          )}
        </div>
      )}
    </section>
  )
}
