import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref, TestClock } from "effect"
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
})
