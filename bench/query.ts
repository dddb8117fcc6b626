import { Effect, Either } from "effect"
import { randomUUID } from "node:crypto"
import type { DbClient } from "../src/db/Db.ts"
import type { MetricRow } from "../src/domain/jobs.ts"
import { CHUNK, dedupKeys, insertMetricPoints } from "../src/ingest/persist.ts"
import { planSeries, querySeries, seriesSql } from "../src/query/series.ts"
import type { SeriesRequest, SeriesResult } from "../src/query/series.ts"
import { dbKind, openBenchDb, runScoped } from "./benchDb.ts"
import { prng } from "./data.ts"
import { fig, log } from "./harness.ts"
import type { Options } from "./harness.ts"
import { othersMeter } from "./stats.ts"
import { genaiGraphScenario } from "./genaiGraphQuery.ts"

// 7 days x 100 series at one point per minute (~1M rows): the 1 s resolution of the issue would be
// 60M rows, beyond what an embedded database can be filled with in a bounded bench. Beside it, one
// series at the issue's own density (1 point per second for 7 days, ~605k rows) in another tenant.
// The queries are the service's own series query (src/query/series.ts): hourly buckets from
// metric_points_1h, and the same request with source=raw, which computes them from metric_points.

const HOUR = 3_600_000
const MINUTE = 60_000
const METRIC = "responseTimeMs"

export interface QueryOptions {
  readonly days: number
  readonly rounds: number
  /** Also one series at 1 point per second over the same days. */
  readonly denseSeries: boolean
}

// The same refreshes, in the same order, as src/db/AggregateRefresher.ts (hourly is built on minutely).
const REFRESH = [
  "CALL refresh_continuous_aggregate('metric_points_1m', NULL, now() - INTERVAL '1 minute')",
  "CALL refresh_continuous_aggregate('metric_points_1h', NULL, now() - INTERVAL '1 hour')"
]

/** Equal answers: the same buckets with equal counts, and means equal up to summation order. */
export const compareAnswers = (a: SeriesResult, b: SeriesResult) => {
  const flat = (r: SeriesResult) => new Map(r.series.flatMap((s) => s.points.map((p) => [`${s.service ?? ""}|${p.time}`, p] as const)))
  const fa = flat(a)
  const fb = flat(b)
  let mismatches = Math.abs(fa.size - fb.size)
  let maxRelError = 0
  for (const [k, p] of fa) {
    const o = fb.get(k)
    if (o === undefined || o.count !== p.count || (o.value === null) !== (p.value === null)) {
      mismatches++
      continue
    }
    const rel = p.value === null || o.value === null ? 0 : Math.abs(o.value - p.value) / Math.max(1e-12, Math.abs(p.value))
    maxRelError = Math.max(maxRelError, rel)
    if (rel > 1e-9) mismatches++
  }
  return { bucketsA: fa.size, bucketsB: fb.size, mismatches, maxRelError, sourceA: a.source, sourceB: b.source }
}

const timed = (db: DbClient, tenantId: string, req: SeriesRequest) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const result = yield* querySeries(db, tenantId, req)
    return { ms: performance.now() - t0, result }
  })

const insertAll = (db: DbClient, tenant: string, rows: Array<MetricRow>, batchId: string) =>
  insertMetricPoints(db, tenant, rows, dedupKeys(rows, "native", `${tenant}.${batchId}`))

export const queryScenario = (o: QueryOptions) =>
  Effect.gen(function* () {
    const tSetup = performance.now()
    const db = yield* openBenchDb
    const openSeconds = (performance.now() - tSetup) / 1000
    const tenant = `bench-query-${randomUUID().slice(0, 8)}`
    const denseTenant = `bench-dense-${randomUUID().slice(0, 8)}`
    // Whole hours ending two hours ago: every bucket is materialised by the refresh (end offset 1 h).
    const end = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR
    const start = end - o.days * 24 * HOUR
    const minutes = (end - start) / MINUTE
    const services = Array.from({ length: 100 }, (_, i) => `svc-${String(i).padStart(3, "0")}`)
    const rnd = prng(42)

    // One statement of CHUNK rows at a time, in time order (as a live feed would arrive).
    const minutesPerStatement = Math.max(1, Math.floor(CHUNK / services.length))
    const tInsert = performance.now()
    let rowsInserted = 0
    for (let m0 = 0; m0 < minutes; m0 += minutesPerStatement) {
      const rows: Array<MetricRow> = []
      for (let m = m0; m < Math.min(minutes, m0 + minutesPerStatement); m++) {
        services.forEach((serviceName, i) => {
          rows.push({
            name: METRIC, serviceName, timeMs: start + m * MINUTE + (i % 60) * 1000, traceId: null, attributes: {},
            value: Math.round((50 + 30 * Math.sin(m / 90 + i) + rnd() * 10) * 1000) / 1000
          })
        })
      }
      yield* insertAll(db, tenant, rows, String(m0))
      rowsInserted += rows.length
    }
    const insertSeconds = (performance.now() - tInsert) / 1000

    let denseRows = 0
    const tDense = performance.now()
    if (o.denseSeries) {
      for (let t = start; t < end; t += CHUNK * 1000) {
        const rows: Array<MetricRow> = []
        for (let k = 0; k < CHUNK && t + k * 1000 < end; k++) {
          const timeMs = t + k * 1000
          rows.push({ name: METRIC, serviceName: "checkout", timeMs, traceId: null, attributes: {}, value: Math.round((120 + 40 * Math.sin(timeMs / 3.6e6) + rnd() * 30) * 100) / 100 })
        }
        yield* insertAll(db, denseTenant, rows, String(t))
        denseRows += rows.length
      }
    }
    const denseInsertSeconds = (performance.now() - tDense) / 1000

    const tRefresh = performance.now()
    for (const sql of REFRESH) yield* db.query(sql)
    const refreshSeconds = (performance.now() - tRefresh) / 1000

    const hourly = { name: METRIC, fromMs: start, toMs: end, bucket: { _tag: "size", seconds: 3600 }, agg: "avg" } as const
    const all: SeriesRequest = { ...hourly, groupBy: "service", service: null, source: "auto" }
    const one: SeriesRequest = { ...hourly, groupBy: null, service: services[0]!, source: "auto" }
    const dense: SeriesRequest = { ...hourly, groupBy: null, service: "checkout", source: "auto" }
    const raw = (r: SeriesRequest): SeriesRequest => ({ ...r, source: "raw" })

    // Warm-up, and the correctness check: the same answer both ways.
    const checkAll = compareAnswers((yield* timed(db, tenant, all)).result, (yield* timed(db, tenant, raw(all))).result)
    const checkOne = compareAnswers((yield* timed(db, tenant, one)).result, (yield* timed(db, tenant, raw(one))).result)
    const checkDense = o.denseSeries
      ? compareAnswers((yield* timed(db, denseTenant, dense)).result, (yield* timed(db, denseTenant, raw(dense))).result)
      : undefined

    const others = othersMeter()
    const samples = {
      aggAll: [] as Array<number>, rawAll: [] as Array<number>, aggOne: [] as Array<number>, rawOne: [] as Array<number>,
      aggDense: [] as Array<number>, rawDense: [] as Array<number>
    }
    for (let r = 0; r < o.rounds; r++) {
      samples.aggAll.push((yield* timed(db, tenant, all)).ms)
      samples.rawAll.push((yield* timed(db, tenant, raw(all))).ms)
      samples.aggOne.push((yield* timed(db, tenant, one)).ms)
      samples.rawOne.push((yield* timed(db, tenant, raw(one))).ms)
      if (o.denseSeries) {
        samples.aggDense.push((yield* timed(db, denseTenant, dense)).ms)
        samples.rawDense.push((yield* timed(db, denseTenant, raw(dense))).ms)
      }
    }
    const otherCores = others()

    // Server-side execution time (no result transfer): the rest of a figure is moving the rows into JS.
    const explain = (tenantId: string, req: SeriesRequest) =>
      Effect.gen(function* () {
        const plan = Either.getOrThrow(planSeries(req))
        const { text, values } = seriesSql(tenantId, req, plan)
        const rows = yield* db.query<Record<string, unknown>>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values)
        const cell = Object.values(rows[0] ?? {})[0]
        const parsed = (typeof cell === "string" ? JSON.parse(cell) : cell) as Array<{ "Execution Time"?: number }>
        return parsed[0]?.["Execution Time"] ?? Number.NaN
      })
    const serverMs = { aggAll: yield* explain(tenant, all), rawAll: yield* explain(tenant, raw(all)) }

    if (db.kind === "postgres") {
      // A shared server keeps nothing of the bench: the tenants' rows, then their materialised buckets.
      yield* db.query("DELETE FROM metric_points WHERE tenant_id = ANY($1::text[])", [[tenant, denseTenant]])
      for (const sql of REFRESH) yield* db.query(sql)
    }
    return {
      kind: db.kind,
      days: o.days,
      series: services.length,
      rowsInserted,
      expectedBuckets: services.length * o.days * 24,
      openSeconds,
      insertSeconds,
      insertRowsPerSecond: rowsInserted / insertSeconds,
      denseRows,
      denseInsertSeconds,
      refreshSeconds,
      checkAll,
      checkOne,
      checkDense,
      samples,
      otherCoresDuringQueries: otherCores,
      serverMs,
      ratiosAll: samples.rawAll.map((r, i) => r / samples.aggAll[i]!),
      ratiosOne: samples.rawOne.map((r, i) => r / samples.aggOne[i]!),
      ratiosDense: samples.rawDense.map((r, i) => r / samples.aggDense[i]!)
    }
  })

/** A day of one tenant's agents: 400,000 GenAI spans (4.6 per second). */
const GRAPH_SPANS = 400_000

export const runQuery = async (o: Options) => {
  const t0 = performance.now()
  const rounds = Math.max(5, o.runs)
  log(`query: ${dbKind()} database in this process, 7 days x 100 series at 1 point/min (~1M rows), ${rounds} timed rounds`)
  const r = await runScoped(queryScenario({ days: 7, rounds, denseSeries: true }))
  const answersEqual = r.checkAll.mismatches === 0 && r.checkOne.mismatches === 0 && r.checkAll.bucketsA === r.expectedBuckets && (r.checkDense?.mismatches ?? 0) === 0
  log(`  inserted ${r.rowsInserted} + ${r.denseRows} (dense series) rows in ${(r.insertSeconds + r.denseInsertSeconds).toFixed(1)} s, refreshed the aggregates in ${r.refreshSeconds.toFixed(1)} s; answers equal: ${answersEqual}`)
  log(`query: the agent graph over a day of ${GRAPH_SPANS} GenAI spans, ${rounds} timed rounds`)
  const g = await runScoped(genaiGraphScenario({ spans: GRAPH_SPANS, rounds }))
  log(`  inserted in ${g.fillSeconds.toFixed(1)} s, spans_1m refreshed in ${g.refreshSeconds.toFixed(1)} s (${g.minuteGroups} minute groups); ${g.nodes} nodes, ${g.edges} edges; mismatches: ${g.mismatches}`)
  return {
    scenario: "query" as const,
    seconds: (performance.now() - t0) / 1000,
    measured: `in process (the service's embedded database cannot be read from outside): the migrated schema, ${r.rowsInserted} points (7 days x 100 series of one metric, 1/min) plus ${r.denseRows} for one series at the issue's 1 point/s, bulk-inserted, ` +
      `continuous aggregates refreshed as src/db/AggregateRefresher.ts does; then the service's own series query (querySeries, src/query/series.ts: hourly buckets, avg, grouped by service) from metric_points_1h, against the same request with source=raw (time_bucket over metric_points); ` +
      `answers compared (same buckets and counts; means to 1e-9). Then the agent graph (queryGenaiGraph, src/query/genaiGraph.ts: spans_1m's minutes) over a day of ${GRAPH_SPANS} GenAI spans of 7 agents against the same graph from the spans themselves (bench/genaiGraphQuery.ts, the endpoint's query before migrations/0020); calls, errors, tokens and cost compared per node and edge`,
    figures: [
      fig("query", "100 series x 168 h from metric_points_1h", "ms", r.samples.aggAll),
      fig("query", "100 series x 168 h from raw metric_points", "ms", r.samples.rawAll),
      fig("query", "raw / aggregate (100 series)", "x faster", r.ratiosAll),
      fig("query", "  of the aggregate query: server execution (EXPLAIN ANALYZE)", "ms", [r.serverMs.aggAll]),
      fig("query", "  of the raw query: server execution (EXPLAIN ANALYZE)", "ms", [r.serverMs.rawAll]),
      fig("query", "1 series x 168 h from metric_points_1h", "ms", r.samples.aggOne),
      fig("query", "1 series x 168 h from raw metric_points", "ms", r.samples.rawOne),
      fig("query", "raw / aggregate (1 series)", "x faster", r.ratiosOne),
      fig("query", "1 series at 1 point/s x 168 h from metric_points_1h", "ms", r.samples.aggDense),
      fig("query", "1 series at 1 point/s x 168 h from raw metric_points", "ms", r.samples.rawDense),
      fig("query", "raw / aggregate (1 series at 1 point/s)", "x faster", r.ratiosDense),
      fig("query", `agent graph, 24 h of ${GRAPH_SPANS} GenAI spans, from spans_1m (the service's query)`, "ms", g.samples.aggregate),
      fig("query", `agent graph, 24 h of ${GRAPH_SPANS} GenAI spans, from raw spans`, "ms", g.samples.raw),
      fig("query", "agent graph: raw / aggregate", "x faster", g.ratios)
    ],
    details: { ...r, genaiGraph: g },
    answersEqual,
    graphAnswersEqual: g.mismatches === 0
  }
}
