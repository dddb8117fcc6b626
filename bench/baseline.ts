import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import type { DbClient } from "../src/db/Db.ts"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { dedupKeys, insertMetricPoints, insertSpans, upsertSpanExecutions } from "../src/ingest/persist.ts"
import { dbKind, openBenchDbWithCopy, refreshAggregate, runScoped } from "./benchDb.ts"
import { dbServerCpuOfEnv } from "./dbServerMeter.ts"
import type { DbServerCpu } from "./dbServerMeter.ts"
import { METRIC_COLUMNS, metricLines, SPAN_COLUMNS, spanLines } from "./copyBaseline.ts"
import type { CopyTarget } from "./copyBaseline.ts"
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
  /** The same rows by `COPY … FROM STDIN` (CSV, one statement per run, into a tenant of its own). */
  readonly copyMetricRowsPerSecond: number
  readonly copySpanRowsPerSecond: number
  /** CPU µs of this process per row (the figure to hold the service's CPU per point against). */
  readonly cpuUsPerMetricRow: number
  readonly cpuUsPerSpanRow: number
  /** CPU µs per span of upserting the batch's root spans into executions (as the ingest stage does). */
  readonly executionsUpsertCpuUsPerSpan: number
  /** CPU µs per row of refreshing metric_points_1m / spans_1m (RED and GenAI usage) over the run's rows. */
  readonly refreshCpuUsPerMetricRow: number
  readonly refreshCpuUsPerSpanRow: number
  /** Cores the machine's other processes used meanwhile (they compete for the same cores). */
  readonly otherCores: number | null
  /**
   * On a TimescaleDB server on this machine: the server's own CPU µs per row (bench/dbServerMeter.ts) of each
   * table's COPY, the roots' upsert and each refresh, to hold the end-to-end "database server CPU" against.
   */
  readonly serverCpuUsPerCopySpanRow?: number
  readonly serverCpuUsPerRootsSpan?: number
  readonly serverCpuUsPerCopyMetricRow?: number
  readonly serverCpuUsPerRefreshMetricRow?: number
  readonly serverCpuUsPerRefreshSpanRow?: number
}

/** Wall seconds, this process's CPU seconds and the database server's an effect took. */
const timedOn = <A, E>(server: DbServerCpu | undefined, effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const s0 = server?.().primary
    const t = yield* timed(effect)
    const s1 = server?.().primary
    return { ...t, serverCpuSeconds: s0 === undefined || s1 === undefined ? undefined : s1 - s0 }
  })

const perRow = (seconds: number | undefined, rows: number) => (seconds === undefined ? undefined : (seconds * 1e6) / rows)

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
 * The raw paths to the same rows, no HTTP, no queue: `INSERT … SELECT unnest(…)` (the ingest stage's own
 * statement, src/ingest/persist.ts) in batches of 1000 from this process, and `COPY … FROM STDIN` (CSV,
 * the whole run's rows in one statement, bench/copyBaseline.ts) into a tenant of its own. The two go in
 * turns (odd runs COPY first) so neither always finds the chunks already created. Metric rows are built
 * exactly as the ingest stage builds them from the points the metrics scenario posts (same generator,
 * same dedup keys); spans are the otlp scenario's requests, decoded by the service's own OTLP decoder
 * before the clock starts; the CSV text is built before the clock starts too.
 */
export const baselineRun = (db: DbClient, copy: CopyTarget, run: number, metricRows: number, spanRows: number, spansPerRequest: number, server: DbServerCpu | undefined = undefined) =>
  Effect.gen(function* () {
    const tenant = `bench-base-${randomUUID().slice(0, 8)}`
    const copyTenant = `${tenant}-copy`
    // Each run's rows lie in their own past minutes, so that its aggregate refresh recomputes only them.
    const now = Date.now() - 10 * 60_000 - run * 20 * 60_000
    const batches = Array.from({ length: Math.ceil(metricRows / BASELINE_BATCH) }, (_, b) => {
      const rows = rowsOf(metricBatch(1000 + run, b, Math.min(BASELINE_BATCH, metricRows - b * BASELINE_BATCH)), now + b)
      return { rows, keys: dedupKeys(rows, "native", `${tenant}.${randomUUID()}`) }
    })
    const metricCsv = batches.flatMap((b) => metricLines(copyTenant, b.rows, b.keys))
    const copyFirst = run % 2 === 1
    const others = othersMeter()
    const unnestMetrics = timed(Effect.forEach(batches, (b) => insertMetricPoints(db, tenant, b.rows, b.keys), { discard: true }))
    const copyMetrics = timedOn(server, copy.copy("metric_points", METRIC_COLUMNS, metricCsv))
    const [metric, copyMetric] = copyFirst
      ? yield* Effect.map(Effect.zip(copyMetrics, unnestMetrics), ([c, u]) => [u, c] as const)
      : yield* Effect.zip(unnestMetrics, copyMetrics)
    const requests = Math.ceil(spanRows / spansPerRequest)
    const spans = Array.from({ length: requests }, (_, r) => decodeTraces(makeTraceRequest(spansPerRequest, now + r * 10, false).protobuf, "protobuf").spans).flat()
    const spanBatches: Array<typeof spans> = []
    for (let i = 0; i < spans.length; i += BASELINE_BATCH) spanBatches.push(spans.slice(i, i + BASELINE_BATCH))
    const spanCsv = spanLines(copyTenant, spans)
    const unnestSpans = timed(Effect.forEach(spanBatches, (b) => insertSpans(db, tenant, b), { discard: true }))
    const copySpans = timedOn(server, copy.copy("spans", SPAN_COLUMNS, spanCsv))
    const [span, copySpan] = copyFirst
      ? yield* Effect.map(Effect.zip(copySpans, unnestSpans), ([c, u]) => [u, c] as const)
      : yield* Effect.zip(unnestSpans, copySpans)
    const otherCores = others()
    // What the ingest stage also does with a span batch: its root spans become executions.
    const roots = yield* timedOn(server, Effect.forEach(spanBatches, (b) => upsertSpanExecutions(db, tenant, b), { discard: true }))
    // What the service adds later for the same rows: materialising the continuous aggregates (its
    // AggregateRefresher in embedded mode, TimescaleDB's policies on a server).
    const refresh1m = yield* timedOn(server, refreshAggregate(db, "metric_points_1m", "1 minute"))
    const refreshRed = yield* timedOn(server, refreshAggregate(db, "spans_1m", "1 minute"))
    const m = batches.reduce((n, b) => n + b.rows.length, 0)
    return {
      metricRows: m, metricSeconds: metric.seconds, metricRowsPerSecond: m / metric.seconds,
      spanRows: spans.length, spanSeconds: span.seconds, spanRowsPerSecond: spans.length / span.seconds,
      copyMetricRowsPerSecond: m / copyMetric.seconds, copySpanRowsPerSecond: spans.length / copySpan.seconds,
      cpuUsPerMetricRow: (metric.cpuSeconds * 1e6) / m, cpuUsPerSpanRow: (span.cpuSeconds * 1e6) / spans.length, otherCores,
      executionsUpsertCpuUsPerSpan: (roots.cpuSeconds * 1e6) / spans.length,
      refreshCpuUsPerMetricRow: (refresh1m.cpuSeconds * 1e6) / m, refreshCpuUsPerSpanRow: (refreshRed.cpuSeconds * 1e6) / spans.length,
      serverCpuUsPerCopyMetricRow: perRow(copyMetric.serverCpuSeconds, m),
      serverCpuUsPerCopySpanRow: perRow(copySpan.serverCpuSeconds, spans.length),
      serverCpuUsPerRootsSpan: perRow(roots.serverCpuSeconds, spans.length),
      serverCpuUsPerRefreshMetricRow: perRow(refresh1m.serverCpuSeconds, m),
      serverCpuUsPerRefreshSpanRow: perRow(refreshRed.serverCpuSeconds, spans.length)
    } satisfies BaselineRun
  })

/** `runs` baseline runs on one freshly migrated database, each in its own tenant. */
export const baseline = (runs: number, metricRows: number, spanRows: number, spansPerRequest: number) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const { db, copy } = yield* openBenchDbWithCopy
    const server = yield* Effect.promise(dbServerCpuOfEnv)
    const setupSeconds = (performance.now() - t0) / 1000
    const results: Array<BaselineRun> = []
    for (let r = 0; r < runs; r++) results.push(yield* baselineRun(db, copy, r, metricRows, spanRows, spansPerRequest, server))
    return { setupSeconds, runs: results, kind: db.kind }
  })

/** The faster raw path per table (by median): the end-to-end figures are held against it. */
export interface BaselineFigures {
  readonly metricRowsPerSecond: Summary
  readonly spanRowsPerSecond: Summary
  readonly metricPath: RawPath
  readonly spanPath: RawPath
}

export type RawPath = "COPY" | "INSERT … unnest"

const faster = (unnest: ReadonlyArray<number>, copy: ReadonlyArray<number>): { path: RawPath; summary: Summary } => {
  const u = summarize(unnest)
  const c = summarize(copy)
  return c.median > u.median ? { path: "COPY", summary: c } : { path: "INSERT … unnest", summary: u }
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
  const cm = runs.map((x) => x.copyMetricRowsPerSecond)
  const cs = runs.map((x) => x.copySpanRowsPerSecond)
  const metricBase = faster(m, cm)
  const spanBase = faster(s, cs)
  return {
    scenario: "baseline",
    seconds: (performance.now() - t0) / 1000,
    measured: "INSERT … SELECT unnest(…) (src/ingest/persist.ts) in batches of 1000 rows from this process, one statement per batch, autocommit; " +
      "and COPY … FROM STDIN (CSV, one statement per run; bench/copyBaseline.ts); the faster by median is the baseline; no HTTP, no queue",
    figures: [
      fig("baseline", `metric_points raw baseline (${metricBase.path})`, "rows/s", metricBase.path === "COPY" ? cm : m),
      fig("baseline", `spans raw baseline (${spanBase.path})`, "rows/s", spanBase.path === "COPY" ? cs : s),
      fig("baseline", "metric_points INSERT … unnest", "rows/s", m),
      fig("baseline", "metric_points COPY", "rows/s", cm),
      fig("baseline", "spans INSERT … unnest", "rows/s", s),
      fig("baseline", "spans COPY", "rows/s", cs),
      fig("baseline", "metric_points insert: CPU per row", "µs", runs.map((x) => x.cpuUsPerMetricRow)),
      fig("baseline", "spans insert: CPU per row", "µs", runs.map((x) => x.cpuUsPerSpanRow)),
      fig("baseline", "  then upserting their root spans into executions: CPU per span", "µs", runs.map((x) => x.executionsUpsertCpuUsPerSpan)),
      fig("baseline", "  then refreshing metric_points_1m: CPU per row", "µs", runs.map((x) => x.refreshCpuUsPerMetricRow)),
      fig("baseline", "  then refreshing spans_1m: CPU per row", "µs", runs.map((x) => x.refreshCpuUsPerSpanRow)),
      fig("baseline", "other processes on the machine", "cores", runs.map((x) => x.otherCores ?? Number.NaN)),
      ...(runs.every((x) => x.serverCpuUsPerCopySpanRow !== undefined)
        ? [
          fig("baseline", "metric_points COPY: database server CPU per row", "µs", runs.map((x) => x.serverCpuUsPerCopyMetricRow ?? Number.NaN)),
          fig("baseline", "spans COPY: database server CPU per row", "µs", runs.map((x) => x.serverCpuUsPerCopySpanRow ?? Number.NaN)),
          fig("baseline", "  their root spans upserted into executions: database server CPU per span", "µs", runs.map((x) => x.serverCpuUsPerRootsSpan ?? Number.NaN)),
          fig("baseline", "  metric_points_1m refreshed over them: database server CPU per row", "µs", runs.map((x) => x.serverCpuUsPerRefreshMetricRow ?? Number.NaN)),
          fig("baseline", "  spans_1m refreshed over them: database server CPU per span", "µs", runs.map((x) => x.serverCpuUsPerRefreshSpanRow ?? Number.NaN))
        ]
        : [])
    ],
    details: { database: r.kind, setupSeconds: r.setupSeconds, warmupRun: r.runs[0], runs },
    baseline: { metricRowsPerSecond: metricBase.summary, spanRowsPerSecond: spanBase.summary, metricPath: metricBase.path, spanPath: spanBase.path }
  }
}
