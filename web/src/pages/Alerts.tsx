import { useQuery } from "@tanstack/react-query"
import { useMemo } from "react"
import { Link, useSearchParams } from "wouter"
import { api } from "../api/client.ts"
import type { Alert } from "../api/client.ts"
import { AckButton, AlertStateBadge, EventType } from "../components/AlertBits.tsx"
import { ErrorBox } from "../components/Banner.tsx"
import { SeverityBadge } from "../components/Status.tsx"
import { useNow } from "../hooks/useNow.ts"
import { useHrefWithRange, useSetParams, useTimeRange } from "../hooks/useUrlState.ts"
import { ALERT_STATES, distinct, eventTypeLabel, filterAlerts, filtersFromParams, filtersToParams, groupAlerts, SEVERITIES, stateQuery } from "../lib/alerts.ts"
import type { AlertFilters } from "../lib/alerts.ts"
import { formatAgo, formatCount, formatDateTime, formatLocal, formatOffset, formatValue, localOffsetMinutes, unitOf } from "../lib/format.ts"
import { resolveRange } from "../lib/timeRange.ts"
import "./pages.css"

const REFRESH_MS = 10_000

const toggle = <A extends string>(list: ReadonlyArray<A>, x: A, all: ReadonlyArray<A>): ReadonlyArray<A> => {
  const next = list.includes(x) ? list.filter((y) => y !== x) : all.filter((y) => y === x || list.includes(y))
  return next.length === 0 ? list : next
}

const Filters = ({ f, alerts }: { readonly f: AlertFilters; readonly alerts: ReadonlyArray<Alert> }) => {
  const setParams = useSetParams()
  const set = (next: AlertFilters) => setParams(filtersToParams(next))
  const types = distinct(alerts, (a) => a.type)
  const services = distinct(alerts, (a) => a.serviceName)
  return (
    <div className="filter-bar" role="group" aria-label="Filters">
      <fieldset>
        <legend>State</legend>
        {ALERT_STATES.map((s) => (
          <button key={s} type="button" className="chip" aria-pressed={f.states.includes(s)} onClick={() => set({ ...f, states: toggle(f.states, s, ALERT_STATES) })}>
            <span aria-hidden="true">{f.states.includes(s) ? "☑ " : "☐ "}</span>
            {s}
          </button>
        ))}
      </fieldset>
      <fieldset>
        <legend>Severity</legend>
        {SEVERITIES.map((s) => (
          <button key={s} type="button" className="chip" aria-pressed={f.severities.includes(s)} onClick={() => set({ ...f, severities: toggle(f.severities, s, SEVERITIES) })}>
            <span aria-hidden="true">{f.severities.includes(s) ? "☑ " : "☐ "}</span>
            {s}
          </button>
        ))}
      </fieldset>
      <label>
        Type
        <select value={f.type ?? ""} onChange={(e) => set({ ...f, type: e.target.value || null })}>
          <option value="">any</option>
          {[...new Set([...types, ...(f.type === null ? [] : [f.type])])].map((t) => (
            <option key={t} value={t}>
              {eventTypeLabel(t)}
            </option>
          ))}
        </select>
      </label>
      <label>
        Service
        <select value={f.service ?? ""} onChange={(e) => set({ ...f, service: e.target.value || null })}>
          <option value="">any</option>
          {[...new Set([...services, ...(f.service === null ? [] : [f.service])])].map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
    </div>
  )
}

const AlertRows = ({ alerts, now }: { readonly alerts: ReadonlyArray<Alert>; readonly now: number }) => {
  const withRange = useHrefWithRange()
  return (
    <div className="table-wrap">
      <table className="table alerts-table">
        <thead>
          <tr>
            <th scope="col">Severity</th>
            <th scope="col">Alert</th>
            <th scope="col">Type</th>
            <th scope="col">Service</th>
            <th scope="col" className="num">Observed</th>
            <th scope="col" className="num">Expected</th>
            <th scope="col" className="num">Seen</th>
            <th scope="col">Opened ({formatOffset(localOffsetMinutes())})</th>
            <th scope="col">Last seen</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {alerts.map((a) => {
            const unit = unitOf(a.metricName ?? "")
            return (
              <tr key={a.id} data-alert-id={a.id} data-state={a.state}>
                <td>
                  <SeverityBadge severity={a.severity} />
                </td>
                <th scope="row" className="wrap">
                  <Link href={withRange(`/alerts/${encodeURIComponent(a.id)}`)}>{a.title}</Link>
                </th>
                <td>
                  <EventType type={a.type} />
                </td>
                <td>{a.serviceName ?? <span className="muted">–</span>}</td>
                <td className="num">{formatValue(a.observed, unit)}</td>
                <td className="num">{formatValue(a.expected, unit)}</td>
                <td className="num">{formatCount(a.occurrences)}×</td>
                <td className="mono" title={formatDateTime(Date.parse(a.openedAt))}>{formatLocal(Date.parse(a.openedAt), localOffsetMinutes(Date.parse(a.openedAt)))}</td>
                <td title={formatDateTime(Date.parse(a.lastSeenAt))}>{formatAgo(Date.parse(a.lastSeenAt), now)}</td>
                <td>
                  <AckButton id={a.id} state={a.state} label={a.title} />
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

export default function AlertsPage() {
  const [params] = useSearchParams()
  const f = useMemo(() => filtersFromParams(params), [params])
  const { range } = useTimeRange()
  const now = useNow(REFRESH_MS)
  const query = useQuery({ queryKey: ["alerts", "list", stateQuery(f)], queryFn: () => api.alerts({ state: stateQuery(f), limit: "1000" }), refetchInterval: REFRESH_MS })
  const all = query.data?.alerts ?? []
  const resolved = resolveRange(range, now)
  const window = "error" in resolved ? null : resolved
  const shown = filterAlerts(all, f, window)
  const outside = filterAlerts(all, f, null).length - shown.length
  const groups = groupAlerts(shown, f.states)
  return (
    <section className="page" aria-labelledby="alerts-title">
      <div className="page-head">
        <h1 id="alerts-title">Alerts</h1>
        <p className="muted">Active at some point in the selected range · refreshes every {REFRESH_MS / 1000} s</p>
      </div>
      <Filters f={f} alerts={all} />
      {query.error !== null && <ErrorBox error={query.error} />}
      {query.isPending && <p className="muted" role="status">Loading alerts…</p>}
      {query.data !== undefined && (
        <p className="muted" role="status">
          {shown.length} alert{shown.length === 1 ? "" : "s"}
          {outside > 0 && ` · ${outside} more with these filters outside the range (widen it with the range picker)`}
        </p>
      )}
      {query.data !== undefined &&
        groups.map((g) => (
          <div className="card" key={g.state} data-group={g.state}>
            <h2 className="group-head">
              <AlertStateBadge state={g.state} /> {g.alerts.length}
              <span className="muted group-counts">
                {" "}
                · <span aria-hidden="true">◆</span> {g.critical} critical · <span aria-hidden="true">▲</span> {g.warning} warning
              </span>
            </h2>
            {g.alerts.length === 0 ? (
              <p className="muted">
                {g.state === "open"
                  ? "Nothing open. Alerts open when the detector flags a series of metric points or span durations (after its warm-up windows), a threshold is crossed, or an execution times out; thresholds and notification channels are in Admin → Settings."
                  : `No ${g.state} alert in this range.`}
              </p>
            ) : (
              <AlertRows alerts={g.alerts} now={now} />
            )}
          </div>
        ))}
    </section>
  )
}
