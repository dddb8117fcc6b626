import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import { LE_COLUMNS, mergeHistograms, quantileFromHistogram } from "../domain/histogram.ts"
import type { DurationHistogram } from "../domain/histogram.ts"

export interface RedStats {
  readonly requests: number
  readonly errors: number
  /** Requests per second over the (minute-aligned) range. */
  readonly ratePerSecond: number
  readonly errorRate: number
  readonly durationAvgMs: number | null
  readonly durationMinMs: number | null
  readonly durationMaxMs: number | null
  /** Interpolated from the cumulative le_* buckets (see histogram.ts), not an exact percentile. */
  readonly durationP95Ms: number | null
}

export interface OperationRed extends RedStats { readonly operation: string }
export interface ServiceRed extends RedStats { readonly service: string; readonly operations: ReadonlyArray<OperationRed> }

interface Acc { readonly hist: DurationHistogram; readonly errors: number; readonly durationSum: number }

const statsOf = (a: Acc, seconds: number): RedStats => {
  const n = a.hist.count
  return {
    requests: n,
    errors: a.errors,
    ratePerSecond: n / seconds,
    errorRate: n > 0 ? a.errors / n : 0,
    durationAvgMs: n > 0 ? a.durationSum / n : null,
    durationMinMs: n > 0 ? a.hist.min : null,
    durationMaxMs: n > 0 ? a.hist.max : null,
    durationP95Ms: quantileFromHistogram(a.hist, 0.95)
  }
}

const merge = (as: ReadonlyArray<Acc>): Acc => ({
  hist: mergeHistograms(as.map((a) => a.hist)),
  errors: as.reduce((s, a) => s + a.errors, 0),
  durationSum: as.reduce((s, a) => s + a.durationSum, 0)
})

type RedRow = { service_name: string; operation: string; count: number; errors: number; dsum: number; dmin: number; dmax: number; le: Array<number> }

/** The range widened to whole minutes, the grain of span_red_1m. */
export const minuteRange = (fromMs: number, toMs: number) => ({
  fromMs: Math.floor(fromMs / 60_000) * 60_000,
  toMs: Math.ceil(toMs / 60_000) * 60_000
})

/** Span histograms per (service, operation) over the range, straight from span_red_1m. */
export const redRows = (q: Queryable, tenantId: string, fromMs: number, toMs: number, filter?: { service: string; operation: string }) =>
  q.query<RedRow>(
    `SELECT service_name, operation, sum(count)::float8 AS count, sum(errors)::float8 AS errors, sum(duration_sum)::float8 AS dsum,
            min(duration_min)::float8 AS dmin, max(duration_max)::float8 AS dmax,
            ARRAY[${LE_COLUMNS.map((c) => `sum(${c})::float8`).join(", ")}] AS le
     FROM span_red_1m
     WHERE tenant_id = $1 AND bucket >= to_timestamp($2 / 1000.0) AND bucket < to_timestamp($3 / 1000.0)
       ${filter === undefined ? "" : "AND service_name = $4 AND operation = $5"}
     GROUP BY service_name, operation ORDER BY service_name, operation`,
    filter === undefined ? [tenantId, fromMs, toMs] : [tenantId, fromMs, toMs, filter.service, filter.operation]
  ).pipe(
    Effect.map((rows) => rows.map((r) => ({
      service: r.service_name,
      operation: r.operation,
      acc: { hist: { count: Number(r.count), cumulative: r.le.map(Number), min: Number(r.dmin), max: Number(r.dmax) }, errors: Number(r.errors), durationSum: Number(r.dsum) }
    })))
  )

/** RED per service (all its operations merged) and per operation. */
export const queryServices = (q: Queryable, tenantId: string, fromMs: number, toMs: number) =>
  Effect.gen(function* () {
    const range = minuteRange(fromMs, toMs)
    const seconds = (range.toMs - range.fromMs) / 1000
    const rows = yield* redRows(q, tenantId, range.fromMs, range.toMs)
    const byService = new Map<string, Array<(typeof rows)[number]>>()
    for (const r of rows) {
      const list = byService.get(r.service) ?? []
      if (list.length === 0) byService.set(r.service, list)
      list.push(r)
    }
    const services: Array<ServiceRed> = [...byService].map(([service, ops]) => ({
      service,
      ...statsOf(merge(ops.map((o) => o.acc)), seconds),
      operations: ops.map((o) => ({ operation: o.operation, ...statsOf(o.acc, seconds) }))
    }))
    return { from: new Date(range.fromMs).toISOString(), to: new Date(range.toMs).toISOString(), source: "span_red_1m" as const, services }
  }).pipe(Effect.withSpan("Services.query"))
