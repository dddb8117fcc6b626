import { Context, Effect, Layer, Ref } from "effect"
import { Db } from "../db/Db.ts"
import { costing } from "../db/fairGate.ts"
import type { Queryable } from "../db/Db.ts"
import type { ClosedWindow, Series } from "../domain/pipeline.ts"
import { finalize } from "./window.ts"
import type { WindowAgg } from "./window.ts"

// The aggregate stage's SQL: closed windows into metric_windows. The worker and sweep are in
// AggregateStage.ts, what a batch or a close pass does in Aggregator.ts, the window maths in window.ts.

export interface Meta extends Series {
  readonly sizeMs: number
}

export interface WindowRow extends ClosedWindow {
  readonly sum: number
  readonly variance: number
  readonly p50: number | null
  readonly p99: number | null
  readonly lateCount: number
  /** A window that was late as a whole: stored, but never evaluated by detection. */
  readonly skipDetection: boolean
}

export const toRow = (meta: Meta, seriesKey: string, windowStartMs: number, agg: WindowAgg, lateCount: number, skipDetection = false): WindowRow => {
  const s = finalize(agg)
  const q = (x: number) => (Number.isFinite(x) ? x : null)
  return {
    metricName: meta.metricName, serviceName: meta.serviceName, operation: meta.operation, seriesKey,
    windowStartMs, windowEndMs: windowStartMs + meta.sizeMs,
    count: s.count, sum: s.sum, min: s.min, max: s.max, mean: s.mean, variance: s.variance,
    p50: q(s.p50), p95: q(s.p95), p99: q(s.p99), lateCount, skipDetection
  }
}

/** $1..$17 of both window statements: the tenant, then one array per column of the rows. */
const windowColumns = (tenantId: string, rows: ReadonlyArray<WindowRow>) => [
  tenantId, rows.map((r) => r.seriesKey), rows.map((r) => r.metricName), rows.map((r) => r.serviceName), rows.map((r) => r.operation),
  rows.map((r) => r.windowStartMs), rows.map((r) => r.windowEndMs), rows.map((r) => r.count), rows.map((r) => r.sum),
  rows.map((r) => r.min), rows.map((r) => r.max), rows.map((r) => r.mean), rows.map((r) => r.variance),
  rows.map((r) => r.p50), rows.map((r) => r.p95), rows.map((r) => r.p99), rows.map((r) => r.lateCount)
]

/**
 * A corrected window replaces the stored one only when it holds more points: partials only ever
 * accumulate, so the larger count is the newer snapshot, whatever order two writers commit in.
 */
const upsertWindows = (db: Queryable, tenantId: string, rows: ReadonlyArray<WindowRow>) =>
  rows.length === 0
    ? Effect.void
    : db.query(
        `INSERT INTO metric_windows (tenant_id, series_key, metric_name, service_name, operation, window_start, window_end,
                                     count, sum, min, max, mean, variance, p50, p95, p99, late_count, evaluated_at)
         SELECT $1, k, m, s, o, to_timestamp(ws / 1000.0), to_timestamp(we / 1000.0), c, su, mi, ma, me, va, p50, p95, p99, l,
                CASE WHEN sk THEN now() END
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[], $8::int8[], $9::float8[],
                     $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::float8[], $15::float8[], $16::float8[], $17::int4[],
                     $18::bool[])
              AS u(k, m, s, o, ws, we, c, su, mi, ma, me, va, p50, p95, p99, l, sk)
         ON CONFLICT (tenant_id, series_key, window_start) DO UPDATE SET
           count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max, mean = excluded.mean,
           variance = excluded.variance, p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99,
           late_count = metric_windows.late_count + excluded.late_count,
           revision = metric_windows.revision + 1, closed_at = now()
         WHERE excluded.count > metric_windows.count`,
        [...windowColumns(tenantId, rows), rows.map((r) => r.skipDetection)]
      ).pipe(costing(rows.length), Effect.asVoid)

/**
 * Merges late partials into stored rows (or stores them as new rows, outside detection): for windows
 * whose Redis state no longer holds their earlier points. Count, sum, min, max, mean and variance
 * combine exactly (Chan et al.); the stored percentiles are kept (a new row takes the partial's).
 */
const mergeWindows = (db: Queryable, tenantId: string, rows: ReadonlyArray<WindowRow>) =>
  rows.length === 0
    ? Effect.void
    : db.query(
        `INSERT INTO metric_windows (tenant_id, series_key, metric_name, service_name, operation, window_start, window_end,
                                     count, sum, min, max, mean, variance, p50, p95, p99, late_count, evaluated_at)
         SELECT $1, k, m, s, o, to_timestamp(ws / 1000.0), to_timestamp(we / 1000.0), c, su, mi, ma, me, va, p50, p95, p99, l, now()
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[], $8::int8[], $9::float8[],
                     $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::float8[], $15::float8[], $16::float8[], $17::int4[])
              AS u(k, m, s, o, ws, we, c, su, mi, ma, me, va, p50, p95, p99, l)
         ON CONFLICT (tenant_id, series_key, window_start) DO UPDATE SET
           count = metric_windows.count + excluded.count,
           sum = metric_windows.sum + excluded.sum,
           min = least(metric_windows.min, excluded.min),
           max = greatest(metric_windows.max, excluded.max),
           mean = (metric_windows.mean * metric_windows.count + excluded.mean * excluded.count) / (metric_windows.count + excluded.count),
           variance = (metric_windows.variance * metric_windows.count + excluded.variance * excluded.count
                       + (excluded.mean - metric_windows.mean) ^ 2 * metric_windows.count::float8 * excluded.count::float8
                         / (metric_windows.count + excluded.count)) / (metric_windows.count + excluded.count),
           late_count = metric_windows.late_count + excluded.late_count,
           revision = metric_windows.revision + 1, closed_at = now()`,
        windowColumns(tenantId, rows)
      ).pipe(costing(rows.length), Effect.asVoid)


/** What `merge` does to a stored row, as metric_windows' ON CONFLICT does it (Chan et al.). */
const mergeRow = (a: WindowRow, b: WindowRow): WindowRow => {
  const count = a.count + b.count
  const mean = (a.mean * a.count + b.mean * b.count) / count
  const variance = (a.variance * a.count + b.variance * b.count + (b.mean - a.mean) ** 2 * a.count * b.count / count) / count
  return { ...a, count, sum: a.sum + b.sum, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), mean, variance, lateCount: a.lateCount + b.lateCount }
}

const rowKey = (tenantId: string, r: WindowRow) => `${tenantId}|${r.seriesKey}|${r.windowStartMs}`

/** The stored windows of the in-memory twin, by tenant|series|start. */
export class WindowRowsMemory extends Context.Tag("aggregation/WindowRowsMemory")<WindowRowsMemory, Ref.Ref<ReadonlyMap<string, WindowRow>>>() {}

export class WindowRows extends Context.Tag("aggregation/WindowRows")<WindowRows, {
  /** Stores closed (or recomputed) windows; a stored one is replaced only by one with more points. */
  readonly upsert: (tenantId: string, rows: ReadonlyArray<WindowRow>) => Effect.Effect<void, unknown>
  /** Merges late partials into stored rows, or stores them as new rows outside detection. */
  readonly merge: (tenantId: string, rows: ReadonlyArray<WindowRow>) => Effect.Effect<void, unknown>
}>() {
  static readonly Live = Layer.effect(WindowRows, Effect.map(Db, (db) => ({
    upsert: (tenantId: string, rows: ReadonlyArray<WindowRow>) => upsertWindows(db, tenantId, rows),
    merge: (tenantId: string, rows: ReadonlyArray<WindowRow>) => mergeWindows(db, tenantId, rows)
  })))

  /** An in-memory twin with the same conflict rules; its rows are WindowRowsMemory's. */
  static readonly Test = Layer.effectContext(Effect.gen(function* () {
    const ref = yield* Ref.make<ReadonlyMap<string, WindowRow>>(new Map())
    const write = (tenantId: string, rows: ReadonlyArray<WindowRow>, f: (before: WindowRow | undefined, r: WindowRow) => WindowRow) =>
      Ref.update(ref, (m) => {
        const next = new Map(m)
        for (const r of rows) next.set(rowKey(tenantId, r), f(next.get(rowKey(tenantId, r)), r))
        return next
      })
    return Context.make(WindowRowsMemory, ref).pipe(Context.add(WindowRows, {
      upsert: (tenantId, rows) => write(tenantId, rows, (b, r) => (b === undefined ? r : r.count > b.count ? { ...r, lateCount: b.lateCount + r.lateCount } : b)),
      merge: (tenantId, rows) => write(tenantId, rows, (b, r) => (b === undefined ? r : mergeRow(b, r)))
    }))
  }))
}
