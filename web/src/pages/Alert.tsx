import { useQuery } from "@tanstack/react-query"
import { Link, useParams } from "wouter"
import { api } from "../api/client.ts"
import type { AlertDetail } from "../api/client.ts"
import { AckButton, AlertStateBadge, EventType } from "../components/AlertBits.tsx"
import { num, Why } from "../components/AlertWhy.tsx"
import { ErrorBox } from "../components/Banner.tsx"
import { Notifications } from "../components/Notifications.tsx"
import { SeverityBadge } from "../components/Status.tsx"
import { useNow } from "../hooks/useNow.ts"
import { useHrefWithRange } from "../hooks/useUrlState.ts"
import { executionsWindow, formatZ } from "../lib/alerts.ts"
import { formatDateTime, formatDecimal, formatValue, unitOf } from "../lib/format.ts"
import type { Unit } from "../lib/format.ts"
import "./pages.css"

const Facts = ({ d, unit }: { readonly d: AlertDetail; readonly unit: Unit }) => {
  const a = d.alert
  const shown = new Set(["operation", "z", "sd", "threshold"])
  const extra = Object.entries(a.details).filter(([k, v]) => !shown.has(k) && v !== null && v !== "")
  const fact = (label: string, value: string, key = label) => (
    <div className="card stat" key={key}>
      <h2>{label}</h2>
      <p className="stat-value">{value}</p>
    </div>
  )
  return (
    <div className="cards">
      {fact("Observed", formatValue(a.observed, unit))}
      {fact("Expected", formatValue(a.expected, unit))}
      {fact("z", formatZ(num(a.details.z), formatDecimal))}
      {fact("Threshold", formatValue(num(a.details.threshold), unit))}
      {fact("Peak", formatValue(a.peak, unit))}
      {fact("Occurrences", `${a.occurrences}×`)}
      {extra.map(([k, v]) => fact(k, typeof v === "number" ? formatDecimal(v) : typeof v === "string" ? v : JSON.stringify(v), `x-${k}`))}
    </div>
  )
}

const Timeline = ({ d }: { readonly d: AlertDetail }) => {
  const a = d.alert
  return (
    <dl className="facts">
      <dt>Opened</dt>
      <dd>{formatDateTime(Date.parse(a.openedAt))}</dd>
      <dt>Last seen</dt>
      <dd>{formatDateTime(Date.parse(a.lastSeenAt))}</dd>
      <dt>Acknowledged</dt>
      <dd>{a.acknowledgedAt === null ? "not yet" : formatDateTime(Date.parse(a.acknowledgedAt))}</dd>
      <dt>Resolved</dt>
      <dd>{a.resolvedAt === null ? "not yet" : formatDateTime(Date.parse(a.resolvedAt))}</dd>
      <dt>Rule</dt>
      <dd className="mono">{a.rule}</dd>
      <dt>Series</dt>
      <dd className="mono">{a.seriesKey}</dd>
      <dt>Alert id</dt>
      <dd className="mono">{a.id}</dd>
    </dl>
  )
}

const Executions = ({ d, now }: { readonly d: AlertDetail; readonly now: number }) => {
  const a = d.alert
  const w = executionsWindow(a, now)
  const q = new URLSearchParams({ ...(a.serviceName === null || a.serviceName === "" ? {} : { service: a.serviceName }), ...(d.series?.operation ? { operation: d.series.operation } : {}), from: w.from, to: w.to })
  const failed = new URLSearchParams(q)
  failed.set("status", "failed,timed_out")
  return (
    <div className="card">
      <h2>Executions in that window</h2>
      <p className="muted">
        {formatDateTime(Date.parse(w.from))} → {formatDateTime(Date.parse(w.to))}
      </p>
      <ul className="link-list">
        <li>
          <Link href={`/executions?${q.toString()}`} data-link="executions">
            Executions{a.serviceName === null || a.serviceName === "" ? "" : ` of ${a.serviceName}`}
            {d.series?.operation ? ` (${d.series.operation})` : ""} in that window
          </Link>
        </li>
        <li>
          <Link href={`/executions?${failed.toString()}`}>Only the failed and timed-out ones</Link>
        </li>
        {a.traceId !== null && (
          <li>
            <Link href={`/executions/${a.traceId}`}>The execution this alert is about ({a.traceId.slice(0, 12)}…)</Link>
          </li>
        )}
        {a.metricName !== null && (
          <li>
            <Link href={`/metrics?${new URLSearchParams({ name: a.metricName, ...(a.serviceName ? { service: a.serviceName } : {}), from: w.from, to: w.to }).toString()}`}>
              {a.metricName} on the metrics page
            </Link>
          </li>
        )}
      </ul>
    </div>
  )
}

export default function AlertPage() {
  const { alertId = "" } = useParams<{ alertId: string }>()
  const now = useNow(10_000)
  const withRange = useHrefWithRange()
  const detail = useQuery({
    queryKey: ["alert", alertId],
    queryFn: () => api.alert(alertId),
    refetchInterval: (q) => (q.state.data?.alert.state === "resolved" ? false : 10_000)
  })
  const d = detail.data
  return (
    <section className="page" aria-labelledby="alert-title">
      <p className="crumbs">
        <Link href={withRange("/alerts")}>Alerts</Link> <span aria-hidden="true">›</span> <span className="mono">{alertId}</span>
      </p>
      {d === undefined ? (
        detail.error !== null ? <ErrorBox error={detail.error} /> : <p className="muted" role="status">Loading the alert…</p>
      ) : (
        <>
          <header className="card alert-head" data-alert-id={d.alert.id} data-state={d.alert.state}>
            <div className="execution-title">
              <h1 id="alert-title">{d.alert.title}</h1>
              <SeverityBadge severity={d.alert.severity} />
              <AlertStateBadge state={d.alert.state} />
              <EventType type={d.alert.type} />
              <AckButton id={d.alert.id} state={d.alert.state} label={d.alert.title} />
            </div>
            <Timeline d={d} />
          </header>
          <Facts d={d} unit={unitOf(d.series?.metricName ?? d.alert.metricName ?? "")} />
          <Why d={d} now={now} />
          <Executions d={d} now={now} />
          <div className="card">
            <h2>Notifications and deliveries</h2>
            <Notifications detail={d} />
          </div>
        </>
      )}
    </section>
  )
}
