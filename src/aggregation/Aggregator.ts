import { Clock, Deferred, Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import { fastDecoder } from "../domain/fastDecode.ts"
import { seriesKeyOf } from "../domain/pipeline.ts"
import type { AggregateJob } from "../domain/pipeline.ts"
import { closeCutoff, mergeAggs, watermark, WindowAggSchema } from "./window.ts"
import type { WindowAgg } from "./window.ts"
import { toRow, WindowRows } from "./windowRows.ts"
import type { WindowRow } from "./windowRows.ts"
import { WindowStore } from "./WindowStore.ts"
import type { Compaction } from "./WindowStore.ts"

// What the aggregate stage does with a job and with a tenant's due windows, over the window state
// (WindowStore) and the stored windows (WindowRows): the stage (AggregateStage.ts) is its worker and
// sweep; tests run it over both services' Test layers.

/**
 * JSON written by this service, decoded through the fast path of the stage jobs (src/domain/fastDecode.ts),
 * the schema's own decoder only for what it cannot vouch for: a window's partials are decoded at its close,
 * one per batch that touched it, and Schema's decoder of a sketch's buckets cost ~12 µs per GenAI span
 * end to end (its derived series' windows: bench --profile, genai scenario).
 */
const jsonDecoder = <A, I>(schema: Schema.Schema<A, I>) => {
  const fast = fastDecoder(schema)
  const slow = Schema.decodeUnknownSync(schema)
  return (json: string): A => {
    const u: unknown = JSON.parse(json)
    return fast?.(u) ?? slow(u)
  }
}
const decodeAgg = jsonDecoder(WindowAggSchema)
const decodeMeta = jsonDecoder(Schema.Struct({
  metricName: Schema.String, serviceName: Schema.String, operation: Schema.String, sizeMs: Schema.Number
}))

/** How long an aggregate job's close pass waits for another pass of its tenant to finish. */
const JOB_CLOSE_LOCK_WAIT_MS = 500

export interface AggregatorDeps<E1, E2> {
  /** The tenant's window settings. */
  readonly settingsOf: (tenantId: string) => Effect.Effect<{ readonly allowedLatenessSeconds: number; readonly idleTimeoutSeconds: number }, E1>
  /** Tells detection that the tenant has newly closed windows; `jobId` makes a repeated close pass harmless. */
  readonly detect: (tenantId: string, jobId: string) => Effect.Effect<unknown, E2>
  /** Late points counted (self metrics). */
  readonly onLate: (points: number) => void
}

export const makeAggregator = <E1, E2>(deps: AggregatorDeps<E1, E2>) =>
  Effect.gen(function* () {
    const windows = yield* WindowStore
    const stored = yield* WindowRows
    const merged = (partials: ReadonlyArray<string>) => mergeAggs(partials.map(decodeAgg))

    /**
     * Closes every window the watermark (or, for a quiet tenant, the wall clock) has passed, but none a
     * batch accepted and not yet in may still bring points to: windows ending at or before the earliest
     * held event time only (src/aggregation/holds.ts; a hold lasts at most MPLP_WINDOW_HOLD_SECONDS).
     */
    const closePass = (tenantId: string, waitForLockMs = 0, onStart?: () => void) =>
      windows.withTenantLock(tenantId, Effect.gen(function* () {
        onStart?.()
        const settings = yield* deps.settingsOf(tenantId)
        const nowMs = yield* Clock.currentTimeMillis
        const { maxEventTimeMs, heldFromMs } = yield* windows.closeInputs(tenantId, nowMs)
        const latenessMs = settings.allowedLatenessSeconds * 1000
        const cutoff = Math.min(heldFromMs, closeCutoff(maxEventTimeMs, nowMs, latenessMs, settings.idleTimeoutSeconds * 1000))
        // What the watermark closed marks later points of never-opened windows late (WindowStore's ADD);
        // what only the wall clock closed does not (a quiet tenant's history sent in order is not late).
        const due = yield* windows.closeThrough(tenantId, cutoff, Math.min(heldFromMs, watermark(maxEventTimeMs, latenessMs)))
        if (due.length === 0) return yield* windows.forgetTenantIfIdle(tenantId)
        const rows: Array<WindowRow> = []
        const compactions: Array<Compaction> = []
        const closed = yield* windows.closeMany(tenantId, due)
        for (const [i, w] of due.entries()) {
          const { partials, names, meta, rev } = closed[i]!
          if (meta === undefined || partials.length === 0) continue
          const agg = merged(partials)
          rows.push(toRow(decodeMeta(meta), w.seriesKey, w.windowStartMs, agg, 0))
          if (names.length > 1) compactions.push({ seriesKey: w.seriesKey, windowStartMs: w.windowStartMs, merged: agg, names, rev })
        }
        yield* stored.upsert(tenantId, rows)
        // After the upsert: a crash before it closes the same windows again, from the same partials.
        yield* windows.compact(tenantId, compactions)
        if (rows.length > 0) {
          // The windows are in metric_windows now; the detect stage reads them from there, in order.
          const id = createHash("sha256").update(due.map((d) => d.member).join("\n")).digest("hex").slice(0, 32)
          yield* deps.detect(tenantId, `${tenantId}.close-${id}`)
        }
        // Only now: a crash before this line closes the same windows again, idempotently.
        yield* windows.forgetClosed(tenantId, due.map((d) => d.member))
      }), waitForLockMs).pipe(Effect.withSpan("Aggregator.closePass", { attributes: { tenantId } }))

    /**
     * A job's close pass, after the one running for its tenant: the jobs of this process that ask while an
     * earlier job's pass still waits for the lock join that pass (their partials are in before it reads
     * its inputs: it leaves `queued` as it starts), instead of each polling the lock and running a pass of
     * its own behind it. Should the shared pass fail, a joined job runs its own.
     */
    const queued = new Map<string, Deferred.Deferred<unknown, unknown>>()
    const jobClosePass = (tenantId: string) =>
      Effect.suspend(() => {
        const joined = queued.get(tenantId)
        if (joined !== undefined) return Deferred.await(joined).pipe(Effect.catchAllCause(() => closePass(tenantId, JOB_CLOSE_LOCK_WAIT_MS)), Effect.asVoid)
        return Effect.gen(function* () {
          const pass = yield* Deferred.make<unknown, unknown>()
          queued.set(tenantId, pass)
          const leave = () => void (queued.get(tenantId) === pass && queued.delete(tenantId))
          yield* closePass(tenantId, JOB_CLOSE_LOCK_WAIT_MS, leave).pipe(
            Effect.onExit((exit) => Effect.zipRight(Effect.sync(leave), Deferred.done(pass, exit)))
          )
        })
      })

    /**
     * One aggregate job: its partials into their windows (late ones correct the stored rows), its batch's
     * hold released, then a close pass.
     */
    const process = (job: AggregateJob) =>
      Effect.gen(function* () {
        const partials = job.partials.map((p) => ({
          seriesKey: seriesKeyOf(p),
          windowStartMs: p.windowStartMs,
          windowEndMs: p.windowStartMs + job.windowSizeMs,
          agg: p.agg,
          meta: { metricName: p.metricName, serviceName: p.serviceName, operation: p.operation, sizeMs: job.windowSizeMs }
        }))
        // With them, in the same round trip: the batch's hold released, the watermark advanced.
        const results = yield* windows.addPartials(job.tenantId, job.sourceJobId, partials, job.maxEventTimeMs)
        // Late points: their window was closed already (recompute it from its partials and correct the
        // stored row), or a close pass had passed it before it opened, or its state expired after close
        // (the hash is "additive": merge the partial into the stored row, or store a new row outside
        // detection, whose baselines move forward in event time only). Either way they count as late.
        const additive: Array<WindowRow> = []
        const recompute: Array<(typeof partials)[number]> = []
        for (let i = 0; i < partials.length; i++) {
          const p = partials[i]
          const r = results[i]
          if (p === undefined || r === undefined || !r.added || !r.closed) continue
          if (r.additive) additive.push(toRow(p.meta, p.seriesKey, p.windowStartMs, p.agg, p.agg.count, true))
          else recompute.push(p)
        }
        // The closed windows' partials read in one round trip. Each recomputed window is compacted
        // again after its row is stored: the next late batch reads its merge and its own partial, not
        // every late partial since the close (a window late batch after late batch cost quadratic time).
        const late: Array<WindowRow> = []
        const compactions: Array<Compaction> = []
        const read = yield* windows.readMany(job.tenantId, recompute)
        for (let i = 0; i < recompute.length; i++) {
          const p = recompute[i]!
          const { partials: all, names, meta, rev } = read[i]!
          if (meta === undefined) continue
          const agg = merged(all)
          late.push(toRow(decodeMeta(meta), p.seriesKey, p.windowStartMs, agg, p.agg.count))
          if (all.length > 1 && names.length > 0) compactions.push({ seriesKey: p.seriesKey, windowStartMs: p.windowStartMs, merged: agg, names, rev })
        }
        if (late.length > 0 || additive.length > 0) {
          yield* stored.upsert(job.tenantId, late)
          yield* stored.merge(job.tenantId, additive)
          deps.onLate([...late, ...additive].reduce((n, w) => n + w.lateCount, 0))
          // After the upsert, as the close pass's: a crash before it recomputes from the same partials.
          yield* windows.compact(job.tenantId, compactions)
        }
        // A pass already running for the tenant (the sweep's, another job's) may have read its inputs before
        // this job's partials and watermark: wait for it and run this one (or join the one already waiting,
        // see jobClosePass), rather than leave the windows this batch made closable to the next sweep (up to
        // a second later, and outside the batch's trace).
        yield* jobClosePass(job.tenantId)
      })

    return { process, closePass } as const
  })
