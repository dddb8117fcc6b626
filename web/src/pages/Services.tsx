import { useQuery } from "@tanstack/react-query"
import { useMemo } from "react"
import { Link, useLocation } from "wouter"
import { api } from "../api/client.ts"
import type { ServiceGraph } from "../api/client.ts"
import { Fact } from "../components/Fact.tsx"
import { ErrorBox } from "../components/Banner.tsx"
import { edgeKey, GraphView } from "../components/GraphView.tsx"
import type { GraphEdge, GraphNode } from "../components/GraphView.tsx"
import { SendData } from "../components/SendData.tsx"
import { useHrefWithRange, useParam, useSetParams, useTimeRange } from "../hooks/useUrlState.ts"
import { serviceColor } from "../lib/colors.ts"
import { formatCalls, formatCount, formatDuration, formatPercent } from "../lib/format.ts"
import "./pages.css"

type Edge = ServiceGraph["edges"][number]

const errorsText = (errors: number, rate: number) => (errors === 0 ? "no errors" : `⚠ ${formatPercent(rate)} errors (${formatCount(errors)})`)

export const serviceNodes = (g: ServiceGraph): ReadonlyArray<GraphNode> =>
  g.nodes.map((n) => ({
    id: n.service,
    kind: "service",
    title: n.service,
    color: serviceColor(n.service),
    lines: [`${formatCount(n.requests, true)} req · p95 ${formatDuration(n.p95Ms)}`, ...(n.errors > 0 ? [errorsText(n.errors, n.errorRate)] : [])],
    bad: n.errors > 0,
    description: `Service ${n.service}: ${formatCount(n.requests)} requests, ${errorsText(n.errors, n.errorRate).replace("⚠ ", "")}, p95 ${formatDuration(n.p95Ms)}. Open its executions.`
  }))

export const serviceEdges = (g: ServiceGraph): ReadonlyArray<GraphEdge> =>
  g.edges.map((e) => ({
    source: e.source,
    target: e.target,
    calls: e.calls,
    label: [`${formatCalls(e.calls, true)} · p95 ${formatDuration(e.p95Ms)}`, ...(e.errors > 0 ? [errorsText(e.errors, e.errorRate)] : [])],
    bad: e.errors > 0,
    description: `${e.source} calls ${e.target}: ${formatCalls(e.calls)}, ${errorsText(e.errors, e.errorRate).replace("⚠ ", "")}, p95 ${formatDuration(e.p95Ms)}`
  }))

const EdgeDetail = ({ e, range }: { readonly e: Edge; readonly range: { readonly from: string; readonly to: string } }) => {
  const q = (service: string, status?: string) => `/executions?${new URLSearchParams({ service, ...(status === undefined ? {} : { status }), from: range.from, to: range.to }).toString()}`
  return (
    <div className="card edge-detail" aria-live="polite">
      <h2>
        {e.source} <span aria-hidden="true">→</span>
        <span className="visually-hidden">calls</span> {e.target}
      </h2>
      <dl className="facts facts-inline">
        <Fact term="Calls">{formatCount(e.calls)}</Fact>
        <Fact term="Errors" {...(e.errors > 0 ? { className: "text-bad" } : {})}>{errorsText(e.errors, e.errorRate)}</Fact>
        <Fact term="p95 of the callee's spans">{formatDuration(e.p95Ms)}</Fact>
      </dl>
      <p>
        <Link href={q(e.target)}>Executions of {e.target}</Link> · <Link href={q(e.target, "failed,timed_out")}>its failed ones</Link> ·{" "}
        <Link href={q(e.source)}>executions of {e.source}</Link>
      </p>
    </div>
  )
}

const EdgeTable = ({ g, selected, onSelect }: { readonly g: ServiceGraph; readonly selected: string | null; readonly onSelect: (k: string | null) => void }) => (
  <div className="table-wrap">
    <table className="table edge-table">
      <caption className="visually-hidden">Calls between services</caption>
      <thead>
        <tr>
          <th scope="col">Caller</th>
          <th scope="col">Callee</th>
          <th scope="col" className="num">Calls</th>
          <th scope="col" className="num">Errors</th>
          <th scope="col" className="num">Error rate</th>
          <th scope="col" className="num">p95</th>
        </tr>
      </thead>
      <tbody>
        {[...g.edges].sort((a, b) => b.calls - a.calls).map((e) => {
          const k = edgeKey(e)
          return (
            <tr key={k} data-edge-row={k} className={k === selected ? "selected" : undefined}>
              <td>{e.source}</td>
              <th scope="row">
                <button type="button" className="link" aria-pressed={k === selected} onClick={() => onSelect(k === selected ? null : k)}>
                  {e.target}
                </button>
              </th>
              <td className="num">{formatCount(e.calls)}</td>
              <td className="num">{formatCount(e.errors)}</td>
              <td className={`num${e.errors > 0 ? " text-bad" : ""}`}>
                {e.errors > 0 && <span aria-hidden="true">⚠ </span>}
                {formatPercent(e.errorRate)}
              </td>
              <td className="num">{formatDuration(e.p95Ms)}</td>
            </tr>
          )
        })}
      </tbody>
    </table>
  </div>
)

export default function ServicesPage() {
  const { range } = useTimeRange()
  const selected = useParam("edge")
  const setParams = useSetParams()
  const withRange = useHrefWithRange()
  const [, navigate] = useLocation()
  const graph = useQuery({ queryKey: ["serviceGraph", range], queryFn: () => api.serviceGraph(range), refetchInterval: 15_000 })
  const g = graph.data
  const nodes = useMemo(() => (g === undefined ? [] : serviceNodes(g)), [g])
  const edges = useMemo(() => (g === undefined ? [] : serviceEdges(g)), [g])
  const select = (k: string | null) => setParams({ edge: k }, { replace: true })
  const chosen = g?.edges.find((e) => edgeKey(e) === selected)
  return (
    <section className="page" aria-labelledby="services-title">
      <div className="page-head">
        <h1 id="services-title">Service map</h1>
        <p className="muted">Callers on the left, callees to their right: an edge is a span of one service that is the parent of a span of another</p>
      </div>
      {graph.error !== null && <ErrorBox error={graph.error} />}
      {graph.isPending && <p className="muted" role="status">Loading the map…</p>}
      {g !== undefined && g.nodes.length === 0 && (
        <SendData title="No service has sent spans in this range" what={["spans"]} />
      )}
      {g !== undefined && g.nodes.length > 0 && (
        <>
          <div className="card graph-card">
            <p className="muted graph-legend">
              <span>Tab to an edge for its numbers, Enter to pin it</span>
              <span>
                <span className="legend-line" aria-hidden="true" /> calls (thicker: more)
              </span>
              <span>
                <span className="legend-line bad" aria-hidden="true" /> ⚠ with errors (dashed)
              </span>
              {g.truncated && <span>Sampled: the newest calls of each operation</span>}
            </p>
            {g.edges.length === 0 && (
              <p className="muted">
                No call between services yet: a call shows when a span's parent belongs to another service. Propagate the W3C <code>traceparent</code> header between
                services (the OpenTelemetry SDKs do by default).
              </p>
            )}
            <GraphView
              nodes={nodes}
              edges={edges}
              selected={selected}
              onSelectEdge={select}
              onOpenNode={(id) => navigate(withRange(`/executions?service=${encodeURIComponent(id)}`))}
              label={`Service map: ${g.nodes.length} services, ${g.edges.length} calls between them`}
            />
          </div>
          {chosen !== undefined && <EdgeDetail e={chosen} range={range} />}
          {g.edges.length > 0 && (
            <div className="card">
              <h2>Calls</h2>
              <EdgeTable g={g} selected={selected} onSelect={select} />
            </div>
          )}
        </>
      )}
    </section>
  )
}
