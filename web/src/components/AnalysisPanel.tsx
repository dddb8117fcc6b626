import type { ExecutionDetail } from "../api/client.ts"
import { formatDecimal, formatDuration, formatPercent } from "../lib/format.ts"

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
