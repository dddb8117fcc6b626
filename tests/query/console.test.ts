import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { AggregateRefresher } from "../../src/db/AggregateRefresher.ts"
import type { AlertDetailView, IngestRateView, MetricNamesView, MetricWindowsView, ServiceGraphView, ServicesTimelineView } from "../../src/domain/consoleViews.ts"
import { quantileFromHistogram } from "../../src/domain/histogram.ts"
import { histogramOf } from "../support/histogram.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

const MIN = 60_000
const HOUR = 60 * MIN
const hex = (bytes: number) => randomBytes(bytes).toString("hex")
const refresh = () => app.runtime.runPromise(Effect.flatMap(AggregateRefresher, (r) => r.refreshNow))
const get = async <A>(key: string, path: string, status = 200): Promise<A> => {
  const res = await call(app, key, "GET", path)
  expect(res.status, `${path}: ${res.status}`).toBe(status)
  return (await res.json()) as A
}

interface SpanSeed { trace: string; span: string; parent: string | null; name: string; service: string; start: number; d: number; error?: boolean }
const insertSpans = (tenantId: string, spans: ReadonlyArray<SpanSeed>) =>
  app.sql(
    `INSERT INTO spans (tenant_id, trace_id, span_id, parent_span_id, name, service_name, status_code, start_time, end_time, duration_ms)
     SELECT $1, tr, sp, pa, n, sv, st, to_timestamp(s / 1000.0), to_timestamp((s + d) / 1000.0), d
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int2[], $8::float8[], $9::float8[]) AS u(tr, sp, pa, n, sv, st, s, d)`,
    [tenantId, spans.map((s) => s.trace), spans.map((s) => s.span), spans.map((s) => s.parent), spans.map((s) => s.name),
      spans.map((s) => s.service), spans.map((s) => (s.error === true ? 2 : 1)), spans.map((s) => s.start), spans.map((s) => s.d)]
  )

/** PostgreSQL's percentile_cont: linear interpolation at rank p·(n − 1) of the sorted values. */
const percentileCont = (values: ReadonlyArray<number>, p: number) => {
  const v = [...values].sort((a, b) => a - b)
  const r = p * (v.length - 1)
  const lo = Math.floor(r)
  return (v[lo] ?? 0) + ((v[Math.ceil(r)] ?? 0) - (v[lo] ?? 0)) * (r - lo)
}

describe("detector windows, metric names and the alert's story (through the pipeline)", () => {
  // One-second windows, a 3-window warm-up: 12 quiet windows of "lat" then a spike, all in event time.
  const SERVICE = "api|eu"
  let tenant: { id: string; key: string }
  const base = Math.floor((Date.now() - 2 * MIN) / 1000) * 1000
  const quiet = Array.from({ length: 12 }, (_, i) => 100 + (i % 2) * 2)

  beforeAll(async () => {
    tenant = await app.tenant(["ingest", "query"], {
      windows: { sizeSeconds: 1, allowedLatenessSeconds: 0, idleTimeoutSeconds: 1 },
      detector: { warmupWindows: 3 },
      thresholds: { lat: { warning: 500 } }
    })
    const points: Array<{ name: string; value: number; time: number; serviceName?: string }> = [
      ...[...quiet, 1000].map((value, i) => ({ name: "lat", value, serviceName: SERVICE, time: base + i * 1000 + 500 })),
      { name: "lat", value: 7, serviceName: "other", time: base + 500 },
      { name: "queue", value: 3, time: base + 700 }
    ]
    expect((await call(app, tenant.key, "POST", "/api/metrics", { points })).status).toBe(202)
  })

  it("GET /api/metrics/windows: each window with the EWMA level and sd before it, its z and the worst anomaly", async () => {
    const q = `/api/metrics/windows?name=lat&service=${encodeURIComponent(SERVICE)}&from=${base - MIN}`
    const view = await eventually(async () => {
      const v = await get<MetricWindowsView>(tenant.key, q)
      return v.series[0]?.windows.length === 13 && v.series[0].windows[12]?.severity !== null ? v : undefined
    }, 20_000)
    expect(view).toMatchObject({ name: "lat", zWarning: 3, zCritical: 4.5, truncated: false })
    expect(view.series.map((s) => [s.seriesKey, s.service, s.operation])).toEqual([["lat|api%7Ceu|", SERVICE, ""]])
    const w = view.series[0]?.windows ?? []
    expect(w.map((x) => x.start)).toEqual(w.map((_, i) => new Date(base + i * 1000).toISOString()))
    expect(w.map((x) => x.mean)).toEqual([...quiet, 1000])
    // Warm-up: no expectation for the first three windows.
    expect(w.slice(0, 3).map((x) => [x.expected, x.sd, x.z])).toEqual([[null, null, null], [null, null, null], [null, null, null]])
    // The EWMA (alpha 0.3) of the windows before each one, computed here.
    let level = quiet[0] ?? 0
    for (let i = 1; i < 13; i++) {
      if (i >= 3) {
        const x = w[i]
        expect(x?.expected, `window ${i}`).toBeCloseTo(level, 9)
        expect(x?.sd).toBeGreaterThan(0)
        expect(x?.z).toBeCloseTo(((x?.mean ?? 0) - level) / (x?.sd ?? 1), 6)
      }
      level += 0.3 * ((quiet[i] ?? 0) - level)
    }
    expect(w.map((x) => x.severity)).toEqual([...Array<null>(12).fill(null), "critical"])
    expect(w[12]?.z).toBeGreaterThan(4.5)

    // Without the service filter both series; limit keeps the newest windows.
    const all = await get<MetricWindowsView>(tenant.key, `/api/metrics/windows?name=lat&from=${base - MIN}`)
    expect(all.series.map((s) => s.service).sort()).toEqual([SERVICE, "other"])
    const newest = await get<MetricWindowsView>(tenant.key, `/api/metrics/windows?name=lat&from=${base - MIN}&limit=5`)
    expect(newest.truncated).toBe(true)
    expect(newest.series.flatMap((s) => s.windows.map((x) => x.start))).toEqual(w.slice(8).map((x) => x.start))
    for (const bad of ["", "name=lat&limit=0", "name=lat&limit=20001", "name=lat&from=later"]) {
      expect((await call(app, tenant.key, "GET", `/api/metrics/windows?${bad}`)).status, bad).toBe(400)
    }
    const other = await app.tenant()
    expect((await get<MetricWindowsView>(other.key, `/api/metrics/windows?name=lat&from=${base - MIN}`)).series).toEqual([])
  })

  it("GET /api/metrics/names: raw metrics with their services, and windowed ones", async () => {
    await app.sql(
      "INSERT INTO metric_points (tenant_id, time, name, value, service_name, dedup_key) VALUES ($1, now() - interval '36 hours', 'old', 1, 'x', 1)", [tenant.id]
    )
    await refresh()
    const names = await eventually(async () => {
      const v = await get<MetricNamesView>(tenant.key, "/api/metrics/names")
      return v.metrics.find((m) => m.name === "queue")?.windowed === true && v.metrics.find((m) => m.name === "lat")?.windowed === true ? v : undefined
    }, 20_000)
    expect(names.metrics.map((m) => m.name)).toEqual(["lat", "queue"])
    expect(names.metrics[0]).toEqual({ name: "lat", services: [SERVICE, "other"], lastSeen: new Date(base + 12_000).toISOString(), points: 14, windowed: true })
    expect(names.metrics[1]).toMatchObject({ services: [""], points: 1 })
    const older = await get<MetricNamesView>(tenant.key, "/api/metrics/names?from=now-3d")
    expect(older.metrics.map((m) => m.name)).toEqual(["lat", "old", "queue"])
    expect(older.metrics[1]).toMatchObject({ services: ["x"], points: 1, windowed: false })
  })

  it("GET /api/alerts/{id}: the alert, its series, notifications, deliveries and anomalies; another tenant's is a 404", async () => {
    const open = await eventually(async () => {
      const { alerts } = await get<{ alerts: Array<{ id: string; type: string }> }>(tenant.key, "/api/alerts?state=open")
      return alerts.find((a) => a.type === "anomaly_detected")
    }, 20_000)
    const detail = await eventually(async () => {
      const d = await get<AlertDetailView>(tenant.key, `/api/alerts/${open.id}`)
      return d.deliveries.length > 0 ? d : undefined
    }, 20_000)
    expect(detail.alert).toMatchObject({ id: open.id, state: "open", severity: "critical", metricName: "lat", serviceName: SERVICE })
    expect(detail.series).toEqual({ metricName: "lat", serviceName: SERVICE, operation: "" })
    expect(detail.notifications.map((n) => n.eventType)).toEqual(["anomaly_detected"])
    expect(detail.notifications[0]?.payload).toMatchObject({ type: "anomaly_detected", data: { alertId: open.id, observed: 1000 } })
    expect(detail.deliveries[0]).toMatchObject({ channelId: "log", eventType: "anomaly_detected", attempt: 1, outcome: "delivered", messageId: detail.notifications[0]?.messageId })
    // Both methods flagged the spike window (the threshold's alert is a separate one).
    const spikeStart = new Date(base + 12_000).toISOString()
    expect(detail.anomalies.map((a) => [a.method, a.severity, a.windowStart])).toEqual([["ewma_zscore", "critical", spikeStart], ["threshold", "warning", spikeStart]])

    const other = await app.tenant()
    expect((await call(app, other.key, "GET", `/api/alerts/${open.id}`)).status).toBe(404)
    expect((await call(app, tenant.key, "GET", "/api/alerts/al_nope")).status).toBe(404)

    // An event alert watches no series.
    await app.sql(
      `INSERT INTO alerts (id, tenant_id, series_key, rule, type, state, severity, service_name, trace_id, title)
       VALUES ('al_timeout_test', $1, 'execution|abc', 'timeout', 'execution_timeout', 'open', 'warning', 'agent', 'abc', 'timed out')`, [tenant.id]
    )
    const timeout = await get<AlertDetailView>(tenant.key, "/api/alerts/al_timeout_test")
    expect([timeout.series, timeout.anomalies, timeout.alert.type]).toEqual([null, [], "execution_timeout"])
  })
})

describe("GET /api/services/graph", () => {
  it("edges between services from parent/child spans and native executions, with calls, errors and the child's p95", async () => {
    const t = await app.tenant()
    const t0 = Date.now() - 10 * MIN
    const spans: Array<SpanSeed> = []
    const orders: Array<number> = []
    const db: Array<number> = []
    for (let i = 0; i < 20; i++) {
      const trace = hex(16)
      const root = hex(8)
      const order = hex(8)
      orders.push(50 + i * 3)
      db.push(5 + i)
      spans.push(
        { trace, span: root, parent: null, name: "GET /order", service: "gateway", start: t0 + i * 1000, d: 200 },
        { trace, span: hex(8), parent: root, name: "auth", service: "gateway", start: t0 + i * 1000 + 1, d: 5 },
        { trace, span: order, parent: root, name: "create", service: "orders", start: t0 + i * 1000 + 10, d: 50 + i * 3, error: i % 5 === 0 },
        { trace, span: hex(8), parent: order, name: "INSERT", service: "postgres", start: t0 + i * 1000 + 20, d: 5 + i }
      )
    }
    // A span whose parent never arrived (a remote caller) is no edge.
    spans.push({ trace: hex(16), span: hex(8), parent: hex(8), name: "create", service: "orders", start: t0, d: 10 })
    // Running native executions (a row, no span yet): one parenting a span, one the child of a span.
    const execTrace = hex(16)
    const execSpan = hex(8)
    const rootOfFirst = spans[0]
    spans.push({ trace: execTrace, span: hex(8), parent: execSpan, name: "search", service: "researcher", start: t0 + 100, d: 30, error: true })
    // An ended native execution is a row and a span (src/ingest/executionSpan.ts): one call, not two.
    const ended = hex(8)
    spans.push({ trace: rootOfFirst?.trace ?? "", span: ended, parent: rootOfFirst?.span ?? null, name: "charge", service: "payments", start: t0 + 40, d: 70, error: true })
    await insertSpans(t.id, spans)
    await app.sql(
      `INSERT INTO executions (tenant_id, trace_id, span_id, execution_id, parent_span_id, operation_name, service_name, status, start_time, duration_ms)
       VALUES ($1, $2, $3, $2, NULL, 'plan', 'planner', 'active', to_timestamp($4 / 1000.0), NULL),
              ($1, $5, $6, $5 || '-' || $6, $7, 'charge', 'billing', 'active', to_timestamp($8 / 1000.0), NULL),
              ($1, $5, $9, $5 || '-' || $9, $7, 'charge', 'payments', 'failed', to_timestamp($10 / 1000.0), 70)`,
      [t.id, execTrace, execSpan, t0 + 50, rootOfFirst?.trace, hex(8), rootOfFirst?.span, t0 + 30, ended, t0 + 40]
    )
    await refresh()
    const g = await get<ServiceGraphView>(t.key, "/api/services/graph?from=now-1h")
    expect(g.truncated).toBe(false)
    const edge = (s: string, d: string) => g.edges.find((e) => e.source === s && e.target === d)
    expect(g.edges.map((e) => `${e.source}->${e.target}`)).toEqual(["gateway->billing", "gateway->orders", "gateway->payments", "orders->postgres", "planner->researcher"])
    expect(edge("gateway", "orders")).toMatchObject({ calls: 20, errors: 4, errorRate: 0.2 })
    expect(edge("gateway", "orders")?.p95Ms).toBeCloseTo(percentileCont(orders, 0.95), 9)
    expect(edge("orders", "postgres")).toMatchObject({ calls: 20, errors: 0, errorRate: 0 })
    expect(edge("orders", "postgres")?.p95Ms).toBeCloseTo(percentileCont(db, 0.95), 9)
    expect(edge("planner", "researcher")).toMatchObject({ calls: 1, errors: 1, p95Ms: 30 })
    expect(edge("gateway", "billing")).toMatchObject({ calls: 1, errors: 0, p95Ms: null })
    expect(edge("gateway", "payments")).toMatchObject({ calls: 1, errors: 1, p95Ms: 70 })
    expect(g.nodes.map((n) => n.service)).toEqual(["billing", "gateway", "orders", "payments", "planner", "postgres", "researcher"])
    expect(g.nodes.find((n) => n.service === "orders")).toMatchObject({ requests: 21, errors: 4 })
    expect(g.nodes.find((n) => n.service === "orders")?.p95Ms).toBeCloseTo(quantileFromHistogram(histogramOf([...orders, 10]), 0.95) ?? Number.NaN, 9)
    expect(g.nodes.find((n) => n.service === "planner")).toMatchObject({ requests: 0, p95Ms: null })

    const wide = await get<ServiceGraphView>(t.key, "/api/services/graph?from=now-3d")
    expect(wide.truncated).toBe(true)
    expect(Date.parse(wide.to) - Date.parse(wide.from)).toBe(24 * HOUR)
    expect(wide.edges).toHaveLength(5)
    const other = await app.tenant()
    expect(await get<ServiceGraphView>(other.key, "/api/services/graph")).toMatchObject({ nodes: [], edges: [], truncated: false })
  })
})

describe("GET /api/services/timeline and /api/ingest/rate", () => {
  it("RED per bucket, per service and per operation, and stored points and spans per bucket, empty buckets as zeros", async () => {
    const t = await app.tenant()
    const hourStart = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR
    const spans: Array<SpanSeed> = []
    const durations = new Map<string, Array<number>>()
    for (let i = 0; i < 60; i++) {
      const minute = i % 3 === 0 ? 0 : 10 // two 5-minute buckets: [0, 5) and [10, 15)
      const name = i % 2 === 0 ? "GET /a" : "GET /b"
      const d = 10 + i * 7
      spans.push({ trace: hex(16), span: hex(8), parent: null, name, service: "web", start: hourStart + minute * MIN + i * 1000, d, error: i % 4 === 0 })
      const key = `${minute}|${name}`
      durations.set(key, [...(durations.get(key) ?? []), d])
    }
    await insertSpans(t.id, spans)
    await app.sql(
      `INSERT INTO metric_points (tenant_id, time, name, value, service_name, dedup_key)
       SELECT $1, to_timestamp(($2::float8 + g * 1000) / 1000.0), 'cpu', g, 'web', g FROM generate_series(0, 99) g`, [t.id, hourStart + 10 * MIN]
    )
    await refresh()
    const range = `from=${new Date(hourStart).toISOString()}&to=${new Date(hourStart + 20 * MIN).toISOString()}`
    const view = await get<ServicesTimelineView>(t.key, `/api/services/timeline?${range}&bucket=5m`)
    expect(view.bucketSeconds).toBe(300)
    expect(view.series.map((s) => `${s.service}/${s.operation}`)).toEqual(["web/null", "web/GET /a", "web/GET /b"])
    const times = [0, 5, 10, 15].map((m) => new Date(hourStart + m * MIN).toISOString())
    for (const s of view.series) {
      expect(s.points.map((p) => p.time)).toEqual(times)
      for (const [j, minute] of [0, 5, 10, 15].entries()) {
        const ds = s.operation === null
          ? [...(durations.get(`${minute}|GET /a`) ?? []), ...(durations.get(`${minute}|GET /b`) ?? [])]
          : durations.get(`${minute}|${s.operation}`) ?? []
        const errors = spans.filter((x, i) => (s.operation === null || x.name === s.operation) && x.error === true && (i % 3 === 0 ? 0 : 10) === minute).length
        expect(s.points[j], `${s.operation} ${minute}`).toMatchObject({ requests: ds.length, errors })
        const p95 = quantileFromHistogram(histogramOf(ds), 0.95)
        if (p95 === null) expect(s.points[j]?.p95Ms).toBeNull()
        else expect(s.points[j]?.p95Ms).toBeCloseTo(p95, 9)
      }
    }
    // auto: 1 h → 1-minute buckets (60 points), 6 h → 5 minutes (72)
    expect((await get<ServicesTimelineView>(t.key, `/api/services/timeline?from=${hourStart}&to=${hourStart + HOUR}`)).bucketSeconds).toBe(60)
    expect((await get<ServicesTimelineView>(t.key, `/api/services/timeline?from=${hourStart}&to=${hourStart + 6 * HOUR}`)).series[0]?.points).toHaveLength(72)
    for (const bad of ["bucket=30s", "bucket=1m&from=now-7d", "bucket=often"]) {
      expect((await call(app, t.key, "GET", `/api/services/timeline?${bad}`)).status, bad).toBe(400)
    }

    const rate = await get<IngestRateView>(t.key, `/api/ingest/rate?${range}&bucket=5m`)
    expect(rate.points).toEqual([
      { time: times[0], metricPoints: 0, spans: 20 },
      { time: times[1], metricPoints: 0, spans: 0 },
      { time: times[2], metricPoints: 100, spans: 40 },
      { time: times[3], metricPoints: 0, spans: 0 }
    ])
  })
})
