import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import type { DbClient } from "../src/db/Db.ts"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { dedupKeys, insertMetricPoints, insertSpans, upsertSpanExecutions } from "../src/ingest/persist.ts"
import { dbKind, openBenchDb, runScoped } from "./benchDb.ts"
import { metricBatch, rowsOf } from "./data.ts"
import { makeTraceRequest } from "./otlpRequests.ts"
import { fig, log, SPANS_PER_REQUEST } from "./harness.ts"
import type { Options, ScenarioResult } from "./harness.ts"
import { othersMeter, summarize } from "./stats.ts"
import type { Summary } from "./stats.ts"

export const BASELINE_BATCH = 1000

export interface BaselineRun {
  readonly metricRows: number
  readonly metricSeconds: number
  readonly metricRowsPerSecond: number
  readonly spanRows: number
  readonly spanSeconds: number
  readonly spanRowsPerSecond: number
  /** CPU µs of this process per row (the figure to hold the service's CPU per point against). */
  readonly cpuUsPerMetricRow: number
  readonly cpuUsPerSpanRow: number
  /** CPU µs per span of upserting the batch's root spans into executions (as the ingest stage does). */
  readonly executionsUpsertCpuUsPerSpan: number
  /** CPU µs per row of refreshing metric_points_1m / span_red_1m over the run's rows. */
  readonly refreshCpuUsPerMetricRow: number
  readonly refreshCpuUsPerSpanRow: number
  /** Cores the machine's other processes used meanwhile (they compete for the same cores). */
  readonly otherCores: number | null
}

/** Wall seconds and this process's CPU seconds an effect took. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    yield* effect
    const c = process.cpuUsage(c0)
    return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (c.user + c.system) / 1e6 }
  })

/**
 * The fastest path to the same rows: `INSERT … SELECT unnest(…)` (the ingest stage's own
 * statement, src/ingest/persist.ts) in batches of 1000 from this process, no HTTP, no queue.
 * Metric rows are built exactly as the ingest stage builds them from the points the metrics
 * scenario posts (same generator, same dedup keys); spans are the otlp scenario's requests,
 * decoded by the service's own OTLP decoder before the clock starts.
 */
export const baselineRun = (db: DbClient, run: number, metricRows: number, spanRows: number, spansPerRequest: number) =>
  Effect.gen(function* () {
    const tenant = `bench-base-${randomUUID().slice(0, 8)}`
    // Each run's rows lie in their own past minutes, so that its aggregate refresh recomputes only them.
    const now = Date.now() - 10 * 60_000 - run * 20 * 60_000
    const batches = Array.from({ length: Math.ceil(metricRows / BASELINE_BATCH) }, (_, b) => {
      const rows = rowsOf(metricBatch(1000 + run, b, Math.min(BASELINE_BATCH, metricRows - b * BASELINE_BATCH)), now + b)
      return { rows, keys: dedupKeys(rows, "native", `${tenant}.${randomUUID()}`) }
    })
    const others = othersMeter()
    const metric = yield* timed(
      Effect.forEach(batches, (b) => insertMetricPoints(db, tenant, b.rows, b.keys), { discard: true })
    )
    const requests = Math.ceil(spanRows / spansPerRequest)
    const spans = Array.from({ length: requests }, (_, r) => decodeTraces(makeTraceRequest(spansPerRequest, now + r * 10, false).protobuf, "protobuf").spans).flat()
    const spanBatches: Array<typeof spans> = []
    for (let i = 0; i < spans.length; i += BASELINE_BATCH) spanBatches.push(spans.slice(i, i + BASELINE_BATCH))
    const span = yield* timed(Effect.forEach(spanBatches, (b) => insertSpans(db, tenant, b), { discard: true }))
    const otherCores = others()
    // What the ingest stage also does with a span batch: its root spans become executions.
    const roots = yield* timed(Effect.forEach(spanBatches, (b) => upsertSpanExecutions(db, tenant, b), { discard: true }))
    // What the service adds later for the same rows: materialising the continuous aggregates (its
    // AggregateRefresher in embedded mode, TimescaleDB's policies on a server).
    const refresh1m = yield* timed(db.query("CALL refresh_continuous_aggregate('metric_points_1m', NULL, now() - INTERVAL '1 minute')"))
    const refreshRed = yield* timed(db.query("CALL refresh_continuous_aggregate('span_red_1m', NULL, now() - INTERVAL '1 minute')"))
    const m = batches.reduce((n, b) => n + b.rows.length, 0)
    return {
      metricRows: m, metricSeconds: metric.seconds, metricRowsPerSecond: m / metric.seconds,
      spanRows: spans.length, spanSeconds: span.seconds, spanRowsPerSecond: spans.length / span.seconds,
      cpuUsPerMetricRow: (metric.cpuSeconds * 1e6) / m, cpuUsPerSpanRow: (span.cpuSeconds * 1e6) / spans.length, otherCores,
      executionsUpsertCpuUsPerSpan: (roots.cpuSeconds * 1e6) / spans.length,
      refreshCpuUsPerMetricRow: (refresh1m.cpuSeconds * 1e6) / m, refreshCpuUsPerSpanRow: (refreshRed.cpuSeconds * 1e6) / spans.length
    } satisfies BaselineRun
  })

/** `runs` baseline runs on one freshly migrated database, each in its own tenant. */
export const baseline = (runs: number, metricRows: number, spanRows: number, spansPerRequest: number) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const db = yield* openBenchDb
    const setupSeconds = (performance.now() - t0) / 1000
    const results: Array<BaselineRun> = []
    for (let r = 0; r < runs; r++) results.push(yield* baselineRun(db, r, metricRows, spanRows, spansPerRequest))
    return { setupSeconds, runs: results, kind: db.kind }
  })

export interface BaselineFigures {
  readonly metricRowsPerSecond: Summary
  readonly spanRowsPerSecond: Summary
}

export const runBaseline = async (o: Options): Promise<ScenarioResult & { baseline: BaselineFigures }> => {
  const t0 = performance.now()
  const metricRows = Math.round(5000 * o.duration)
  const spanRows = Math.max(SPANS_PER_REQUEST, Math.round((2000 * o.duration) / SPANS_PER_REQUEST) * SPANS_PER_REQUEST)
  log(`baseline: ${dbKind()} database, ${o.runs} runs of ${metricRows} metric rows and ${spanRows} span rows (+1 warm-up run)`)
  const r = await runScoped(baseline(o.runs + 1, metricRows, spanRows, SPANS_PER_REQUEST))
  const runs = r.runs.slice(1) // the first run warms the WASM and JIT up; it is reported, not counted
  const m = runs.map((x) => x.metricRowsPerSecond)
  const s = runs.map((x) => x.spanRowsPerSecond)
  return {
    scenario: "baseline",
    seconds: (performance.now() - t0) / 1000,
    measured: "INSERT … SELECT unnest(…) (src/ingest/persist.ts) in batches of 1000 rows from this process, one statement per batch, autocommit; no HTTP, no queue",
    figures: [
      fig("baseline", "metric_points bulk insert", "rows/s", m),
      fig("baseline", "spans bulk insert", "rows/s", s),
      fig("baseline", "metric_points insert: CPU per row", "µs", runs.map((x) => x.cpuUsPerMetricRow)),
      fig("baseline", "spans insert: CPU per row", "µs", runs.map((x) => x.cpuUsPerSpanRow)),
      fig("baseline", "  then upserting their root spans into executions: CPU per span", "µs", runs.map((x) => x.executionsUpsertCpuUsPerSpan)),
      fig("baseline", "  then refreshing metric_points_1m: CPU per row", "µs", runs.map((x) => x.refreshCpuUsPerMetricRow)),
      fig("baseline", "  then refreshing span_red_1m: CPU per row", "µs", runs.map((x) => x.refreshCpuUsPerSpanRow)),
      fig("baseline", "other processes on the machine", "cores", runs.map((x) => x.otherCores ?? Number.NaN))
    ],
    details: { database: r.kind, setupSeconds: r.setupSeconds, warmupRun: r.runs[0], runs },
    baseline: { metricRowsPerSecond: summarize(m), spanRowsPerSecond: summarize(s) }
  }
}
