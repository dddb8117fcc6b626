import { useQuery } from "@tanstack/react-query"
import { useMemo } from "react"
import { Link, useParams } from "wouter"
import { api } from "../api/client.ts"
import { ErrorBox } from "../components/Banner.tsx"
import { AnalysisPanel, GradeBadge } from "../components/AnalysisPanel.tsx"
import { ExecutionTabs } from "../components/ExecutionDetails.tsx"
import { Fact } from "../components/Fact.tsx"
import { SpanPanel } from "../components/SpanPanel.tsx"
import { ProgressBar, StatusBadge } from "../components/Status.tsx"
import { Waterfall } from "../components/Waterfall.tsx"
import { useHrefWithRange, useParam, useSetParams } from "../hooks/useUrlState.ts"
import { formatCount, formatDateTime, formatDuration, formatGenaiTotals } from "../lib/format.ts"
import { markStart } from "../perf.ts"

const running = (status: string | undefined) => status === "active" || status === "paused"

export default function Execution() {
  const { executionId } = useParams<{ executionId: string }>()
  const selected = useParam("span")
  const setParams = useSetParams()
  const withRange = useHrefWithRange()
  const detail = useQuery({
    queryKey: ["execution", executionId],
    queryFn: async () => {
      const d = await api.execution(executionId)
      markStart("waterfall")
      return d
    },
    refetchInterval: (q) => (running(q.state.data?.status) ? 5000 : false)
  })
  const d = detail.data
  const span = useMemo(() => (selected === null ? undefined : d?.spans.find((s) => s.spanId === selected)), [d, selected])
  // The waterfall's axis starts at the earliest span: offsets in the span panel count from there too.
  const traceStart = useMemo(() => (d === undefined ? 0 : d.spans.reduce((m, s) => Math.min(m, Date.parse(s.startTime)), Infinity)), [d])
  const select = (id: string | null) => setParams({ span: id }, { replace: true })

  if (d === undefined) {
    return (
      <section className="page">
        <p>
          <Link href={withRange("/executions")}>← Executions</Link>
        </p>
        {detail.error !== null ? <ErrorBox error={detail.error} /> : <p className="muted" role="status">Loading the execution…</p>}
      </section>
    )
  }
  return (
    <section className="page" aria-labelledby="execution-title">
      <p className="crumbs">
        <Link href={withRange("/executions")}>← Executions</Link>
      </p>
      <header className="card execution-head">
        <div className="execution-title">
          <h1 id="execution-title">{d.operationName}</h1>
          <StatusBadge status={d.status} />
          {d.analysis !== null && <GradeBadge grade={d.analysis.performanceGrade} />}
        </div>
        <dl className="facts facts-inline">
          <Fact term="Service">{d.serviceName}</Fact>
          <Fact term="Started">{formatDateTime(Date.parse(d.startTime), undefined, true)}</Fact>
          <Fact term="Duration">{d.durationMs === null ? "running" : formatDuration(d.durationMs)}</Fact>
          <Fact term="Spans">{formatCount(d.spans.length)}</Fact>
          <Fact term="Trace" className="mono">{d.traceId}</Fact>
          <Fact term="Source">{d.source}</Fact>
          {d.genai !== null && <Fact term="GenAI">{formatGenaiTotals(d.genai)}</Fact>}
        </dl>
        {running(d.status) && (
          <p>
            <ProgressBar percent={d.progressPercentage} label="Progress" /> {d.currentOperation !== null && <span className="muted">now: {d.currentOperation}</span>}
          </p>
        )}
        {d.analysis !== null && <p className="summary">{d.analysis.overallPerformance.summary}</p>}
      </header>
      <div className={span === undefined ? "trace-view" : "trace-view with-panel"}>
        <div className="card trace-card">
          {d.spans.length === 0 ? (
            <p className="muted">No span of this trace has arrived (yet). Spans sent to /v1/traces with trace id {d.traceId} show here.</p>
          ) : (
            <Waterfall spans={d.spans} selectedId={span === undefined ? null : span.spanId} onSelect={select} />
          )}
        </div>
        {span !== undefined && <SpanPanel span={span} traceStartMs={traceStart} onClose={() => select(null)} />}
      </div>
      {d.analysis !== null && <AnalysisPanel analysis={d.analysis} onSpan={select} />}
      <ExecutionTabs detail={d} />
    </section>
  )
}
