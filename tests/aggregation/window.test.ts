import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import {
  addPoint,
  aggOf,
  closeCutoff,
  emptyAgg,
  finalize,
  foldPoints,
  mergeAgg,
  mergeAggs,
  parseWindowKey,
  variance,
  watermark,
  windowKey,
  windowStart,
  type WindowAgg
} from "../../src/aggregation/window.ts"
import { addMany, DEFAULT_ALPHA, DEFAULT_MAX_BUCKETS, empty } from "../../src/aggregation/sketch.ts"

/** What WindowStore.due closes: the windows ending at or before the cutoff (a watermark or closeCutoff). */
const closes = (windowStartMs: number, sizeMs: number, cutoffMs: number) => windowStartMs + sizeMs <= cutoffMs

/** Two folds combined key by key, as the window state merges the partials of consecutive batches. */
const mergeFolds = (a: ReadonlyMap<string, WindowAgg>, b: ReadonlyMap<string, WindowAgg>) => {
  const out = new Map(a)
  for (const [k, agg] of b) {
    const prev = out.get(k)
    out.set(k, prev ? mergeAgg(prev, agg) : agg)
  }
  return out
}

const numRuns = 200
const size = fc.integer({ min: 1, max: 3_600_000 })
const time = fc.integer({ min: -1e12, max: 1e12 })
const point = (value: fc.Arbitrary<number>) =>
  fc.record({ series: fc.constantFrom("t1|cpu", "t1|mem", "t2|cpu"), timeMs: fc.integer({ min: -50_000, max: 200_000 }), value })
const intPoints = fc.array(point(fc.integer({ min: -1e6, max: 1e6 })), { maxLength: 150 })
const doublePoints = fc.array(point(fc.double({ min: -1e3, max: 1e3, noNaN: true })), { maxLength: 150 })
const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))

const expectSameAgg = (a: WindowAgg, b: WindowAgg) => {
  expect(a.count).toBe(b.count)
  expect(a.min).toBe(b.min)
  expect(a.max).toBe(b.max)
  expect(a.sketch).toEqual(b.sketch)
  expect(near(a.sum, b.sum)).toBe(true)
  expect(near(a.mean, b.mean)).toBe(true)
  expect(near(variance(a), variance(b))).toBe(true)
}

const splitAt = <A>(xs: ReadonlyArray<A>, cut: number): [ReadonlyArray<A>, ReadonlyArray<A>] => {
  const at = xs.length === 0 ? 0 : cut % (xs.length + 1)
  return [xs.slice(0, at), xs.slice(at)]
}

describe("window", () => {
  it("windowStart floors, including negative times", () => {
    expect(windowStart(0, 60_000)).toBe(0)
    expect(windowStart(59_999, 60_000)).toBe(0)
    expect(windowStart(60_000, 60_000)).toBe(60_000)
    expect(windowStart(-1, 60_000)).toBe(-60_000)
    expect(windowStart(-60_000, 60_000)).toBe(-60_000)
    expect(() => windowStart(1, 0)).toThrow(RangeError)
  })

  it("finalize reports moments and sketch quantiles", () => {
    const stats = finalize(aggOf(Array.from({ length: 100 }, (_, i) => i + 1)))
    expect(stats).toMatchObject({ count: 100, sum: 5050, min: 1, max: 100, mean: 50.5 })
    expect(stats.variance).toBeCloseTo(833.25, 9)
    expect(Math.abs(stats.p50 - 50) / 50).toBeLessThanOrEqual(0.01)
    expect(Math.abs(stats.p99 - 99) / 99).toBeLessThanOrEqual(0.01)
    expect(variance(aggOf([5]))).toBe(0)
    expect(finalize(emptyAgg()).p50).toBeNaN()
  })

  it("foldPoints keys by series and window start; series keys may contain '|'", () => {
    const folded = foldPoints(
      [
        { series: "t1|cpu", timeMs: 1_000, value: 10 },
        { series: "t1|cpu", timeMs: 59_000, value: 20 },
        { series: "t1|cpu", timeMs: 61_000, value: 30 },
        { series: "t1|cpu", timeMs: 62_000, value: Number.NaN }
      ],
      60_000
    )
    expect([...folded.keys()]).toEqual(["t1|cpu|0", "t1|cpu|60000"])
    expect(folded.get(windowKey("t1|cpu", 0))?.mean).toBe(15)
    expect(folded.get("t1|cpu|60000")?.count).toBe(1)
    expect(parseWindowKey("t1|cpu|-60000")).toEqual({ series: "t1|cpu", windowStartMs: -60_000 })
  })

  it("watermark, closed, late and idle rules", () => {
    const wm = watermark(125_000, 5_000)
    expect(wm).toBe(120_000)
    expect(closes(60_000, 60_000, wm)).toBe(true)
    expect(closes(120_000, 60_000, wm)).toBe(false)
    // A window closes once its end is at or before the cutoff: the watermark, or for a quiet tenant
    // processing time less lateness and idle timeout, whichever is later.
    expect(closeCutoff(125_000, 130_000, 5_000, 30_000)).toBe(120_000)
    expect(closeCutoff(125_000, 200_000, 5_000, 30_000)).toBe(165_000)
    expect(closes(60_000, 60_000, closeCutoff(125_000, 130_000, 5_000, 30_000))).toBe(true)
    expect(closes(120_000, 60_000, closeCutoff(125_000, 130_000, 5_000, 30_000))).toBe(false)
    expect(closes(120_000, 60_000, closeCutoff(125_000, 200_000, 5_000, 30_000))).toBe(false)
    expect(closes(120_000, 60_000, closeCutoff(125_000, 215_000, 5_000, 30_000))).toBe(true)
  })

  it("property: windowStart(t) <= t < windowStart(t) + size and is a multiple of size", () => {
    fc.assert(
      fc.property(time, size, (t, s) => {
        const w = windowStart(t, s)
        expect(w).toBeLessThanOrEqual(t)
        expect(t).toBeLessThan(w + s)
        expect(Math.abs(w % s)).toBe(0)
        // A window is never closed by an event inside it.
        expect(closes(w, s, watermark(t, 0))).toBe(false)
      }),
      { numRuns }
    )
  })

  it("property: every point lands in exactly one window", () => {
    fc.assert(
      fc.property(intPoints, size, (ps, s) => {
        const folded = foldPoints(ps, s)
        const total = [...folded.values()].reduce((n, a) => n + a.count, 0)
        expect(total).toBe(ps.length)
        for (const p of ps) {
          const hits = [...folded.keys()].filter((k) => {
            const { series, windowStartMs } = parseWindowKey(k)
            return series === p.series && windowStartMs <= p.timeMs && p.timeMs < windowStartMs + s
          })
          expect(hits).toHaveLength(1)
        }
      }),
      { numRuns }
    )
  })

  it("property: folding a split batch and merging equals folding the whole (integers: exact sums)", () => {
    fc.assert(
      fc.property(intPoints, fc.nat(), size, (ps, cut, s) => {
        const [a, b] = splitAt(ps, cut)
        const merged = mergeFolds(foldPoints(a, s), foldPoints(b, s))
        const whole = foldPoints(ps, s)
        expect([...merged.keys()].sort()).toEqual([...whole.keys()].sort())
        for (const [k, agg] of whole) {
          const m = merged.get(k)
          expect(m).toBeDefined()
          if (m) {
            expectSameAgg(m, agg)
            expect(m.sum).toBe(agg.sum)
          }
        }
      }),
      { numRuns }
    )
  })

  it("property: split/merge of doubles agrees within 1e-9 relative", () => {
    fc.assert(
      fc.property(doublePoints, fc.nat(), (ps, cut) => {
        const [a, b] = splitAt(ps, cut)
        const merged = mergeFolds(foldPoints(a, 60_000), foldPoints(b, 60_000))
        for (const [k, agg] of foldPoints(ps, 60_000)) {
          const m = merged.get(k)
          if (m) expectSameAgg(m, agg)
          else expect.unreachable(`missing ${k}`)
        }
      }),
      { numRuns }
    )
  })

  it("property: mergeAgg is associative and addPoint agrees with aggOf", () => {
    const vs = fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { maxLength: 40 })
    fc.assert(
      fc.property(vs, vs, vs, (xs, ys, zs) => {
        const [a, b, c] = [aggOf(xs), aggOf(ys), aggOf(zs)]
        expectSameAgg(mergeAgg(mergeAgg(a, b), c), mergeAgg(a, mergeAgg(b, c)))
        expectSameAgg(mergeAgg(a, b), mergeAgg(b, a))
        expectSameAgg(xs.reduce(addPoint, emptyAgg()), a)
      }),
      { numRuns }
    )
  })

  it("property: variance matches the two-pass formula", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 2, maxLength: 100 }), (xs) => {
        const mean = xs.reduce((s, x) => s + x, 0) / xs.length
        const twoPass = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length
        expect(Math.abs(variance(aggOf(xs)) - twoPass)).toBeLessThanOrEqual(1e-9 * Math.max(1, twoPass))
      }),
      { numRuns }
    )
  })
})

describe("mergeAggs", () => {
  it("equals the pairwise fold, field for field, also when the sketches collapse", () => {
    const values = fc.array(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(0)), { maxLength: 12 })
    // maxBuckets 4: merges that collapse (the fall back), and the default (one pass)
    const agg = fc.tuple(values, fc.constantFrom(4, DEFAULT_MAX_BUCKETS)).map(([xs, maxBuckets]) => {
      const a = aggOf(xs)
      return { ...a, sketch: addMany(empty(DEFAULT_ALPHA, maxBuckets), xs) }
    })
    fc.assert(fc.property(fc.array(agg, { maxLength: 8 }), (aggs) => {
      expect(mergeAggs(aggs)).toEqual(aggs.reduce(mergeAgg, emptyAgg()))
    }))
  })
})
