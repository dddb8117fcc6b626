import { Effect, Either } from "effect"
import type { Queryable } from "../db/Db.ts"
import type { IngestRateView, ServicesTimelineView } from "../domain/consoleViews.ts"
import { LE_COLUMNS, mergeHistograms, quantileFromHistogram } from "../domain/histogram.ts"
import type { DurationHistogram } from "../domain/histogram.ts"
import { formatDuration } from "./params.ts"

export const TIMELINE_LADDER = [60, 300, 900, 3600, 21_600, 86_400, 604_800] as const
export const TIMELINE_TARGET_POINTS = 120
export const TIMELINE_MAX_POINTS = 2_000

export interface TimelinePlan {
  readonly bucketSeconds: number
  /** The range widened to whole buckets (counted from the epoch, as the series endpoint does). */
  readonly fromMs: number
  readonly toMs: number
  readonly buckets: ReadonlyArray<number>
}

/** `auto` (null): the smallest ladder step giving at most 120 points; else whole minutes, at most 2,000 points. */
export const planTimeline = (fromMs: number, toMs: number, bucketSeconds: number | null): Either.Either<TimelinePlan, string> => {
  const rangeS = (toMs - fromMs) / 1000
  const size = bucketSeconds ?? TIMELINE_LADDER.find((s) => rangeS / s <= TIMELINE_TARGET_POINTS) ?? 604_800
  if (size % 60 !== 0) return Either.left(`bucket ${formatDuration(size)} is not a whole number of minutes (the timelines are per-minute aggregates)`)
  if (rangeS / size > TIMELINE_MAX_POINTS) {
    return Either.left(`bucket ${formatDuration(size)} gives ${Math.ceil(rangeS / size)} points over this range (at most ${TIMELINE_MAX_POINTS}); choose a larger bucket`)
  }
  const ms = size * 1000
  const from = Math.floor(fromMs / ms) * ms
  const to = Math.ceil(toMs / ms) * ms
  const buckets: Array<number> = []
  for (let t = from; t < to; t += ms) buckets.push(t)
  return Either.right({ bucketSeconds: size, fromMs: from, toMs: to, buckets })
}

type RedPacked = readonly [t: number, service: string, operation: string, count: number, errors: number, dmin: number, dmax: number, le: ReadonlyArray<number>]

interface Cell { readonly hist: DurationHistogram; readonly errors: number }

const listOf = (c: Cell | undefined): ReadonlyArray<Cell> => (c === undefined ? [] : [c])
const iso = (ms: number) => new Date(ms).toISOString()
const bucketExpr = (column: string) => `(extract(epoch FROM time_bucket(make_interval(secs => $4), ${column}, to_timestamp(0))) * 1000)::float8`
const RANGE = "tenant_id = $1 AND bucket >= to_timestamp($2 / 1000.0) AND bucket < to_timestamp($3 / 1000.0)"

/** Requests, errors and p95 per bucket, per service and per service and operation, from span_red_1m; empty buckets are zeros. */
export const queryServicesTimeline = (q: Queryable, tenantId: string, plan: TimelinePlan) =>
  Effect.gen(function* () {
    const [row] = yield* q.query<{ rows: ReadonlyArray<RedPacked> }>(
      `SELECT coalesce(json_agg(json_build_array(t, service_name, operation, count, errors, dmin, dmax, le) ORDER BY service_name, operation, t), '[]'::json) AS rows
       FROM (SELECT ${bucketExpr("bucket")} AS t, service_name, operation, sum(count)::float8 AS count, sum(errors)::float8 AS errors,
                    min(duration_min)::float8 AS dmin, max(duration_max)::float8 AS dmax, ARRAY[${LE_COLUMNS.map((c) => `sum(${c})::float8`).join(", ")}] AS le
             FROM span_red_1m WHERE ${RANGE} GROUP BY 1, 2, 3) q`,
      [tenantId, plan.fromMs, plan.toMs, plan.bucketSeconds]
    )
    const services = new Map<string, Map<string, Map<number, Cell>>>()
    for (const [t, service, operation, count, errors, dmin, dmax, le] of row?.rows ?? []) {
      const ops = services.get(service) ?? new Map<string, Map<number, Cell>>()
      services.set(service, ops)
      const cells = ops.get(operation) ?? new Map<number, Cell>()
      ops.set(operation, cells)
      cells.set(Math.round(Number(t)), { hist: { count: Number(count), cumulative: le.map(Number), min: Number(dmin), max: Number(dmax) }, errors: Number(errors) })
    }
    const pointsOf = (cellAt: (t: number) => ReadonlyArray<Cell>) =>
      plan.buckets.map((t) => {
        const cells = cellAt(t)
        const hist = mergeHistograms(cells.map((c) => c.hist))
        return { time: iso(t), requests: hist.count, errors: cells.reduce((n, c) => n + c.errors, 0), p95Ms: quantileFromHistogram(hist, 0.95) }
      })
    const series: Array<ServicesTimelineView["series"][number]> = []
    for (const [service, ops] of services) {
      series.push({ service, operation: null, points: pointsOf((t) => [...ops.values()].flatMap((cells) => listOf(cells.get(t)))) })
      for (const [operation, cells] of ops) series.push({ service, operation, points: pointsOf((t) => listOf(cells.get(t))) })
    }
    return { from: iso(plan.fromMs), to: iso(plan.toMs), bucketSeconds: plan.bucketSeconds, series } satisfies ServicesTimelineView
  }).pipe(Effect.withSpan("Timeline.services"))

/** Stored metric points (metric_points_1m) and spans (span_red_1m) per bucket; empty buckets are zeros. */
export const queryIngestRate = (q: Queryable, tenantId: string, plan: TimelinePlan) =>
  Effect.gen(function* () {
    const rows = yield* q.query<{ t: number; points: number; spans: number }>(
      `SELECT t, sum(points)::float8 AS points, sum(spans)::float8 AS spans FROM (
         SELECT ${bucketExpr("bucket")} AS t, sum(count) AS points, 0 AS spans FROM metric_points_1m WHERE ${RANGE} GROUP BY 1
         UNION ALL
         SELECT ${bucketExpr("bucket")}, 0, sum(count) FROM span_red_1m WHERE ${RANGE} GROUP BY 1
       ) u GROUP BY t`,
      [tenantId, plan.fromMs, plan.toMs, plan.bucketSeconds]
    )
    const byTime = new Map(rows.map((r) => [Math.round(Number(r.t)), r]))
    return {
      from: iso(plan.fromMs),
      to: iso(plan.toMs),
      bucketSeconds: plan.bucketSeconds,
      points: plan.buckets.map((t) => ({ time: iso(t), metricPoints: Number(byTime.get(t)?.points ?? 0), spans: Number(byTime.get(t)?.spans ?? 0) }))
    } satisfies IngestRateView
  }).pipe(Effect.withSpan("Timeline.ingest"))
