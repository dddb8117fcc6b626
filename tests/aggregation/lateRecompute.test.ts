import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Ref, TestClock, TestContext } from "effect"
import fc from "fast-check"
import { makeAggregator } from "../../src/aggregation/Aggregator.ts"
import { aggOf, finalize, mergeAggs } from "../../src/aggregation/window.ts"
import { WindowRows, WindowRowsMemory } from "../../src/aggregation/windowRows.ts"
import { WindowStore } from "../../src/aggregation/WindowStore.ts"
import { AppConfig } from "../../src/config/AppConfig.ts"
import type { AggregateJob } from "../../src/domain/pipeline.ts"
import { RedisConnection } from "../../src/queues/Redis.ts"
import { deletePrefix, testEnv } from "../support/harness.ts"

// Late batches into a closed window: each one recomputes the window from the hash, which is compacted
// again after each recompute, so a batch reads the merge and its own partial instead of every late
// partial since the close (quadratic in the late batches). The stored row must stay what recomputing
// from every partial gives (the old path), and a compaction made from a stale read must not be written.

const MIN = 60_000
const T0 = 100 * MIN
const settings = { allowedLatenessSeconds: 10, idleTimeoutSeconds: 60 }

const job = (sourceJobId: string, maxEventTimeMs: number, start: number, values: ReadonlyArray<number>): AggregateJob => ({
  tenantId: "t1", sourceJobId, windowSizeMs: MIN, maxEventTimeMs,
  partials: [{ metricName: "cpu", serviceName: "api", operation: "", windowStartMs: start, agg: aggOf(values) }]
})

const SERIES = "cpu|api|"

const aggregator = makeAggregator({ settingsOf: () => Effect.succeed(settings), detect: () => Effect.void, onLate: () => undefined })
const storedRow = Effect.map(Effect.flatMap(WindowRowsMemory, Ref.get), (m) => [...m.values()].find((r) => r.windowStartMs === T0))

describe("late batches into a closed window", () => {
  it("each late batch reads the window's merge and its own partial; the row is what every partial gives (property)", async () => {
    const value = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true })
    const batch = fc.array(value, { minLength: 1, maxLength: 6 })
    await fc.assert(fc.asyncProperty(batch, fc.array(batch, { minLength: 2, maxLength: 25 }), (first, late) =>
      Effect.runPromise(Effect.gen(function* () {
        yield* TestClock.setTime(T0)
        const a = yield* aggregator
        const windows = yield* WindowStore
        yield* a.process(job("b0", T0 + 5_000, T0, first))
        // Another window's batch moves the watermark past the first window: it closes.
        yield* a.process(job("w", T0 + 3 * MIN, T0 + 2 * MIN, [1]))
        const all = [aggOf(first)]
        for (let i = 0; i < late.length; i++) {
          yield* a.process(job(`late-${i}`, T0 + 3 * MIN, T0, late[i]!))
          all.push(aggOf(late[i]!))
          // The merge (one partial) after each recompute, not one partial per late batch.
          expect((yield* windows.read("t1", SERIES, T0)).partials).toHaveLength(1)
          // The row: what recomputing from every partial gives (the old path), rounding aside.
          const row = (yield* storedRow)!
          const want = finalize(mergeAggs(all))
          expect([row.count, row.min, row.max, row.p50, row.p95, row.p99]).toEqual([want.count, want.min, want.max, want.p50, want.p95, want.p99])
          expect(row.mean).toBeCloseTo(want.mean, 6)
          expect(row.sum).toBeCloseTo(want.sum, 3)
          expect(Math.abs(row.variance - want.variance)).toBeLessThanOrEqual(1e-9 * Math.max(1, want.variance))
        }
        expect((yield* storedRow)!.lateCount).toBe(late.reduce((n, b) => n + b.length, 0))
      }).pipe(Effect.provide(Layer.merge(WindowStore.Test, WindowRows.Test)), Effect.provide(TestContext.TestContext)))
    ), { numRuns: 40 })
  })
})

const env = testEnv()
const redisLayer = WindowStore.Live.pipe(
  Layer.provideMerge(RedisConnection.Live),
  Layer.provideMerge(AppConfig.layer),
  Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ ...env, MPLP_QUEUE_PREFIX: `${env.MPLP_QUEUE_PREFIX}-late` })))))
)

describe("WindowStore (Redis): compaction of a closed window", () => {
  it.scopedLive("a compaction from a read older than the last compaction is not written (two late batches side by side)", () =>
    Effect.gen(function* () {
      yield* Effect.addFinalizer(() => Effect.promise(() => deletePrefix(`${env.MPLP_QUEUE_PREFIX}-late`)))
      const windows = yield* WindowStore
      const meta = { metricName: "cpu", serviceName: "api", operation: "", sizeMs: MIN }
      const add = (batch: string, values: ReadonlyArray<number>) =>
        windows.addPartials("t-late", batch, [{ seriesKey: SERIES, windowStartMs: T0, windowEndMs: T0 + MIN, agg: aggOf(values), meta }], Number.NEGATIVE_INFINITY)
      yield* add("b1", [1])
      yield* add("b2", [2])
      const closed = (yield* windows.closeMany("t-late", [{ seriesKey: SERIES, windowStartMs: T0 }]))[0]!
      expect(closed.rev).toBe("0")
      const decode = (p: string) => JSON.parse(p) as ReturnType<typeof aggOf>
      yield* windows.compact("t-late", [{ seriesKey: SERIES, windowStartMs: T0, merged: mergeAggs(closed.partials.map(decode)), names: closed.names, rev: closed.rev }])
      // Two late batches: A reads the window before B's partial is in it, B after; B compacts first.
      yield* add("p1", [10])
      const readA = yield* windows.read("t-late", SERIES, T0)
      yield* add("p2", [20])
      const readB = yield* windows.read("t-late", SERIES, T0)
      expect(readA.partials).toHaveLength(2)
      expect(readB.partials).toHaveLength(3)
      const compactFrom = (r: typeof readA) => windows.compact("t-late", [{ seriesKey: SERIES, windowStartMs: T0, merged: mergeAggs(r.partials.map(decode)), names: r.names, rev: r.rev }])
      yield* compactFrom(readB)
      yield* compactFrom(readA)
      // A's merge (without p2) was not written over B's: the window still holds all four points.
      const after = yield* windows.read("t-late", SERIES, T0)
      const agg = mergeAggs(after.partials.map(decode))
      expect(agg.count).toBe(4)
      expect(agg.sum).toBe(33)
      expect(after.partials).toHaveLength(1)
      expect(after.rev).toBe("2")
      // A redelivered late batch still finds its field (blank): nothing is added twice.
      const again = yield* add("p1", [10])
      expect(again[0]!.added).toBe(false)
    }).pipe(Effect.provide(redisLayer)))
})
