import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, ParseResult, Schema, TestClock } from "effect"
import fc from "fast-check"
import { LE_BOUNDS, mergeHistograms, quantileFromHistogram } from "../../src/domain/histogram.ts"
import { histogramOf } from "../support/histogram.ts"
import { durationSeconds, SeriesParams, timeMs } from "../../src/domain/queryParams.ts"
import { formatDuration } from "../../src/query/params.ts"
import { decodeCursor, encodeCursor } from "../../src/query/search.ts"
import { planSeries } from "../../src/query/series.ts"
import type { SeriesRequest } from "../../src/query/series.ts"

const H = 3_600_000
const req = (over: Partial<SeriesRequest> = {}): SeriesRequest => ({
  name: "m", fromMs: 10 * H + 123, toMs: 16 * H - 77, bucket: { _tag: "auto" }, agg: "avg", groupBy: null, service: null, source: "auto", ...over
})
const plan = (over: Partial<SeriesRequest>) => Either.getOrThrowWith(planSeries(req(over)), (e) => new Error(e))
const size = (seconds: number) => ({ _tag: "size" as const, seconds })

describe("series plan", () => {
  it("reads the hourly aggregate for multiples of 1h, the minutely one for multiples of 1m, raw below", () => {
    expect(plan({ bucket: size(3600) }).source).toBe("metric_points_1h")
    expect(plan({ bucket: size(86_400) }).source).toBe("metric_points_1h")
    expect(plan({ bucket: size(60) }).source).toBe("metric_points_1m")
    expect(plan({ bucket: size(300) }).source).toBe("metric_points_1m")
    expect(plan({ bucket: size(5400) }).source).toBe("metric_points_1m")
    expect(plan({ bucket: size(10) }).source).toBe("metric_points")
    expect(plan({ bucket: size(90) }).source).toBe("metric_points")
    expect(plan({ bucket: { _tag: "raw" } })).toMatchObject({ source: "metric_points", bucketSeconds: null })
    expect(plan({ bucket: size(3600), source: "raw" }).source).toBe("metric_points")
  })

  it("widens the range to whole buckets", () => {
    expect(plan({ bucket: size(3600) })).toMatchObject({ fromMs: 10 * H, toMs: 16 * H })
    expect(plan({ bucket: size(300) })).toMatchObject({ fromMs: 10 * H, toMs: 16 * H })
  })

  it("chooses the auto bucket by range", () => {
    expect(plan({ fromMs: 0, toMs: H }).bucketSeconds).toBe(10)
    expect(plan({ fromMs: 0, toMs: 6 * H }).bucketSeconds).toBe(60)
    expect(plan({ fromMs: 0, toMs: 24 * H }).bucketSeconds).toBe(300)
    expect(plan({ fromMs: 0, toMs: 7 * 24 * H })).toMatchObject({ bucketSeconds: 3600, source: "metric_points_1h" })
  })

  it("keeps the auto bucket of a range read from the clock a few milliseconds long (from=now-1h, to defaulting to now)", () => {
    expect(plan({ fromMs: 0, toMs: H + 3 }).bucketSeconds).toBe(10)
    expect(plan({ fromMs: 0, toMs: 6 * H + 40 }).bucketSeconds).toBe(60)
    // Well past the target: the next bucket up.
    expect(plan({ fromMs: 0, toMs: 1.1 * H }).bucketSeconds).toBe(60)
  })

  it("serves p95 only where a true percentile exists, and says why not with the 1h aggregate", () => {
    expect(plan({ agg: "p95", bucket: size(60), groupBy: "service" }).source).toBe("metric_points_1m")
    expect(plan({ agg: "p95", bucket: size(60), service: "api" }).source).toBe("metric_points_1m")
    expect(plan({ agg: "p95", bucket: size(60) }).source).toBe("metric_points")
    expect(plan({ agg: "p95", bucket: size(10) }).source).toBe("metric_points")
    expect(plan({ agg: "p95", bucket: size(3600), source: "raw" }).source).toBe("metric_points")
    expect(planSeries(req({ agg: "p95", bucket: size(3600) }))).toEqual(Either.left(expect.stringContaining("hourly aggregate keeps no percentile")))
    expect(Either.isLeft(planSeries(req({ agg: "p95", bucket: size(300) })))).toBe(true)
  })

  it("refuses more than 10000 buckets", () => {
    expect(Either.isLeft(planSeries(req({ fromMs: 0, toMs: 30 * 24 * H, bucket: size(10) })))).toBe(true)
  })
})

describe("parameters", () => {
  it("parses durations and times", () => {
    expect([durationSeconds("10s"), durationSeconds("5m"), durationSeconds("1h"), durationSeconds("1d"), durationSeconds("0m"), durationSeconds("5x")])
      .toEqual([10, 300, 3600, 86_400, undefined, undefined])
    expect([formatDuration(300), formatDuration(7200), formatDuration(10), formatDuration(604_800)]).toEqual(["5m", "2h", "10s", "1w"])
    const now = 1_000_000_000
    expect(timeMs("now-15m", now)).toBe(now - 900_000)
    expect(timeMs("1700000000000", now)).toBe(1_700_000_000_000)
    expect(timeMs("2024-01-02T03:04:05Z", now)).toBe(Date.parse("2024-01-02T03:04:05Z"))
    expect(timeMs("yesterday", now)).toContain("not an ISO-8601 time")
  })

  it.effect("decodes a query string with its defaults at the clock's now, each refusal naming its parameter", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(10 * H)
      const decode = (q: Record<string, string>) => Schema.decodeUnknown(SeriesParams)(q)
      expect(yield* decode({ name: "m", from: "now-15m", bucket: "5m", agg: "p95" }))
        .toEqual({ name: "m", fromMs: 10 * H - 900_000, toMs: 10 * H, bucket: 300, agg: "p95" })
      expect(yield* decode({ name: "m", to: String(2 * H), bucket: "", groupBy: "service" })).toEqual({ name: "m", fromMs: H, toMs: 2 * H, groupBy: "service" })
      const refusal = (q: Record<string, string>) =>
        Effect.flip(decode(q)).pipe(Effect.map((e) => ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => `${i.path.join(".")}: ${i.message}`)))
      expect(yield* refusal({ from: "now" })).toEqual(["name: is required"])
      expect(yield* refusal({ name: "m", agg: "median" })).toEqual([`agg: "median" is not one of avg, min, max, sum, count, p95`])
      expect(yield* refusal({ name: "m", bucket: "7x" })).toEqual([`bucket: "7x" is not auto, raw or a duration such as 10s, 1m, 5m, 1h`])
      expect(yield* refusal({ name: "m", from: "now", to: "now-1h" })).toEqual(["from: must be before to"])
      expect(yield* refusal({ name: "m", from: "later" })).toEqual([`from: "later" is not an ISO-8601 time, epoch milliseconds or now-<duration>`])
    }))

  it("round-trips cursors and refuses foreign ones", () => {
    fc.assert(fc.property(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }), fc.integer({ min: 0, max: 999 }), fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{16}$/), (d, us, id, span) => {
      const c = { startTime: d.toISOString().replace("Z", `${String(us).padStart(3, "0")}Z`), traceId: id, spanId: span }
      expect(decodeCursor(encodeCursor(c))).toEqual(Option.some(c))
    }))
    expect(Option.isNone(decodeCursor("bm9wZQ"))).toBe(true)
    expect(Option.isNone(decodeCursor("!!!"))).toBe(true)
  })
})

describe("quantile from le buckets", () => {
  const durations = fc.array(fc.double({ min: 0.01, max: 40_000, noNaN: true }), { minLength: 1, maxLength: 200 })
  const edges = (x: number) => {
    const i = LE_BOUNDS.findIndex((b) => x <= b)
    return i === -1 ? [LE_BOUNDS[LE_BOUNDS.length - 1] ?? 0, Number.POSITIVE_INFINITY] : [i === 0 ? 0 : LE_BOUNDS[i - 1] ?? 0, LE_BOUNDS[i] ?? 0]
  }

  it("lies in the observed range and in the bucket of the true (nearest-rank) quantile", () => {
    fc.assert(fc.property(durations, fc.double({ min: 0.01, max: 1, noNaN: true }), (ds, q) => {
      const v = quantileFromHistogram(histogramOf(ds), q) ?? Number.NaN
      const sorted = [...ds].sort((a, b) => a - b)
      const truth = sorted[Math.max(0, Math.ceil(q * ds.length) - 1)] ?? 0
      const [lo, hi] = edges(truth)
      expect(v).toBeGreaterThanOrEqual(Math.min(...ds) - 1e-9)
      expect(v).toBeLessThanOrEqual(Math.max(...ds) + 1e-9)
      expect(v).toBeGreaterThanOrEqual((lo ?? 0) - 1e-9)
      expect(v).toBeLessThanOrEqual((hi ?? 0) + 1e-9)
    }), { numRuns: 500 })
  })

  it("merges histograms of disjoint samples into the histogram of their union", () => {
    fc.assert(fc.property(durations, durations, (a, b) => {
      expect(mergeHistograms([histogramOf(a), histogramOf(b)])).toEqual(histogramOf([...a, ...b]))
    }))
  })

  it("interpolates linearly inside a bucket", () => {
    const ds = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(quantileFromHistogram(histogramOf(ds), 0.95)).toBe(95)
    expect(quantileFromHistogram(histogramOf([40, 40, 40]), 0.95)).toBe(40)
    expect(quantileFromHistogram(histogramOf([]), 0.95)).toBeNull()
  })
})
