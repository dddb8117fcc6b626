import { useQuery } from "@tanstack/react-query"
import { api } from "../api/client.ts"
import { ErrorBox } from "../components/Banner.tsx"
import { AlertCounts, AnomalyList, IngestCard, RunningExecutions } from "../components/OverviewPanels.tsx"
import { RedTable } from "../components/RedTable.tsx"
import { SendData } from "../components/SendData.tsx"
import { useTimeRange } from "../hooks/useUrlState.ts"
import { formatCount, formatPercent } from "../lib/format.ts"

/** The overview refreshes itself: an operator leaves it open during an incident. */
export const REFRESH_MS = 5000

export default function Overview() {
  const { range } = useTimeRange()
  const services = useQuery({ queryKey: ["services", range], queryFn: () => api.services(range), refetchInterval: REFRESH_MS })
  const timeline = useQuery({ queryKey: ["timeline", range], queryFn: () => api.servicesTimeline(range), refetchInterval: REFRESH_MS })
  const list = services.data?.services ?? []
  const requests = list.reduce((n, s) => n + s.requests, 0)
  const errors = list.reduce((n, s) => n + s.errors, 0)
  return (
    <section className="page" aria-labelledby="overview-title">
      <div className="page-head">
        <h1 id="overview-title">Overview</h1>
        <p className="muted">Refreshes every {REFRESH_MS / 1000} s</p>
      </div>
      <div className="cards">
        <div className="card stat">
          <h2>Services</h2>
          <p className="stat-value">{services.data === undefined ? "…" : formatCount(list.length)}</p>
        </div>
        <div className="card stat">
          <h2>Requests</h2>
          <p className="stat-value">{services.data === undefined ? "…" : formatCount(requests)}</p>
          <p className="muted">spans in the range</p>
        </div>
        <div className="card stat">
          <h2>Error rate</h2>
          <p className={`stat-value ${errors > 0 ? "text-bad" : ""}`}>
            {errors > 0 && <span aria-hidden="true">⚠ </span>}
            {services.data === undefined ? "…" : formatPercent(requests === 0 ? 0 : errors / requests)}
          </p>
          <p className="muted">{formatCount(errors)} error span{errors === 1 ? "" : "s"}</p>
        </div>
        <AlertCounts />
        <IngestCard range={range} refreshMs={REFRESH_MS} />
      </div>
      <div className="card">
        <h2>Services</h2>
        {services.error !== null && <ErrorBox error={services.error} />}
        {services.data !== undefined && list.length === 0 ? (
          <SendData title="No spans in this range yet" what={["spans", "executions"]} />
        ) : (
          <RedTable services={list} timeline={timeline.data} loading={services.isPending} />
        )}
      </div>
      <div className="columns">
        <RunningExecutions refreshMs={REFRESH_MS} />
        <AnomalyList range={range} refreshMs={REFRESH_MS} />
      </div>
    </section>
  )
}
