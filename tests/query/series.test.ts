import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { AggregateRefresher } from "../../src/db/AggregateRefresher.ts"
import { Db } from "../../src/db/Db.ts"
import { quantileFromHistogram } from "../../src/domain/histogram.ts"
import { histogramOf } from "../support/histogram.ts"
import { querySeries } from "../../src/query/series.ts"
import { call, startApp } from "../support/harness.ts"
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
const refresh = () => app.runtime.runPromise(Effect.flatMap(AggregateRefresher, (r) => r.refreshNow))

/** Where each aggregate's materialised part ends; later buckets are computed at query time. */
const watermarks = async () => {
  const rows = await app.sql<{ view: string; w: Date }>(
    `SELECT user_view_name AS view, _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(mat_hypertable_id)) AS w
     FROM _timescaledb_catalog.continuous_agg`
  )
  return new Map(rows.map((r) => [r.view, new Date(r.w).getTime()]))
}

interface Point { readonly t: number; readonly v: number; readonly s: string }
interface Series { source: string; bucket: string; series: Array<{ service: string | null; points: Array<{ time: string; value: number | null; count: number }> }> }

let seq = 0
const insert = (tenantId: string, name: string, points: ReadonlyArray<Point>) =>
  app.sql(
    `INSERT INTO metric_points (tenant_id, time, name, value, service_name, dedup_key)
     SELECT $1, to_timestamp(t / 1000.0), $2, v, s, k FROM unnest($3::float8[], $4::float8[], $5::text[], $6::int8[]) AS u(t, v, s, k)`,
    [tenantId, name, points.map((p) => p.t), points.map((p) => p.v), points.map((p) => p.s), points.map(() => ++seq)]
  )

/** count and sum per bucket (and service), computed here from the points themselves. */
const expected = (points: ReadonlyArray<Point>, bucketMs: number, byService: boolean) => {
  const out = new Map<string, { count: number; sum: number }>()
  for (const p of points) {
    const key = `${byService ? p.s : ""}|${new Date(Math.floor(p.t / bucketMs) * bucketMs).toISOString()}`
    const e = out.get(key) ?? { count: 0, sum: 0 }
    out.set(key, { count: e.count + 1, sum: e.sum + p.v })
  }
  return out
}

const fetchSeries = async (key: string, query: string) => {
  const res = await call(app, key, "GET", `/api/metrics/series?${query}`)
  expect(res.status).toBe(200)
  return (await res.json()) as Series
}

/** sum and count buckets of the endpoint, keyed like `expected`. */
const answered = async (key: string, query: string) => {
  const [sum, count] = await Promise.all([fetchSeries(key, `${query}&agg=sum`), fetchSeries(key, `${query}&agg=count`)])
  const out = new Map<string, { count: number; sum: number }>()
  for (const s of sum.series) for (const p of s.points) out.set(`${s.service ?? ""}|${p.time}`, { count: p.count, sum: p.value ?? Number.NaN })
  for (const s of count.series) for (const p of s.points) expect(out.get(`${s.service ?? ""}|${p.time}`)?.count).toBe(p.value)
  return { buckets: out, source: sum.source }
}

describe("GET /api/metrics/series", () => {
  it("equals a direct computation over the raw points, at 1m and 1h, across the materialised/real-time boundary", async () => {
    const t = await app.tenant()
    const now = Date.now()
    const start = Math.floor(now / HOUR) * HOUR - 30 * HOUR
    const history: Array<Point> = []
    for (let time = start + 7_000, i = 0; time < now - 10 * MIN; time += 30_000, i++) history.push({ t: time, v: i % 50, s: i % 3 === 0 ? "db" : "api" })
    for (let i = 0; i < history.length; i += 2000) await insert(t.id, "latency", history.slice(i, i + 2000))
    await refresh()
    const range = `name=latency&from=${new Date(start).toISOString()}&to=${new Date(now + 5 * MIN).toISOString()}`

    const check = async (points: ReadonlyArray<Point>) => {
      for (const [bucket, ms, source] of [["1m", MIN, "metric_points_1m"], ["1h", HOUR, "metric_points_1h"], ["5m", 5 * MIN, "metric_points_1m"], ["3h", 3 * HOUR, "metric_points_1h"]] as const) {
        for (const groupBy of [false, true]) {
          const got = await answered(t.key, `${range}&bucket=${bucket}${groupBy ? "&groupBy=service" : ""}`)
          expect(got.source).toBe(source)
          expect(got.buckets).toEqual(expected(points, ms, groupBy))
        }
      }
    }
    await check(history)

    // Newer than anything materialised: only real-time aggregation can show these.
    const fresh: Array<Point> = Array.from({ length: 12 }, (_, i) => ({ t: Date.now() - 20_000 + i * 1000, v: 1000 + i, s: i % 2 === 0 ? "api" : "db" }))
    const marks = await watermarks()
    for (const view of ["metric_points_1m", "metric_points_1h"]) {
      expect(marks.get(view)).toBeGreaterThan(start)
      expect(marks.get(view)).toBeLessThanOrEqual(fresh[0]?.t ?? 0)
    }
    await insert(t.id, "latency", fresh)
    await check([...history, ...fresh])
    await refresh()
    await check([...history, ...fresh])
  })

  it("averages as sum/count, and answers the same from raw points with source=raw", async () => {
    const t = await app.tenant()
    const base = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR
    // Two services with different point counts per minute: an average of averages would differ.
    const points: Array<Point> = []
    for (let m = 0; m < 120; m++) {
      points.push({ t: base + m * MIN + 1000, v: 10, s: "a" })
      for (let j = 0; j < 3; j++) points.push({ t: base + m * MIN + 2000 + j * 1000, v: 100, s: "b" })
    }
    await insert(t.id, "rt", points)
    await refresh()
    const q = `name=rt&from=${new Date(base).toISOString()}&to=${new Date(base + 2 * HOUR).toISOString()}`
    for (const bucket of ["1m", "1h"]) {
      const agg = await fetchSeries(t.key, `${q}&bucket=${bucket}&agg=avg`)
      const raw = await fetchSeries(t.key, `${q}&bucket=${bucket}&agg=avg&source=raw`)
      expect(raw.source).toBe("metric_points")
      expect(agg.series).toEqual(raw.series)
      expect(agg.series[0]?.points[0]?.value).toBe((10 + 300) / 4)
    }
    for (const agg of ["min", "max", "sum", "count"]) {
      const fromAggregate = await fetchSeries(t.key, `${q}&bucket=30m&agg=${agg}&groupBy=service`)
      const fromRaw = await fetchSeries(t.key, `${q}&bucket=30m&agg=${agg}&groupBy=service&source=raw`)
      expect(fromAggregate.series).toEqual(fromRaw.series)
    }
    // The exported function gives the benchmark the same comparison without HTTP.
    const viaFunction = await app.runtime.runPromise(Effect.flatMap(Db, (db) => Effect.all([
      querySeries(db, t.id, { name: "rt", fromMs: base, toMs: base + 2 * HOUR, bucket: { _tag: "size", seconds: 3600 }, agg: "sum", groupBy: null, service: null, source: "auto" }),
      querySeries(db, t.id, { name: "rt", fromMs: base, toMs: base + 2 * HOUR, bucket: { _tag: "size", seconds: 3600 }, agg: "sum", groupBy: null, service: null, source: "raw" })
    ])))
    expect(viaFunction[0].source).toBe("metric_points_1h")
    expect(viaFunction[0].series).toEqual(viaFunction[1].series)
  })

  it("gives p95 per minute from the 1m aggregate, from raw points below a minute, and a 400 where no percentile exists", async () => {
    const t = await app.tenant()
    const base = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR
    const points: Array<Point> = Array.from({ length: 200 }, (_, i) => ({ t: base + (i % 2) * MIN + i * 100, v: (i * 37) % 101, s: "api" }))
    await insert(t.id, "cpu", points)
    await refresh()
    const q = `name=cpu&from=${new Date(base).toISOString()}&to=${new Date(base + 2 * MIN).toISOString()}`
    const fromAggregate = await fetchSeries(t.key, `${q}&bucket=1m&agg=p95&groupBy=service`)
    expect(fromAggregate.source).toBe("metric_points_1m")
    const fromRaw = await fetchSeries(t.key, `${q}&bucket=1m&agg=p95&groupBy=service&source=raw`)
    const values = fromAggregate.series[0]?.points.map((p) => p.value) ?? []
    expect(values).toHaveLength(2)
    values.forEach((v, i) => expect(v).toBeCloseTo(fromRaw.series[0]?.points[i]?.value ?? Number.NaN, 9))
    expect((await fetchSeries(t.key, `${q}&bucket=10s&agg=p95`)).source).toBe("metric_points")
    for (const bad of ["bucket=1h&agg=p95", "bucket=5m&agg=p95", "bucket=7x", "agg=median", "groupBy=host", "source=cache"]) {
      const res = await call(app, t.key, "GET", `/api/metrics/series?${q}&${bad}`)
      expect(res.status, bad).toBe(400)
    }
    for (const bad of ["bucket=1m", "name=cpu&from=later", "name=cpu&from=now&to=now-1h"]) {
      expect((await call(app, t.key, "GET", `/api/metrics/series?${bad}`)).status, bad).toBe(400)
    }
    expect(((await (await call(app, t.key, "GET", `/api/metrics/series?${q}&bucket=1h&agg=p95`)).json()) as { message: string }).message).toContain("hourly aggregate")
  })

  it("answers raw points with bucket=raw and picks a bucket by range with bucket=auto", async () => {
    const t = await app.tenant()
    const now = Date.now()
    const points: Array<Point> = Array.from({ length: 30 }, (_, i) => ({ t: now - 30 * MIN + i * MIN, v: i, s: "api" }))
    await insert(t.id, "q", points)
    const raw = await fetchSeries(t.key, `name=q&from=now-1h&bucket=raw`)
    expect(raw.source).toBe("metric_points")
    expect(raw.series[0]?.points.map((p) => p.value)).toEqual(points.map((p) => p.v))
    expect((await fetchSeries(t.key, "name=q&from=now-1h")).bucket).toBe("10s")
    expect((await fetchSeries(t.key, "name=q&from=now-6h")).bucket).toBe("1m")
    expect((await fetchSeries(t.key, "name=q&from=now-7d")).bucket).toBe("1h")
  })
})

describe("GET /api/services", () => {
  it("gives RED per service and operation from span_red_1m, p95 interpolated from the le buckets", async () => {
    const t = await app.tenant()
    const base = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR
    const durations = Array.from({ length: 100 }, (_, i) => i + 1)
    const spans = durations.map((d, i) => ({ trace: i.toString(16).padStart(32, "0"), start: base + i * 1000, d, error: i % 10 === 0, name: i % 4 === 0 ? "GET /b" : "GET /a" }))
    await app.sql(
      `INSERT INTO spans (tenant_id, trace_id, span_id, name, service_name, status_code, start_time, end_time, duration_ms)
       SELECT $1, tr, '00000000000000a1', n, 'web', CASE WHEN e THEN 2 ELSE 1 END, to_timestamp(s / 1000.0), to_timestamp((s + d) / 1000.0), d
       FROM unnest($2::text[], $3::text[], $4::float8[], $5::float8[], $6::bool[]) AS u(tr, n, s, d, e)`,
      [t.id, spans.map((s) => s.trace), spans.map((s) => s.name), spans.map((s) => s.start), spans.map((s) => s.d), spans.map((s) => s.error)]
    )
    await refresh()
    const from = new Date(base).toISOString()
    const to = new Date(base + HOUR).toISOString()
    const res = await call(app, t.key, "GET", `/api/services?from=${from}&to=${to}`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { services: Array<{ service: string; requests: number; errors: number; errorRate: number; ratePerSecond: number; durationAvgMs: number; durationP95Ms: number; operations: Array<{ operation: string; requests: number; durationP95Ms: number }> }> }
    expect(body.services).toHaveLength(1)
    const web = body.services[0]
    expect(web).toMatchObject({ service: "web", requests: 100, errors: 10, errorRate: 0.1, ratePerSecond: 100 / 3600, durationAvgMs: 50.5, durationP95Ms: 95 })
    const opB = durations.filter((_, i) => i % 4 === 0)
    expect(web?.operations.map((o) => [o.operation, o.requests])).toEqual([["GET /a", 75], ["GET /b", 25]])
    expect(web?.operations[1]?.durationP95Ms).toBeCloseTo(quantileFromHistogram(histogramOf(opB), 0.95) ?? Number.NaN, 9)
    const other = await app.tenant()
    const none = (await (await call(app, other.key, "GET", `/api/services?from=${from}&to=${to}`)).json()) as { services: Array<unknown> }
    expect(none.services).toEqual([])
  })
})
