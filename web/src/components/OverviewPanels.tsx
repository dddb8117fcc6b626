import { useQuery } from "@tanstack/react-query"
import { Link } from "wouter"
import { api } from "../api/client.ts"
import { useHrefWithRange } from "../hooks/useUrlState.ts"
import { useNow } from "../hooks/useNow.ts"
import { formatAgo, formatDateTime, formatDecimal, formatRate, formatValue, unitOf } from "../lib/format.ts"
import type { TimeRange } from "../lib/timeRange.ts"
import { ErrorBox } from "./Banner.tsx"
import { Sparkline } from "./Sparkline.tsx"
import { ProgressBar, SeverityBadge, StatusBadge } from "./Status.tsx"

/** Open alerts by severity, linking to the alerts page filtered the same way. */
export const AlertCounts = () => {
  const alerts = useQuery({ queryKey: ["alerts", "open"], queryFn: () => api.alerts({ state: "open" }), refetchInterval: 5000 })
  const withRange = useHrefWithRange()
  const open = alerts.data?.alerts ?? []
  const critical = open.filter((a) => a.severity === "critical").length
  const warning = open.length - critical
  return (
    <div className="card stat">
      <h2>
        <Link href={withRange("/alerts?state=open")}>Open alerts</Link>
      </h2>
      {alerts.data === undefined ? (
        <p className="stat-value">…</p>
      ) : (
        <>
          <p className={`stat-value ${critical > 0 ? "text-bad" : ""}`}>
            <span aria-hidden="true">◆</span> {critical} critical
          </p>
          <p className={warning > 0 ? "text-warn" : "muted"}>
            <span aria-hidden="true">▲</span> {warning} warning
          </p>
        </>
      )}
    </div>
  )
}

/** Spans and metric points stored per second, now and over the range. */
export const IngestCard = ({ range, refreshMs }: { readonly range: TimeRange; readonly refreshMs: number }) => {
  const rate = useQuery({ queryKey: ["ingest", range], queryFn: () => api.ingestRate(range), refetchInterval: refreshMs })
  const points = rate.data?.points ?? []
  const bucket = rate.data?.bucketSeconds ?? 60
  // The newest bucket is still filling: the one before it is the last whole one.
  const last = points.length >= 2 ? points[points.length - 2]! : points[points.length - 1]
  const x = points.map((p) => Date.parse(p.time) / 1000)
  return (
    <div className="card stat">
      <h2>Ingest rate</h2>
      <p className="stat-value">{rate.data === undefined ? "…" : last === undefined ? "–" : formatRate(last.spans / bucket, "spans")}</p>
      {rate.data !== undefined && <p className="muted">{last === undefined ? "nothing stored in the range" : `${formatRate(last.metricPoints / bucket, "points")} of metrics`}</p>}
      {points.length > 1 && <Sparkline x={x} y={points.map((p) => (p.spans + p.metricPoints) / bucket)} color="#3b78c2" label="Spans and metric points stored per second" />}
    </div>
  )
}

/** Executions still active, with their progress and current operation. */
export const RunningExecutions = ({ refreshMs }: { readonly refreshMs: number }) => {
  const running = useQuery({ queryKey: ["search", "running"], queryFn: () => api.search({ status: "active,paused", limit: "20" }), refetchInterval: refreshMs })
  const now = useNow(5000)
  const withRange = useHrefWithRange()
  const rows = running.data?.executions ?? []
  return (
    <div className="card">
      <h2>
        <Link href={withRange("/executions?status=active,paused")}>Running now</Link>
      </h2>
      {running.error !== null && <ErrorBox error={running.error} />}
      {running.data !== undefined && rows.length === 0 && <p className="muted">No execution is running.</p>}
      <ul className="list">
        {rows.map((e) => (
          <li key={e.executionId} data-trace-id={e.traceId}>
            <Link href={withRange(`/executions/${e.executionId}`)} className="list-main">
              <strong>{e.operationName}</strong> <span className="muted">· {e.serviceName}</span>
            </Link>
            <StatusBadge status={e.status} />
            <ProgressBar percent={e.progressPercentage} label={`${e.operationName} progress`} />
            {e.currentOperation !== null && <span className="muted"> {e.currentOperation}</span>}
            <span className="muted list-sub" title={formatDateTime(Date.parse(e.startTime))}>
              started {formatAgo(Date.parse(e.startTime), now)}
            </span>
          </li>
        ))}
      </ul>
    </div>
  )
}

/** The newest anomalies of the range, each linking to its metric's chart. */
export const AnomalyList = ({ range, refreshMs }: { readonly range: TimeRange; readonly refreshMs: number }) => {
  const anomalies = useQuery({ queryKey: ["anomalies", range, 10], queryFn: () => api.anomalies({ ...range, limit: "10" }), refetchInterval: refreshMs })
  const withRange = useHrefWithRange()
  const rows = anomalies.data?.anomalies ?? []
  return (
    <div className="card">
      <h2>Newest anomalies</h2>
      {anomalies.error !== null && <ErrorBox error={anomalies.error} />}
      {anomalies.data !== undefined && rows.length === 0 && <p className="muted">No anomaly in this range. The detector flags a window of a series once it has learnt the series (after its warm-up windows).</p>}
      <ul className="list">
        {rows.map((a) => {
          const unit = unitOf(a.metricName)
          return (
            <li key={`${a.seriesKey}-${a.windowStart}-${a.method}`}>
              <SeverityBadge severity={a.severity} />{" "}
              <Link href={withRange(`/metrics?name=${encodeURIComponent(a.metricName)}&service=${encodeURIComponent(a.serviceName)}`)} className="list-main">
                <strong>{a.metricName}</strong> <span className="muted">· {a.serviceName}{a.operation === "" ? "" : ` · ${a.operation}`}</span>
              </Link>
              <span>
                {" "}
                {formatValue(a.observed, unit)} vs expected {formatValue(a.expected, unit)}
                {a.z !== null && ` (z ${formatDecimal(a.z)})`}
              </span>
              <span className="muted list-sub">{formatDateTime(Date.parse(a.windowStart))}</span>
            </li>
          )
        })}
      </ul>
    </div>
  )
}
