import "./metrics.css"
import { useQuery } from "@tanstack/react-query"
import { useCallback, useEffect, useMemo } from "react"
import { Link } from "wouter"
import { api } from "../api/client.ts"
import { ErrorBox } from "../components/Banner.tsx"
import { MetricChart } from "../components/MetricChart.tsx"
import { MetricPicker } from "../components/MetricPicker.tsx"
import { SendData } from "../components/SendData.tsx"
import { SeverityBadge } from "../components/Status.tsx"
import { useParam, useSetParams, useTimeRange } from "../hooks/useUrlState.ts"
import { computeBand } from "../lib/band.ts"
import { formatDateTime, formatDecimal, formatOffset, formatValue, localOffsetMinutes, unitOf } from "../lib/format.ts"
import { markStart } from "../perf.ts"

const AGGS = ["avg", "min", "max", "sum", "count", "p95"] as const
const BUCKETS = ["auto", "raw", "10s", "1m", "5m", "15m", "1h", "1d"] as const

const bandKey = (s: { readonly service: string; readonly operation: string }) => `${s.service}\u0000${s.operation}`
const bandName = (s: { readonly service: string; readonly operation: string }) => (s.operation === "" ? s.service || "(no service)" : `${s.service} · ${s.operation}`)

export default function Metrics() {
  const { range, setRange } = useTimeRange()
  const setParams = useSetParams()
  const name = useParam("name")
  const agg = useParam("agg") ?? "avg"
  const bucket = useParam("bucket") ?? "auto"
  const grouped = useParam("group") !== "none"
  const service = useParam("service") ?? ""
  const bandParam = useParam("band")

  const names = useQuery({ queryKey: ["metricNames", range], queryFn: () => api.metricNames(range), refetchInterval: 30_000 })
  const metric = names.data?.metrics.find((m) => m.name === name)
  useEffect(() => {
    const first = names.data?.metrics[0]
    if (name === null && first !== undefined) setParams({ name: first.name }, { replace: true })
  }, [name, names.data, setParams])

  const seriesRequest = { name: name ?? "", from: range.from, to: range.to, agg, bucket, groupBy: grouped ? "service" : undefined, service: service === "" ? undefined : service }
  const series = useQuery({
    queryKey: ["series", seriesRequest],
    queryFn: async () => {
      const s = await api.series(seriesRequest)
      markStart("chart")
      return s
    },
    enabled: name !== null,
    refetchInterval: 10_000
  })
  const windows = useQuery({
    queryKey: ["windows", name, range, service],
    queryFn: () => api.metricWindows({ name: name ?? "", from: range.from, to: range.to, service: service === "" ? undefined : service }),
    enabled: name !== null && metric?.windowed === true,
    refetchInterval: 10_000
  })

  const windowSeries = windows.data?.series ?? []
  const chosen =
    bandParam === "none"
      ? undefined
      : (windowSeries.find((s) => bandKey(s) === bandParam) ??
        [...windowSeries].sort((a, b) => b.windows.filter((w) => w.severity !== null).length - a.windows.filter((w) => w.severity !== null).length)[0])
  const band = useMemo(() => (chosen === undefined || windows.data === undefined ? null : computeBand(chosen.windows, windows.data.zWarning)), [chosen, windows.data])
  const anomalies = (chosen?.windows ?? []).filter((w) => w.severity !== null).reverse()
  const unit = unitOf(name ?? "")
  const onZoom = useCallback((fromMs: number, toMs: number) => setRange({ from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() }), [setRange])

  if (names.data !== undefined && names.data.metrics.length === 0 && name === null) {
    return (
      <section className="page">
        <h1>Metrics</h1>
        <SendData title="No metric in this range yet" what={["metrics", "spans"]} />
      </section>
    )
  }
  return (
    <section className="page" aria-labelledby="metrics-title">
      <div className="page-head">
        <h1 id="metrics-title">Metrics</h1>
        {names.error !== null && <ErrorBox error={names.error} />}
      </div>
      <div className="metrics-layout">
        <MetricPicker metrics={names.data?.metrics ?? []} selected={name} onSelect={(n) => setParams({ name: n, band: null, service: null })} />
        <div className="metrics-main">
          <form className="card chart-controls" onSubmit={(e) => e.preventDefault()} aria-label="Chart options">
            <h2 className="chart-title">{name ?? "Pick a metric"}</h2>
            <label>
              Aggregation
              <select value={agg} onChange={(e) => setParams({ agg: e.target.value === "avg" ? null : e.target.value })}>
                {AGGS.map((a) => <option key={a}>{a}</option>)}
              </select>
            </label>
            <label>
              Bucket
              <select value={bucket} onChange={(e) => setParams({ bucket: e.target.value === "auto" ? null : e.target.value })}>
                {BUCKETS.map((b) => <option key={b}>{b}</option>)}
              </select>
            </label>
            <label>
              Service
              <select value={service} onChange={(e) => setParams({ service: e.target.value, band: null })}>
                <option value="">all</option>
                {metric?.services.map((s) => <option key={s} value={s}>{s === "" ? "(none)" : s}</option>)}
              </select>
            </label>
            <label className="check">
              <input type="checkbox" checked={grouped} onChange={(e) => setParams({ group: e.target.checked ? null : "none" })} />
              One line per service
            </label>
            {metric?.windowed === true && (
              <label>
                Expected band
                <select value={chosen === undefined ? "none" : bandKey(chosen)} onChange={(e) => setParams({ band: e.target.value })}>
                  <option value="none">none</option>
                  {windowSeries.map((s) => <option key={bandKey(s)} value={bandKey(s)}>{bandName(s)}</option>)}
                </select>
              </label>
            )}
          </form>
          <div className="card chart-card">
            {series.error !== null && <ErrorBox error={series.error} />}
            {series.data !== undefined && series.data.series.every((s) => s.points.length === 0) && band === null ? (
              <p className="muted">No point of {name} in this range{service === "" ? "" : ` for ${service}`}.</p>
            ) : series.data !== undefined ? (
              <>
                <MetricChart series={series.data} band={band} bandLabel={chosen === undefined ? "" : bandName(chosen)} unit={unit} onZoom={onZoom} />
                <p className="hint">
                  {series.data.bucketSeconds === null ? "Raw points" : `${agg} per ${series.data.bucket} bucket`} from {series.data.source}
                  {series.data.truncated && " (truncated: narrow the range)"}
                  {band !== null && windows.data !== undefined && ` · band: expected ± ${windows.data.zWarning}·sd of ${bandName(chosen!)}, per detector window`}
                  {" "}· times in {formatOffset(localOffsetMinutes())} · drag across the chart to zoom in.
                </p>
              </>
            ) : (
              name !== null && <p className="muted" role="status">Loading {name}…</p>
            )}
          </div>
          {metric?.windowed === true && chosen !== undefined && (
            <div className="card">
              <h2>Anomalous windows of {bandName(chosen)} ({anomalies.length})</h2>
              {anomalies.length === 0 ? (
                <p className="muted">None in this range: every window stayed inside expected ± {windows.data?.zWarning}·sd and under the thresholds.</p>
              ) : (
                <table className="table">
                  <thead>
                    <tr><th scope="col">Window</th><th scope="col">Severity</th><th scope="col" className="num">Observed</th><th scope="col" className="num">Expected</th><th scope="col" className="num">z</th><th scope="col">Executions</th></tr>
                  </thead>
                  <tbody>
                    {anomalies.map((w) => (
                      <tr key={w.start}>
                        <td className="mono">{formatDateTime(Date.parse(w.start))}</td>
                        <td>{w.severity !== null && <SeverityBadge severity={w.severity} />}</td>
                        <td className="num">{formatValue(w.mean, unit)}</td>
                        <td className="num">{formatValue(w.expected, unit)}</td>
                        <td className="num">{w.z === null ? "–" : formatDecimal(w.z)}</td>
                        <td>
                          <Link href={`/executions?service=${encodeURIComponent(chosen.service)}${chosen.operation === "" ? "" : `&operation=${encodeURIComponent(chosen.operation)}`}&from=${encodeURIComponent(w.start)}&to=${encodeURIComponent(w.end)}`}>
                            in this window
                          </Link>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
          )}
        </div>
      </div>
    </section>
  )
}
