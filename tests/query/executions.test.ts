import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { AggregateRefresher } from "../../src/db/AggregateRefresher.ts"
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
const DAY = 24 * HOUR
const hex = (bytes: number) => randomBytes(bytes).toString("hex")

interface Seed {
  traceId: string; service: string; operation: string; status: string; startMs: number; durationMs: number | null
  metadata?: Record<string, unknown>; customAttributes?: Record<string, unknown>; tags?: unknown
}

const insertExecution = (tenantId: string, e: Seed) =>
  app.sql(
    `INSERT INTO executions (tenant_id, trace_id, execution_id, span_id, operation_name, service_name, status, source, start_time, end_time, duration_ms,
                             metadata, custom_attributes, tags, errors, warnings)
     VALUES ($1, $2, $2, $3, $4, $5, $6, 'api', to_timestamp($7::float8 / 1000.0),
             CASE WHEN $8::float8 IS NULL THEN NULL ELSE to_timestamp(($7::float8 + $8::float8) / 1000.0) END, $8::float8,
             $9::jsonb, $10::jsonb, $11::jsonb, '[]'::jsonb, '[]'::jsonb)`,
    [tenantId, e.traceId, hex(8), e.operation, e.service, e.status, e.startMs, e.durationMs,
      JSON.stringify(e.metadata ?? {}), JSON.stringify(e.customAttributes ?? {}), JSON.stringify(e.tags ?? {})]
  )

interface Page { executions: Array<{ traceId: string; startTime: string; durationMs: number | null }>; nextCursor: string | null }
const search = async (key: string, query: string) => {
  const res = await call(app, key, "GET", `/api/executions?${query}`)
  expect(res.status, await res.clone().text()).toBe(200)
  return (await res.json()) as Page
}

/** Every page of a search, following nextCursor. */
const allPages = async (key: string, query: string, onPage: (n: number) => Promise<void> = async () => {}) => {
  const ids: Array<string> = []
  let cursor: string | null = null
  for (let n = 0; n < 100; n++) {
    const page: Page = await search(key, `${query}${cursor === null ? "" : `&cursor=${cursor}`}`)
    ids.push(...page.executions.map((e) => e.traceId))
    await onPage(n)
    if (page.nextCursor === null) return ids
    cursor = page.nextCursor
  }
  throw new Error("too many pages")
}

describe("GET /api/executions (search)", () => {
  const base = Date.now() - 2 * HOUR
  // Ten start times, six executions each (some 250 µs past the millisecond): ties must page cleanly.
  const seeds: Array<Seed> = Array.from({ length: 60 }, (_, i) => ({
    traceId: hex(16),
    service: i % 2 === 0 ? "svc-a" : "svc-b",
    operation: `op${i % 3}`,
    status: i % 4 === 0 ? "failed" : "completed",
    startMs: base + Math.floor(i / 6) * 1000 + (Math.floor(i / 6) % 2 === 0 ? 0.25 : 0),
    durationMs: 10 * i,
    metadata: { team: i % 2 === 0 ? "red" : "blue", n: i },
    customAttributes: { region: i % 5 === 0 ? "eu" : "us" },
    tags: i % 3 === 0 ? { env: "prod" } : ["x", "y"]
  }))
  const newestFirst = (xs: ReadonlyArray<Seed>) =>
    [...xs].sort((a, b) => b.startMs - a.startMs || (a.traceId < b.traceId ? 1 : -1)).map((s) => s.traceId)
  let tenant: { id: string; key: string }

  beforeAll(async () => {
    tenant = await app.tenant(["ingest", "query"], { quotas: { requestsPerSecond: 10_000, pointsPerSecond: 1_000_000 } }) // the test pages quickly
    for (const s of seeds) await insertExecution(tenant.id, s)
  })

  it("pages newest first without duplicates or gaps, ties on start time included, even while newer rows arrive", async () => {
    let late = ""
    const ids = await allPages(tenant.key, "limit=7", async (n) => {
      if (n !== 1) return
      late = hex(16)
      await insertExecution(tenant.id, { traceId: late, service: "svc-a", operation: "op0", status: "completed", startMs: Date.now(), durationMs: 1 })
    })
    expect(ids).toEqual(newestFirst(seeds))
    expect(new Set(ids).size).toBe(60)
    const again = await allPages(tenant.key, "limit=60")
    expect(again[0]).toBe(late)
    await app.sql("DELETE FROM executions WHERE tenant_id = $1 AND trace_id = $2", [tenant.id, late])
  })

  it("filters by service, operation, status, duration, time and attributes", async () => {
    const cases: Array<[string, (s: Seed, i: number) => boolean]> = [
      ["service=svc-a&status=failed", (s) => s.service === "svc-a" && s.status === "failed"],
      ["operation=op1&status=completed,failed", (s) => s.operation === "op1"],
      ["minDurationMs=100&maxDurationMs=300", (s) => (s.durationMs ?? 0) >= 100 && (s.durationMs ?? 0) <= 300],
      [`from=${new Date(base + 3000).toISOString()}&to=${new Date(base + 5000).toISOString()}`, (s) => s.startMs >= base + 3000 && s.startMs < base + 5000],
      ["attr.team=red", (_, i) => i % 2 === 0],
      ["attr.region=eu&service=svc-b", (s, i) => i % 5 === 0 && s.service === "svc-b"],
      ["attr.env=prod", (_, i) => i % 3 === 0],
      ["attr.n=7", (_, i) => i === 7],
      ["attr.team=green", () => false]
    ]
    for (const [query, keep] of cases) {
      const ids = await allPages(tenant.key, `${query}&limit=4`)
      expect(ids, query).toEqual(newestFirst(seeds.filter(keep)))
    }
  })

  it("refuses bad parameters with 400 and shows no other tenant's executions", async () => {
    for (const bad of ["status=done", "cursor=garbage", "limit=0", "limit=501", "minDurationMs=abc", "from=someday"]) {
      expect((await call(app, tenant.key, "GET", `/api/executions?${bad}`)).status, bad).toBe(400)
    }
    const other = await app.tenant()
    expect((await search(other.key, "limit=500")).executions).toEqual([])
  })
})

const otlpSpan = (traceId: string, spanId: string, parent: string | null, name: string, startMs: number, endMs: number, extra: Record<string, unknown> = {}) => ({
  traceId, spanId, ...(parent === null ? {} : { parentSpanId: parent }), name, kind: 2,
  startTimeUnixNano: String(BigInt(startMs) * 1_000_000n), endTimeUnixNano: String(BigInt(endMs) * 1_000_000n), status: { code: 1 }, ...extra
})
const resource = (service: string, spans: ReadonlyArray<unknown>) => ({
  resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] }, scopeSpans: [{ spans }]
})

interface Detail {
  source: string; status: string; durationMs: number; events: Array<{ eventName: string }>
  spans: Array<{
    spanId: string; name: string; serviceName: string; kind: number; statusCode: number; durationMs: number; depth: number; selfTimeMs: number
    children: Array<string>; criticalPathMs: number; events: Array<{ name: string }>; attributes: Record<string, unknown>
  }>
  metricPoints: Array<{ name: string; value: number }>
  anomalies: Array<{ metricName: string; serviceName: string }>
  analysis: null | {
    performanceGrade: string; gradeReasons: Array<string>
    bottlenecks: Array<{ name: string; shareOfDuration: number }>
    comparisonWithBaseline: { source: string; sampleCount: number; p50Ms: number; p95Ms: number; band: string }
    optimizationRecommendations: Array<{ kind: string; fact: string }>
  }
}
const detail = async (key: string, traceId: string) => {
  const res = await call(app, key, "GET", `/api/executions/${traceId}`)
  return res.status === 200 ? ((await res.json()) as Detail) : undefined
}

describe("GET /api/executions/{executionId}", () => {
  it("shows an OTLP-only trace as an execution with its span tree, critical path and a baseline from span_red_1m", async () => {
    const t = await app.tenant()
    const history = Array.from({ length: 40 }, (_, i) => 200 + i * 20)
    await app.sql(
      `INSERT INTO spans (tenant_id, trace_id, span_id, name, service_name, status_code, start_time, end_time, duration_ms)
       SELECT $1, tr, '00000000000000b1', 'checkout', 'shop', 1, to_timestamp(s / 1000.0), to_timestamp((s + d) / 1000.0), d
       FROM unnest($2::text[], $3::float8[], $4::float8[]) AS u(tr, s, d)`,
      [t.id, history.map(() => hex(16)), history.map((_, i) => Date.now() - DAY - i * HOUR), history]
    )
    await app.runtime.runPromise(Effect.flatMap(AggregateRefresher, (r) => r.refreshNow))
    const traceId = hex(16)
    const t0 = Date.now() - 5000
    const s = (id: string, parent: string | null, name: string, a: number, b: number, extra: Record<string, unknown> = {}) =>
      otlpSpan(traceId, id.padStart(16, "0"), parent === null ? null : parent.padStart(16, "0"), name, t0 + a, t0 + b, extra)
    const body = {
      resourceSpans: [
        resource("shop", [
          s("1", null, "checkout", 0, 1000), s("2", "1", "auth", 0, 100),
          s("3", "1", "db.query", 100, 200), s("4", "1", "db.query", 200, 300), s("5", "1", "db.query", 300, 400),
          s("6", "1", "payment", 400, 1000, { events: [{ timeUnixNano: String(BigInt(t0 + 420) * 1_000_000n), name: "retry" }] })
        ]),
        resource("bank-gw", [s("7", "6", "bank", 450, 950)])
      ]
    }
    expect((await call(app, t.key, "POST", "/v1/traces", body)).status).toBe(200)
    await app.sql(
      `INSERT INTO anomalies (tenant_id, series_key, metric_name, service_name, method, window_start, window_end, observed, severity, trace_id)
       VALUES ($1, 'k1', 'responseTimeMs', 'shop', 'threshold', to_timestamp($2 / 1000.0), to_timestamp($3 / 1000.0), 1, 'warning', NULL),
              ($1, 'k2', 'errorRate', 'other', 'threshold', to_timestamp($4 / 1000.0), to_timestamp($5 / 1000.0), 1, 'critical', $6),
              ($1, 'k3', 'responseTimeMs', 'shop', 'threshold', to_timestamp($4 / 1000.0), to_timestamp($5 / 1000.0), 1, 'warning', NULL)`,
      [t.id, t0 + 500, t0 + 1500, t0 - 2 * HOUR, t0 - 2 * HOUR + 1000, traceId]
    )
    const d = await eventually(async () => {
      const x = await detail(t.key, traceId)
      return x !== undefined && x.spans.length === 7 && x.analysis !== null ? x : undefined
    })
    expect(d).toMatchObject({ source: "otlp", status: "completed", durationMs: 1000 })
    const byName = (n: string) => d.spans.filter((x) => x.name === n)
    expect(d.spans.map((x) => [x.name, x.depth])).toEqual([["checkout", 0], ["auth", 1], ["db.query", 1], ["db.query", 1], ["db.query", 1], ["payment", 1], ["bank", 2]])
    expect(byName("checkout")[0]).toMatchObject({ selfTimeMs: 0, criticalPathMs: 0 })
    expect(byName("checkout")[0]?.children).toHaveLength(5)
    expect(byName("payment")[0]).toMatchObject({ selfTimeMs: 100, criticalPathMs: 100, children: ["0000000000000007"] })
    expect(byName("payment")[0]?.events.map((e) => e.name)).toEqual(["retry"])
    expect(byName("bank")[0]).toMatchObject({ selfTimeMs: 500, criticalPathMs: 500 })
    expect(d.anomalies.map((a) => `${a.serviceName}/${a.metricName}`).sort()).toEqual(["other/errorRate", "shop/responseTimeMs"])

    const a = d.analysis
    expect(a?.bottlenecks[0]).toMatchObject({ name: "bank", shareOfDuration: 0.5 })
    const hist = histogramOf(history)
    expect(a?.comparisonWithBaseline).toMatchObject({ source: "span_red_1m", sampleCount: 40, band: "above_p95" })
    expect(a?.comparisonWithBaseline.p50Ms).toBeCloseTo(quantileFromHistogram(hist, 0.5) ?? Number.NaN, 9)
    expect(a?.comparisonWithBaseline.p95Ms).toBeCloseTo(quantileFromHistogram(hist, 0.95) ?? Number.NaN, 9)
    expect(a?.performanceGrade).toBe("C")
    expect(a?.optimizationRecommendations.map((r) => r.kind)).toEqual(["dominant_span", "sequential_calls", "slower_than_baseline"])
  })

  it("compares a native execution with the same operation's durations of the last 7 days and grades it", async () => {
    const t = await app.tenant()
    const now = Date.now()
    for (let i = 0; i < 20; i++) {
      await insertExecution(t.id, { traceId: hex(16), service: "planner", operation: "plan", status: "completed", startMs: now - 6 * DAY + i * HOUR, durationMs: 100 * (i + 1) })
    }
    // Not part of the baseline: another operation, a running execution, and one older than 7 days.
    await insertExecution(t.id, { traceId: hex(16), service: "planner", operation: "other", status: "completed", startMs: now - DAY, durationMs: 99_999 })
    await insertExecution(t.id, { traceId: hex(16), service: "planner", operation: "plan", status: "active", startMs: now - DAY, durationMs: null })
    await insertExecution(t.id, { traceId: hex(16), service: "planner", operation: "plan", status: "completed", startMs: now - 8 * DAY, durationMs: 99_999 })
    const start = now - MIN
    const run = async (durationMs: number | null, status = "completed") => {
      const traceId = hex(16)
      await insertExecution(t.id, { traceId, service: "planner", operation: "plan", status, startMs: start, durationMs })
      return traceId
    }
    const grades = []
    for (const [d, status] of [[500, "completed"], [1500, "completed"], [5000, "completed"], [500, "failed"]] as const) {
      grades.push((await detail(t.key, await run(d, status)))?.analysis?.performanceGrade)
    }
    expect(grades).toEqual(["A", "B", "E", "F"])
    const fast = await run(500)
    await app.sql(
      `INSERT INTO metric_points (tenant_id, time, name, value, service_name, trace_id, dedup_key)
       VALUES ($1, to_timestamp($2 / 1000.0), 'cpuUsagePercent', 42, 'planner', $3, 1), ($1, to_timestamp($2 / 1000.0), 'cpuUsagePercent', 1, 'planner', NULL, 2)`,
      [t.id, start + 100, fast]
    )
    const d = await detail(t.key, fast)
    expect(d?.analysis?.comparisonWithBaseline).toMatchObject({ source: "executions", sampleCount: 20, p50Ms: 1050, band: "at_or_below_p50" })
    expect(d?.analysis?.comparisonWithBaseline.p95Ms).toBeCloseTo(1905, 9)
    // The execution is the root span of its trace, shown from its row (no OTLP spans were sent).
    expect(d?.spans.map((x) => [x.name, x.serviceName, x.depth, x.kind, x.statusCode, x.durationMs])).toEqual([["plan", "planner", 0, 2, 1, 500]])
    expect(d?.spans[0]?.attributes).toMatchObject({ "mplp.service.name": "planner", "mplp.execution.id": fast })
    expect(d?.metricPoints).toEqual([{ name: "cpuUsagePercent", time: new Date(start + 100).toISOString(), value: 42, serviceName: "planner" }])
    const running = await run(null, "active")
    expect((await detail(t.key, running))?.analysis).toBeNull()
  })
})
