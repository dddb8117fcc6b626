import { Duration, Effect, Layer, Schema } from "effect"
import { createHash } from "node:crypto"
import { Db } from "../db/Db.ts"
import { costing, inLane } from "../db/fairGate.ts"
import { NotFound } from "../domain/errors.ts"
import type { Queryable } from "../db/Db.ts"
import { AggregateJob, DetectJob, seriesKeyOf } from "../domain/pipeline.ts"
import type { ClosedWindow, Series } from "../domain/pipeline.ts"
import { makeProducer, runWorker } from "../queues/Queues.ts"
import { sweep } from "../queues/sweep.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { closeCutoff, emptyAgg, finalize, isClosed, mergeAgg, watermark, WindowAggSchema } from "./window.ts"
import type { WindowAgg } from "./window.ts"
import { WindowStore } from "./WindowStore.ts"

interface Meta extends Series {
  readonly sizeMs: number
}

const decodeAgg = Schema.decodeUnknownSync(Schema.parseJson(WindowAggSchema))
const decodeMeta = Schema.decodeUnknownSync(Schema.parseJson(Schema.Struct({
  metricName: Schema.String, serviceName: Schema.String, operation: Schema.String, sizeMs: Schema.Number
})))

interface WindowRow extends ClosedWindow {
  readonly sum: number
  readonly variance: number
  readonly p50: number | null
  readonly p99: number | null
  readonly lateCount: number
  /** A window that was late as a whole: stored, but never evaluated by detection. */
  readonly skipDetection: boolean
}

const toRow = (meta: Meta, seriesKey: string, windowStartMs: number, agg: WindowAgg, lateCount: number, skipDetection = false): WindowRow => {
  const s = finalize(agg)
  const q = (x: number) => (Number.isFinite(x) ? x : null)
  return {
    metricName: meta.metricName, serviceName: meta.serviceName, operation: meta.operation, seriesKey,
    windowStartMs, windowEndMs: windowStartMs + meta.sizeMs,
    count: s.count, sum: s.sum, min: s.min, max: s.max, mean: s.mean, variance: s.variance,
    p50: q(s.p50), p95: q(s.p95), p99: q(s.p99), lateCount, skipDetection
  }
}

/**
 * A corrected window replaces the stored one only when it holds more points: partials only ever
 * accumulate, so the larger count is the newer snapshot, whatever order two writers commit in.
 */
export const upsertWindows = (db: Queryable, tenantId: string, rows: ReadonlyArray<WindowRow>) =>
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
        [
          tenantId, rows.map((r) => r.seriesKey), rows.map((r) => r.metricName), rows.map((r) => r.serviceName), rows.map((r) => r.operation),
          rows.map((r) => r.windowStartMs), rows.map((r) => r.windowEndMs), rows.map((r) => r.count), rows.map((r) => r.sum),
          rows.map((r) => r.min), rows.map((r) => r.max), rows.map((r) => r.mean), rows.map((r) => r.variance),
          rows.map((r) => r.p50), rows.map((r) => r.p95), rows.map((r) => r.p99), rows.map((r) => r.lateCount),
          rows.map((r) => r.skipDetection)
        ]
      ).pipe(costing(rows.length), Effect.asVoid)

/**
 * Merges late partials into stored rows (or stores them as new rows, outside detection): for windows
 * whose Redis state no longer holds their earlier points. Count, sum, min, max, mean and variance
 * combine exactly (Chan et al.); the stored percentiles are kept (a new row takes the partial's).
 */
export const mergeWindows = (db: Queryable, tenantId: string, rows: ReadonlyArray<WindowRow>) =>
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
        [
          tenantId, rows.map((r) => r.seriesKey), rows.map((r) => r.metricName), rows.map((r) => r.serviceName), rows.map((r) => r.operation),
          rows.map((r) => r.windowStartMs), rows.map((r) => r.windowEndMs), rows.map((r) => r.count), rows.map((r) => r.sum),
          rows.map((r) => r.min), rows.map((r) => r.max), rows.map((r) => r.mean), rows.map((r) => r.variance),
          rows.map((r) => r.p50), rows.map((r) => r.p95), rows.map((r) => r.p99), rows.map((r) => r.lateCount)
        ]
      ).pipe(costing(rows.length), Effect.asVoid)

const makeStage = (concurrency: number) =>
  Effect.gen(function* () {
    const db = yield* Db
    const windows = yield* WindowStore
    const store = yield* TenantStore
    const telemetry = yield* Telemetry
    const detect = yield* makeProducer("detect", DetectJob)

    const merged = (partials: ReadonlyArray<string>) => partials.reduce((acc, p) => mergeAgg(acc, decodeAgg(p)), emptyAgg())

    /** Closes every window the watermark (or, for a quiet tenant, the wall clock) has passed. */
    const closePass = (tenantId: string) =>
      windows.withTenantLock(tenantId, Effect.gen(function* () {
        const settings = yield* store.getSettings(tenantId)
        const maxEventTimeMs = yield* windows.watermarkOf(tenantId)
        const cutoff = closeCutoff(maxEventTimeMs, Date.now(), settings.windows.allowedLatenessSeconds * 1000, settings.windows.idleTimeoutSeconds * 1000)
        const due = yield* windows.due(tenantId, cutoff)
        if (due.length === 0) return yield* windows.forgetTenantIfIdle(tenantId)
        const rows: Array<WindowRow> = []
        const compactions: Array<{ seriesKey: string; windowStartMs: number; merged: WindowAgg; names: ReadonlyArray<string> }> = []
        for (const w of due) {
          const { partials, names, meta } = yield* windows.close(tenantId, w.seriesKey, w.windowStartMs)
          if (meta === undefined || partials.length === 0) continue
          const agg = merged(partials)
          rows.push(toRow(decodeMeta(meta), w.seriesKey, w.windowStartMs, agg, 0))
          compactions.push({ seriesKey: w.seriesKey, windowStartMs: w.windowStartMs, merged: agg, names })
        }
        yield* upsertWindows(db, tenantId, rows)
        // After the upsert: a crash before it closes the same windows again, from the same partials.
        yield* windows.compact(tenantId, compactions)
        if (rows.length > 0) {
          // The windows are in metric_windows now; the detect stage reads them from there, in order.
          const id = createHash("sha256").update(due.map((d) => d.member).join("\n")).digest("hex").slice(0, 32)
          yield* detect.add("windows", { tenantId }, { jobId: `${tenantId}.close-${id}` })
        }
        // Only now: a crash before this line closes the same windows again, idempotently.
        yield* windows.forgetClosed(tenantId, due.map((d) => d.member))
      })).pipe(Effect.withSpan("AggregateStage.closePass", { attributes: { tenantId } }))

    const process = (job: AggregateJob) =>
      Effect.gen(function* () {
        const partials = job.partials.map((p) => ({
          seriesKey: seriesKeyOf(p),
          windowStartMs: p.windowStartMs,
          windowEndMs: p.windowStartMs + job.windowSizeMs,
          agg: p.agg,
          meta: { metricName: p.metricName, serviceName: p.serviceName, operation: p.operation, sizeMs: job.windowSizeMs }
        }))
        const settings = yield* store.getSettings(job.tenantId)
        const lateBefore = watermark(yield* windows.watermarkOf(job.tenantId), settings.windows.allowedLatenessSeconds * 1000)
        const results = yield* windows.addPartials(job.tenantId, job.sourceJobId, partials, lateBefore)
        // Late points: their window was closed already (recompute it from its partials and correct the
        // stored row), or the watermark had passed it before it opened, or its state expired after close
        // (the hash is "additive": merge the partial into the stored row, or store a new row outside
        // detection, whose baselines move forward in event time only). Either way they count as late.
        const late: Array<WindowRow> = []
        const additive: Array<WindowRow> = []
        for (let i = 0; i < partials.length; i++) {
          const p = partials[i]
          const r = results[i]
          if (p === undefined || r === undefined || !r.added || !r.closed) continue
          if (r.additive) {
            additive.push(toRow(p.meta, p.seriesKey, p.windowStartMs, p.agg, p.agg.count, true))
            continue
          }
          const { partials: all, meta } = yield* windows.read(job.tenantId, p.seriesKey, p.windowStartMs)
          if (meta === undefined) continue
          late.push(toRow(decodeMeta(meta), p.seriesKey, p.windowStartMs, merged(all), p.agg.count))
        }
        if (late.length > 0 || additive.length > 0) {
          yield* upsertWindows(db, job.tenantId, late)
          yield* mergeWindows(db, job.tenantId, additive)
          telemetry.lateEvents.add([...late, ...additive].reduce((n, w) => n + w.lateCount, 0))
        }
        yield* windows.advanceWatermark(job.tenantId, job.maxEventTimeMs)
        yield* closePass(job.tenantId)
      })

    yield* runWorker({ stage: "aggregate", schema: AggregateJob, concurrency, process: (job) => process(job).pipe(Effect.annotateLogs({ tenantId: job.tenantId })) })

    // A tenant the database does not know (a fresh database on a Redis that kept another's state): its
    // windows can never be stored, so they are dropped, with one warning, instead of failing every second.
    const closeOrDrop = (tenantId: string) =>
      closePass(tenantId).pipe(
        Effect.catchIf((e) => e instanceof NotFound, () =>
          windows.dropTenant(tenantId).pipe(
            Effect.zipRight(Effect.logWarning(`dropped the window state of tenant ${tenantId}: the database has no such tenant`)),
            Effect.annotateLogs({ tenantId })
          )
        )
      )

    // Quiet tenants: nothing advances their watermark, so the wall clock closes their windows.
    yield* sweep("window sweep", Duration.seconds(1), windows.openTenants.pipe(
      Effect.flatMap((tenants) => Effect.forEach(tenants, (t) => closeOrDrop(t).pipe(inLane(t), Effect.catchAllCause((c) => Effect.logWarning("close pass failed", c))), { discard: true }))
    ))
  })

export const AggregateStage = {
  layer: (concurrency: number) => Layer.scopedDiscard(makeStage(concurrency)).pipe(Layer.provide(WindowStore.Live))
}
