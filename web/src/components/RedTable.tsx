import { Fragment, useMemo, useState } from "react"
import { Link } from "wouter"
import type { Services, Timeline } from "../api/client.ts"
import { useHrefWithRange } from "../hooks/useUrlState.ts"
import { serviceColor } from "../lib/colors.ts"
import { formatCount, formatDuration, formatPercent, formatRate } from "../lib/format.ts"
import { Sparkline } from "./Sparkline.tsx"

type Red = Services["services"][number]
type Op = Red["operations"][number]

interface Trend {
  readonly x: ReadonlyArray<number>
  readonly requests: ReadonlyArray<number>
  readonly p95: ReadonlyArray<number | null>
}

/** Per service (operation null) or per service and operation: the x, requests and p95 columns. */
const trends = (timeline: Timeline | undefined) => {
  const m = new Map<string, Trend>()
  for (const s of timeline?.series ?? []) {
    m.set(`${s.service}\u0000${s.operation ?? ""}`, {
      x: s.points.map((p) => Date.parse(p.time) / 1000),
      requests: s.points.map((p) => p.requests),
      p95: s.points.map((p) => p.p95Ms)
    })
  }
  return m
}

const ErrorRate = ({ rate }: { readonly rate: number }) =>
  rate > 0 ? (
    <span className="text-bad">
      <span aria-hidden="true">⚠ </span>
      {formatPercent(rate)}
    </span>
  ) : (
    <span>{formatPercent(rate)}</span>
  )

const Cells = ({ r, trend, color, name }: { readonly r: Red | Op; readonly trend: Trend | undefined; readonly color: string; readonly name: string }) => (
  <>
    <td className="num">{formatCount(r.requests)}</td>
    <td className="num">{formatRate(r.ratePerSecond)}</td>
    <td className="num">
      <ErrorRate rate={r.errorRate} />
    </td>
    <td className="num">{formatDuration(r.durationP95Ms)}</td>
    <td>{trend === undefined ? <span className="muted">–</span> : <Sparkline x={trend.x} y={trend.requests} color={color} label={`${name}: requests per bucket`} />}</td>
    <td>{trend === undefined ? <span className="muted">–</span> : <Sparkline x={trend.x} y={trend.p95} color={color} label={`${name}: p95 duration per bucket`} />}</td>
  </>
)

/** RED per service, each expandable into its operations, with trends from the services timeline. */
export const RedTable = ({ services, timeline, loading }: { readonly services: Services["services"]; readonly timeline: Timeline | undefined; readonly loading: boolean }) => {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set())
  const t = useMemo(() => trends(timeline), [timeline])
  const withRange = useHrefWithRange()
  if (loading) return <p className="muted" role="status">Loading services…</p>
  const toggle = (s: string) => setOpen((o) => (o.has(s) ? new Set([...o].filter((x) => x !== s)) : new Set([...o, s])))
  return (
    <div className="table-wrap">
      <table className="table red-table">
        <thead>
          <tr>
            <th scope="col">Service / operation</th>
            <th scope="col" className="num">Requests</th>
            <th scope="col" className="num">Rate</th>
            <th scope="col" className="num">Errors</th>
            <th scope="col" className="num">p95</th>
            <th scope="col">Requests trend</th>
            <th scope="col">p95 trend</th>
          </tr>
        </thead>
        <tbody>
          {services.map((s) => {
            const color = serviceColor(s.service)
            const expanded = open.has(s.service)
            return (
              <Fragment key={s.service}>
                <tr data-service={s.service}>
                  <th scope="row">
                    <button type="button" className="disclosure" aria-expanded={expanded} aria-label={`${expanded ? "Hide" : "Show"} the operations of ${s.service}`} onClick={() => toggle(s.service)}>
                      {expanded ? "▾" : "▸"}
                    </button>
                    <span className="swatch" style={{ background: color }} aria-hidden="true" />
                    <Link href={withRange(`/executions?service=${encodeURIComponent(s.service)}`)}>{s.service}</Link>
                    <span className="muted"> · {s.operations.length} op{s.operations.length === 1 ? "" : "s"}</span>
                  </th>
                  <Cells r={s} trend={t.get(`${s.service}\u0000`)} color={color} name={s.service} />
                </tr>
                {expanded &&
                  s.operations.map((o) => (
                    <tr key={o.operation} className="sub-row">
                      <th scope="row">
                        <Link href={withRange(`/executions?service=${encodeURIComponent(s.service)}&operation=${encodeURIComponent(o.operation)}`)}>{o.operation}</Link>
                      </th>
                      <Cells r={o} trend={t.get(`${s.service}\u0000${o.operation}`)} color={color} name={`${s.service} ${o.operation}`} />
                    </tr>
                  ))}
              </Fragment>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
