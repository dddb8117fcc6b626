import { useQuery } from "@tanstack/react-query"
import { useMemo } from "react"
import { Link } from "wouter"
import { api } from "../api/client.ts"
import type { AlertDetail, MetricWindows } from "../api/client.ts"
import { useHrefWithRange, useParam, useSetParams } from "../hooks/useUrlState.ts"
import { chartWindow, CONTEXT_CHOICES, formatZ } from "../lib/alerts.ts"
import { computeBand } from "../lib/band.ts"
import { formatDateTime, formatDecimal, formatValue, unitOf } from "../lib/format.ts"
import type { Unit } from "../lib/format.ts"
import { AlertChart } from "./AlertChart.tsx"
import { ErrorBox } from "./Banner.tsx"
import { SeverityBadge } from "./Status.tsx"

// Why an alert fired: the sentence, the series around it against the detector's band, and the
// anomalies the detector recorded for the series.

export const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null)

/** The alert's reason in one sentence, from what the detector or the rule recorded. */
const Reason = ({ d, unit, windows }: { readonly d: AlertDetail; readonly unit: Unit; readonly windows: MetricWindows | undefined }) => {
  const a = d.alert
  const z = num(a.details.z)
  const sd = num(a.details.sd)
  const threshold = num(a.details.threshold)
  const what = d.series === null ? a.title : `${d.series.metricName}${d.series.serviceName === "" ? "" : ` of ${d.series.serviceName}`}${d.series.operation === "" ? "" : ` (${d.series.operation})`}`
  if (a.rule === "anomaly" && a.observed !== null)
    return (
      <p className="reason">
        The window mean of <strong>{what}</strong> was <strong>{formatValue(a.observed, unit)}</strong> where the detector expected{" "}
        <strong>{formatValue(a.expected, unit)}</strong>
        {sd !== null && <> (sd {formatValue(sd, unit)})</>}
        {z !== null && (
          <>
            : <strong>z = {formatZ(z, formatDecimal)}</strong>
          </>
        )}
        {windows !== undefined && (
          <>
            {" "}
            — it warns from z {formatDecimal(windows.zWarning)} and calls it critical from z {formatDecimal(windows.zCritical)}
          </>
        )}
        .
      </p>
    )
  if (threshold !== null && a.observed !== null)
    return (
      <p className="reason">
        <strong>{what}</strong> reached <strong>{formatValue(a.observed, unit)}</strong>, past its {a.severity} threshold of <strong>{formatValue(threshold, unit)}</strong>.
      </p>
    )
  return <p className="reason">{a.title}.</p>
}

export const Why = ({ d, now }: { readonly d: AlertDetail; readonly now: number }) => {
  const setParams = useSetParams()
  const chosen = useParam("context")
  const context = CONTEXT_CHOICES.find((c) => c.value === chosen) ?? CONTEXT_CHOICES[0]
  const series = d.series
  const unit = unitOf(series?.metricName ?? "")
  // The window is fixed at the first render of a context (not sliding with `now`), so the query key is stable.
  const win = useMemo(() => chartWindow(d.alert, context.ms, now), [d.alert.openedAt, d.alert.resolvedAt, context.ms]) // eslint-disable-line react-hooks/exhaustive-deps
  const windows = useQuery({
    queryKey: ["alert", d.alert.id, "windows", context.value, win],
    enabled: series !== null,
    queryFn: () =>
      api.metricWindows({
        name: series!.metricName,
        service: series!.serviceName === "" ? undefined : series!.serviceName,
        operation: series!.operation === "" ? undefined : series!.operation,
        from: new Date(win.fromMs).toISOString(),
        to: new Date(win.toMs).toISOString(),
        limit: "5000"
      })
  })
  const own = windows.data?.series.find((s) => series !== null && s.service === series.serviceName && s.operation === series.operation)
  const band = useMemo(() => (own === undefined || windows.data === undefined ? null : computeBand(own.windows, windows.data.zWarning)), [own, windows.data])
  const markers = useMemo(() => {
    // Windows are in event time, the alert's times in processing time: the window that opened it is
    // the anomaly detected nearest to the opening.
    const opened = Date.parse(d.alert.openedAt)
    const trigger = [...d.anomalies].sort((x, y) => Math.abs(Date.parse(x.detectedAt) - opened) - Math.abs(Date.parse(y.detectedAt) - opened))[0]
    return [
      trigger === undefined ? { ms: opened, label: "opened" } : { ms: Date.parse(trigger.windowStart), label: "opened the alert" },
      ...(d.alert.resolvedAt === null ? [] : [{ ms: Date.parse(d.alert.resolvedAt), label: "resolved" }])
    ]
  }, [d.alert.openedAt, d.alert.resolvedAt, d.anomalies])
  const threshold = num(d.alert.details.threshold)
  return (
    <div className="card">
      <div className="card-head">
        <h2>Why it fired</h2>
        {series !== null && (
          <label className="inline">
            Around the alert
            <select value={context.value} onChange={(e) => setParams({ context: e.target.value === "15m" ? null : e.target.value }, { replace: true })}>
              {CONTEXT_CHOICES.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <Reason d={d} unit={unit} windows={windows.data} />
      {series === null && <p className="muted">An event alert: it watches no metric series, so there is no band to draw.</p>}
      {windows.error !== null && <ErrorBox error={windows.error} />}
      {series !== null && windows.isPending && <p className="muted" role="status">Loading the series…</p>}
      {band !== null && band.x.length > 0 && (
        <figure className="alert-chart" data-windows={band.x.length}>
          <AlertChart
            band={band}
            unit={unit}
            threshold={threshold}
            markers={markers}
            label={`${series?.metricName}: ${band.x.length} windows from ${formatDateTime(win.fromMs)} to ${formatDateTime(win.toMs)}, the expected band, ${band.anomalies} flagged windows; the alert opened at ${formatDateTime(Date.parse(d.alert.openedAt))}`}
          />
          <figcaption className="muted">
            Observed window means against the band the detector expected (expected ± {windows.data?.zWarning ?? "z"}·sd); ▲ warning and ◆ critical windows.
            {windows.data?.truncated === true && " Only the newest windows are drawn: narrow the context to see all."}
          </figcaption>
        </figure>
      )}
      {series !== null && windows.data !== undefined && (band === null || band.x.length === 0) && (
        <p className="muted">No detector window of this series in this range (windows are kept as long as the raw data).</p>
      )}
      {d.anomalies.length > 0 && <AnomalyTable d={d} unit={unit} />}
    </div>
  )
}

const AnomalyTable = ({ d, unit }: { readonly d: AlertDetail; readonly unit: Unit }) => {
  const withRange = useHrefWithRange()
  return (
    <details open={d.anomalies.length <= 12}>
      <summary>
        {d.anomalies.length} anomal{d.anomalies.length === 1 ? "y" : "ies"} of this series around the alert
      </summary>
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Window</th>
              <th scope="col">Method</th>
              <th scope="col">Severity</th>
              <th scope="col" className="num">Observed</th>
              <th scope="col" className="num">Expected</th>
              <th scope="col" className="num">z</th>
              <th scope="col" className="num">Threshold</th>
              <th scope="col">Trace</th>
            </tr>
          </thead>
          <tbody>
            {d.anomalies.map((x) => (
              <tr key={`${x.windowStart}-${x.method}`}>
                <td className="mono">{formatDateTime(Date.parse(x.windowStart))}</td>
                <td>{x.method}</td>
                <td>
                  <SeverityBadge severity={x.severity} />
                </td>
                <td className="num">{formatValue(x.observed, unit)}</td>
                <td className="num">{formatValue(x.expected, unit)}</td>
                <td className="num">{formatZ(x.z, formatDecimal)}</td>
                <td className="num">{formatValue(x.threshold, unit)}</td>
                <td>{x.traceId === null ? <span className="muted">–</span> : <Link href={withRange(`/executions/${x.traceId}`)}>{x.traceId.slice(0, 12)}…</Link>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  )
}

