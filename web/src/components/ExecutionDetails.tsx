import { useRef } from "react"
import type { KeyboardEvent, ReactNode } from "react"
import { Link } from "wouter"
import type { ExecutionDetail } from "../api/client.ts"
import { useHrefWithRange, useParam, useSetParams } from "../hooks/useUrlState.ts"
import { formatDateTime, formatDecimal, formatDuration, formatPercent, formatValue, unitOf } from "../lib/format.ts"
import { SeverityBadge } from "./Status.tsx"

type Analysis = NonNullable<ExecutionDetail["analysis"]>

const GRADE_TONE: Readonly<Record<string, string>> = { A: "ok", B: "ok", C: "warn", D: "warn", E: "bad", F: "bad" }

export const GradeBadge = ({ grade }: { readonly grade: string }) => (
  <span className={`badge badge-${GRADE_TONE[grade] ?? "muted"} grade`} title="Performance grade">
    grade {grade}
  </span>
)

const BAND: Readonly<Record<string, string>> = {
  at_or_below_p50: "at or below the usual (p50)",
  p50_to_p95: "between p50 and p95",
  above_p95: "slower than 95 % of runs (above p95)",
  no_baseline: "no baseline yet"
}

/** The performance analysis: grade and why, the spans the end waited on, the baseline, what to do. */
export const AnalysisPanel = ({ analysis: a, onSpan }: { readonly analysis: Analysis; readonly onSpan: (spanId: string) => void }) => {
  const b = a.comparisonWithBaseline
  const o = a.overallPerformance
  return (
    <section className="card analysis" aria-labelledby="analysis-title">
      <h2 id="analysis-title">
        Performance analysis <GradeBadge grade={a.performanceGrade} />
      </h2>
      <div className="analysis-grid">
        <div>
          <h3>Why this grade</h3>
          <ul>
            {a.gradeReasons.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
          <h3>Shape</h3>
          <p>
            Critical path {formatDuration(o.criticalPathMs)} of {formatDuration(o.durationMs)}; {o.spanCount} spans over {o.serviceCount} services, depth {o.maxDepth}
            {o.parallelism !== null && `, parallelism ${formatDecimal(o.parallelism)}`}; {o.errorSpanCount} error span{o.errorSpanCount === 1 ? "" : "s"}
            {o.untrackedMs > 0 && `; ${formatDuration(o.untrackedMs)} not covered by any span`}.
          </p>
          <h3>Baseline</h3>
          <p>
            {b.band === "no_baseline"
              ? `No baseline: ${b.sampleCount} earlier run${b.sampleCount === 1 ? "" : "s"} in ${b.windowDays} days (5 needed).`
              : `${formatDuration(b.durationMs)} is ${BAND[b.band]}: p50 ${formatDuration(b.p50Ms)}, p95 ${formatDuration(b.p95Ms)} over ${b.sampleCount} runs in ${b.windowDays} days (${b.source === "executions" ? "finished executions" : "span RED"}).`}
          </p>
        </div>
        <div>
          <h3>Bottlenecks (on the critical path)</h3>
          {a.bottlenecks.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Span</th>
                  <th scope="col" className="num">Self time</th>
                  <th scope="col" className="num">On path</th>
                  <th scope="col" className="num">Share</th>
                </tr>
              </thead>
              <tbody>
                {a.bottlenecks.map((x) => (
                  <tr key={x.spanId}>
                    <th scope="row">
                      <button type="button" className="link" onClick={() => onSpan(x.spanId)}>
                        {x.serviceName} · {x.name}
                      </button>
                    </th>
                    <td className="num">{formatDuration(x.selfTimeMs)}</td>
                    <td className="num">{formatDuration(x.criticalPathMs)}</td>
                    <td className="num">{formatPercent(x.shareOfDuration)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h3>Recommendations</h3>
          {a.optimizationRecommendations.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <ul>
              {a.optimizationRecommendations.map((r, i) => (
                <li key={i}>
                  <strong>{r.recommendation}</strong> <span className="muted">— {r.fact}</span>
                  {r.spanId !== null && (
                    <>
                      {" "}
                      <button type="button" className="link" onClick={() => onSpan(r.spanId!)}>
                        show span
                      </button>
                    </>
                  )}
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </section>
  )
}

const Json = ({ value }: { readonly value: unknown }) => <pre className="json">{JSON.stringify(value, null, 2)}</pre>

/** ARIA tabs whose choice lives in the URL (`?tab=`), arrows moving between them. */
const Tabs = ({ tabs }: { readonly tabs: ReadonlyArray<{ readonly id: string; readonly label: string; readonly body: () => ReactNode }> }) => {
  const current = useParam("tab") ?? tabs[0]!.id
  const setParams = useSetParams()
  const list = useRef<HTMLDivElement>(null)
  const tab = tabs.find((t) => t.id === current) ?? tabs[0]!
  const choose = (id: string) => setParams({ tab: id }, { replace: true })
  const onKey = (e: KeyboardEvent) => {
    const i = tabs.findIndex((t) => t.id === tab.id)
    const next = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : null
    if (next === null) return
    const t = tabs[(next + tabs.length) % tabs.length]!
    choose(t.id)
    list.current?.querySelector<HTMLElement>(`#tab-${t.id}`)?.focus()
  }
  return (
    <div className="card">
      <div role="tablist" aria-label="Execution details" className="tabs" ref={list} onKeyDown={onKey}>
        {tabs.map((t) => (
          <button key={t.id} id={`tab-${t.id}`} type="button" role="tab" aria-selected={t.id === tab.id} aria-controls={`panel-${t.id}`} tabIndex={t.id === tab.id ? 0 : -1} onClick={() => choose(t.id)}>
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab.id}`} aria-labelledby={`tab-${tab.id}`} className="tab-panel">
        {tab.body()}
      </div>
    </div>
  )
}

/** The execution's events, metric points, anomalies and its own fields. */
export const ExecutionTabs = ({ detail: d }: { readonly detail: ExecutionDetail }) => {
  const withRange = useHrefWithRange()
  return (
    <Tabs
      tabs={[
        {
          id: "events",
          label: `Events (${d.events.length})`,
          body: () =>
            d.events.length === 0 ? (
              <p className="muted">No event. PATCH /api/executions/{d.traceId} with "events" records them.</p>
            ) : (
              <table className="table">
                <thead>
                  <tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Type</th><th scope="col">Metadata</th></tr>
                </thead>
                <tbody>
                  {d.events.map((e, i) => (
                    <tr key={i}>
                      <td className="mono">{formatDateTime(Date.parse(e.timestamp), undefined, true)}</td>
                      <th scope="row">{e.eventName}</th>
                      <td>{e.eventType}</td>
                      <td className="mono wrap">{Object.keys(e.metadata).length === 0 ? "" : JSON.stringify(e.metadata)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
        },
        {
          id: "metrics",
          label: `Metric points (${d.metricPoints.length})`,
          body: () =>
            d.metricPoints.length === 0 ? (
              <p className="muted">No metric point carries this trace id.</p>
            ) : (
              <table className="table">
                <thead>
                  <tr><th scope="col">Time</th><th scope="col">Metric</th><th scope="col">Service</th><th scope="col" className="num">Value</th></tr>
                </thead>
                <tbody>
                  {d.metricPoints.map((p, i) => (
                    <tr key={i}>
                      <td className="mono">{formatDateTime(Date.parse(p.time), undefined, true)}</td>
                      <th scope="row">
                        <Link href={withRange(`/metrics?name=${encodeURIComponent(p.name)}&service=${encodeURIComponent(p.serviceName)}`)}>{p.name}</Link>
                      </th>
                      <td>{p.serviceName}</td>
                      <td className="num">{formatValue(p.value, unitOf(p.name))}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
        },
        {
          id: "anomalies",
          label: `Anomalies (${d.anomalies.length})`,
          body: () =>
            d.anomalies.length === 0 ? (
              <p className="muted">No anomaly of {d.serviceName} while this ran, and none carrying its trace id.</p>
            ) : (
              <table className="table">
                <thead>
                  <tr><th scope="col">Window</th><th scope="col">Severity</th><th scope="col">Series</th><th scope="col" className="num">Observed</th><th scope="col" className="num">Expected</th><th scope="col" className="num">z</th><th scope="col">Method</th></tr>
                </thead>
                <tbody>
                  {d.anomalies.map((a, i) => (
                    <tr key={i}>
                      <td className="mono">{formatDateTime(Date.parse(a.windowStart))}</td>
                      <td><SeverityBadge severity={a.severity} /></td>
                      <th scope="row">{a.metricName} · {a.serviceName}{a.operation === "" ? "" : ` · ${a.operation}`}</th>
                      <td className="num">{formatValue(a.observed, unitOf(a.metricName))}</td>
                      <td className="num">{formatValue(a.expected, unitOf(a.metricName))}</td>
                      <td className="num">{a.z === null ? "–" : formatDecimal(a.z)}</td>
                      <td>{a.method}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
        },
        {
          id: "fields",
          label: "Context and attributes",
          body: () => (
            <div className="analysis-grid">
              <div><h3>Context</h3><Json value={d.context} /><h3>Tags</h3><Json value={d.tags} /><h3>Metadata</h3><Json value={d.metadata} /></div>
              <div><h3>Custom attributes</h3><Json value={d.customAttributes} /><h3>Result</h3><Json value={d.result} /><h3>Errors and warnings</h3><Json value={{ errors: d.errors, warnings: d.warnings }} /></div>
            </div>
          )
        }
      ]}
    />
  )
}
