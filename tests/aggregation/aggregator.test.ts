import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Layer, Ref, TestClock } from "effect"
import { makeAggregator } from "../../src/aggregation/Aggregator.ts"
import { aggOf } from "../../src/aggregation/window.ts"
import { WindowRows, WindowRowsMemory } from "../../src/aggregation/windowRows.ts"
import { WindowStore } from "../../src/aggregation/WindowStore.ts"
import type { AggregateJob } from "../../src/domain/pipeline.ts"

// The aggregate stage's logic over the window state's and the stored windows' Test layers: no Redis,
// no database, TestClock for the wall clock that closes a quiet tenant's windows.

const MIN = 60_000
const T0 = 100 * MIN
const settings = { allowedLatenessSeconds: 10, idleTimeoutSeconds: 60 }

const job = (sourceJobId: string, maxEventTimeMs: number, partials: ReadonlyArray<{ start: number; values: ReadonlyArray<number> }>): AggregateJob => ({
  tenantId: "t1", sourceJobId, windowSizeMs: MIN, maxEventTimeMs,
  partials: partials.map((p) => ({ metricName: "cpu", serviceName: "api", operation: "", windowStartMs: p.start, agg: aggOf(p.values) }))
})

const setup = Effect.gen(function* () {
  const detected = yield* Ref.make<ReadonlyArray<string>>([])
  let late = 0
  const aggregator = yield* makeAggregator({
    settingsOf: () => Effect.succeed(settings),
    detect: (_tenantId, jobId) => Ref.update(detected, (ids) => [...ids, jobId]),
    onLate: (n) => void (late += n)
  })
  const rows = Effect.map(Effect.flatMap(WindowRowsMemory, Ref.get), (m) => [...m.values()].map((r) => ({ start: r.windowStartMs, count: r.count, mean: r.mean, late: r.lateCount, skip: r.skipDetection })))
  return { ...aggregator, detected: Ref.get(detected), late: () => late, rows }
})

const layer = Layer.merge(WindowStore.Test, WindowRows.Test)

/** The API's accept of a batch: its hold on the tenant's windows from its earliest event time (src/aggregation/holds.ts). */
const accept = (jobId: string, earliestEventMs: number) =>
  Effect.flatMap(WindowStore, (w) => Effect.flatMap(Clock.currentTimeMillis, (now) => w.hold("t1", jobId, earliestEventMs, now)))

describe("Aggregator (Test layers)", () => {
  it.effect("merges two batches into one window, closes it once the watermark passes, and ignores a redelivered batch", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const a = yield* setup
      yield* a.process(job("b1", T0 + 5_000, [{ start: T0, values: [1, 2] }]))
      yield* a.process(job("b2", T0 + 30_000, [{ start: T0, values: [3] }]))
      yield* a.process(job("b2", T0 + 30_000, [{ start: T0, values: [3] }]))
      expect(yield* a.rows).toEqual([])
      // The watermark (max event time − 10 s lateness) passes the window's end.
      yield* a.process(job("b3", T0 + MIN + 11_000, [{ start: T0 + MIN, values: [10] }]))
      expect(yield* a.rows).toEqual([{ start: T0, count: 3, mean: 2, late: 0, skip: false }])
      expect(yield* a.detected).toHaveLength(1)
    }).pipe(Effect.provide(layer)))

  it.effect("a job whose close pass finds another pass of its tenant running waits for it, then closes what the job made closable", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const a = yield* setup
      const windows = yield* WindowStore
      yield* a.process(job("b1", T0 + 5_000, [{ start: T0, values: [1, 2] }]))
      // Another pass (the sweep's, another job's) holds the tenant's lock while this job's partials go in.
      const release = yield* Deferred.make<void>()
      const running = yield* Effect.fork(windows.withTenantLock("t1", Deferred.await(release)))
      const closing = yield* Effect.fork(a.process(job("b2", T0 + MIN + 11_000, [{ start: T0 + MIN, values: [10] }])))
      yield* TestClock.adjust(20)
      expect(yield* a.rows).toEqual([])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(running)
      yield* TestClock.adjust(20)
      yield* Fiber.join(closing)
      // Skipping, as before, left the window to the next sweep: a second later, outside the batch's trace.
      expect(yield* a.rows).toEqual([{ start: T0, count: 2, mean: 1.5, late: 0, skip: false }])
      expect(yield* a.detected).toHaveLength(1)
    }).pipe(Effect.provide(layer)))

  it.effect("jobs of a tenant whose close passes find another pass running share one pass after it, which closes what each made closable", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      let passes = 0
      const a = yield* makeAggregator({
        settingsOf: () => Effect.sync(() => (passes++, settings)),
        detect: () => Effect.void,
        onLate: () => undefined
      })
      const windows = yield* WindowStore
      const rows = Effect.map(Effect.flatMap(WindowRowsMemory, Ref.get), (m) => [...m.values()].map((r) => ({ start: r.windowStartMs, count: r.count })).sort((x, y) => x.start - y.start))
      yield* a.process(job("b0", T0 + 5_000, [{ start: T0, values: [1] }]))
      const release = yield* Deferred.make<void>()
      const running = yield* Effect.fork(windows.withTenantLock("t1", Deferred.await(release)))
      passes = 0
      // Three jobs while the lock is held, each moving the watermark past its own window.
      const jobs = yield* Effect.forEach([1, 2, 3], (i) => Effect.fork(a.process(job(`b${i}`, T0 + (i + 1) * MIN + 11_000, [{ start: T0 + i * MIN, values: [i] }]))))
      yield* TestClock.adjust(20)
      expect(yield* rows).toEqual([])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(running)
      yield* TestClock.adjust(20)
      yield* Effect.forEach(jobs, Fiber.join)
      expect(yield* rows).toEqual([0, 1, 2, 3].map((i) => ({ start: T0 + i * MIN, count: 1 })))
      // One pass for the three (each job's own, behind the lock: three).
      expect(passes).toBe(1)
      // A job after that pass started gets a pass of its own.
      yield* a.process(job("b4", T0 + 5 * MIN + 11_000, [{ start: T0 + 4 * MIN, values: [4] }]))
      expect(passes).toBe(2)
      expect((yield* rows).map((r) => r.start)).toEqual([0, 1, 2, 3, 4].map((i) => T0 + i * MIN))
    }).pipe(Effect.provide(layer)))

  it.effect("recomputes a closed window from its partials for a late point, and stores a never-opened window outside detection", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const a = yield* setup
      yield* a.process(job("b1", T0 + 5_000, [{ start: T0, values: [1, 3] }]))
      yield* a.process(job("b2", T0 + 3 * MIN, [{ start: T0 + 2 * MIN, values: [5] }]))
      expect(yield* a.rows).toEqual([{ start: T0, count: 2, mean: 2, late: 0, skip: false }])
      yield* a.process(job("b3", T0 + 3 * MIN, [{ start: T0, values: [5] }, { start: T0 - 5 * MIN, values: [7, 9] }]))
      expect(yield* a.rows).toEqual([
        { start: T0, count: 3, mean: 3, late: 1, skip: false },
        { start: T0 - 5 * MIN, count: 2, mean: 8, late: 2, skip: true }
      ])
      expect(a.late()).toBe(3)
    }).pipe(Effect.provide(layer)))

  it.effect("closes a quiet tenant's windows by the wall clock (lateness + idle timeout), not before", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const a = yield* setup
      yield* a.process(job("b1", T0 + 5_000, [{ start: T0, values: [4] }]))
      yield* TestClock.setTime(T0 + MIN + 69_000)
      yield* a.closePass("t1")
      expect(yield* a.rows).toEqual([])
      yield* TestClock.setTime(T0 + MIN + 70_000)
      yield* a.closePass("t1")
      expect(yield* a.rows).toEqual([{ start: T0, count: 1, mean: 4, late: 0, skip: false }])
      expect(yield* a.detected).toHaveLength(1)
    }).pipe(Effect.provide(layer)))

  it.effect("a quiet tenant's history sent in event-time order, each batch in before the next: every window opens, closes and is evaluated, though the wall clock had passed them", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0 + 60 * MIN)
      const a = yield* setup
      for (let i = 0; i < 3; i++) {
        yield* accept(`b${i}`, T0 + i * MIN)
        yield* a.process(job(`b${i}`, T0 + i * MIN + 5_000, [{ start: T0 + i * MIN, values: [i] }]))
      }
      expect(yield* a.rows).toEqual([0, 1, 2].map((i) => ({ start: T0 + i * MIN, count: 1, mean: i, late: 0, skip: false })))
      expect(yield* a.detected).toHaveLength(3)
    }).pipe(Effect.provide(layer)))

  describe("holds: a batch accepted before another is not overtaken by it", () => {
    // B1 (a breach in window W = [T0, T0 + 1 min)) and B2 (past W's end + lateness) are both accepted,
    // and the stage processes B2 first.
    it.effect("W waits for B1: it closes once, after B1, with both batches' partials, on time and evaluated", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(T0 + MIN + 30_000)
        const a = yield* setup
        yield* accept("b1", T0 + 5_000)
        yield* accept("b2", T0 + 50_000)
        yield* a.process(job("b2", T0 + MIN + 20_000, [{ start: T0, values: [1] }, { start: T0 + MIN, values: [2] }]))
        expect(yield* a.rows).toEqual([]) // held by B1, though B2's watermark passed W's end + lateness
        yield* a.process(job("b1", T0 + 5_000, [{ start: T0, values: [95] }]))
        expect(yield* a.rows).toEqual([{ start: T0, count: 2, mean: 48, late: 0, skip: false }])
        expect(yield* a.detected).toHaveLength(1)
        expect(a.late()).toBe(0)
      }).pipe(Effect.provide(layer)))

    it.effect("a window only B1 has points in opens normally after B2 moved the watermark past it (not additive)", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(T0 + MIN + 30_000)
        const a = yield* setup
        yield* accept("b1", T0 + 5_000)
        yield* accept("b2", T0 + MIN + 20_000)
        yield* a.process(job("b2", T0 + MIN + 20_000, [{ start: T0 + MIN, values: [2] }]))
        yield* a.process(job("b1", T0 + 5_000, [{ start: T0, values: [95] }]))
        expect(yield* a.rows).toEqual([{ start: T0, count: 1, mean: 95, late: 0, skip: false }])
        expect(yield* a.detected).toHaveLength(1)
        expect(a.late()).toBe(0)
      }).pipe(Effect.provide(layer)))

    it.effect("a stale hold (accepted more than MPLP_WINDOW_HOLD_SECONDS ago, its batch never aggregated) stops holding", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(T0 + MIN + 30_000)
        const a = yield* setup
        yield* accept("lost", T0 + 1_000) // its aggregate job never comes (dead-lettered, process killed)
        yield* a.process(job("b1", T0 + MIN + 20_000, [{ start: T0, values: [3] }, { start: T0 + MIN, values: [2] }]))
        expect(yield* a.rows).toEqual([])
        yield* TestClock.adjust("59 seconds")
        yield* a.closePass("t1")
        expect(yield* a.rows).toEqual([])
        yield* TestClock.adjust("1 second")
        yield* a.closePass("t1")
        expect(yield* a.rows).toEqual([{ start: T0, count: 1, mean: 3, late: 0, skip: false }])
      }).pipe(Effect.provide(Layer.merge(WindowStore.testWith({ holdSeconds: 60 }), WindowRows.Test))))

    it.effect("a batch accepted after a close pass passed its windows is late as before (recomputed, or additive), its hold no older than what was closed", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(T0 + 3 * MIN)
        const a = yield* setup
        yield* accept("b1", T0 + 5_000)
        yield* a.process(job("b1", T0 + 5_000, [{ start: T0, values: [1, 3] }]))
        yield* accept("b2", T0 + 2 * MIN)
        yield* a.process(job("b2", T0 + 3 * MIN, [{ start: T0 + 2 * MIN, values: [5] }]))
        expect(yield* a.rows).toEqual([{ start: T0, count: 2, mean: 2, late: 0, skip: false }])
        // Closed through T0 + 3 min − 10 s now. B3's events are older: late at its accept already.
        yield* accept("b3", T0 - 5 * MIN)
        // Its hold holds nothing that was not closed: a close pass meanwhile closes what it closed before.
        yield* a.closePass("t1")
        yield* a.process(job("b3", T0 + 3 * MIN, [{ start: T0, values: [5] }, { start: T0 - 5 * MIN, values: [7, 9] }]))
        expect(yield* a.rows).toEqual([
          { start: T0, count: 3, mean: 3, late: 1, skip: false },
          { start: T0 - 5 * MIN, count: 2, mean: 8, late: 2, skip: true }
        ])
        expect(a.late()).toBe(3)
        expect(yield* a.detected).toHaveLength(1)
      }).pipe(Effect.provide(layer)))
  })
})
