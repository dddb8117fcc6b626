import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import fc from "fast-check"
import {
  add,
  addMany,
  empty,
  fromValues,
  merge,
  quantile,
  quantiles,
  SketchSchema
} from "../../src/aggregation/sketch.ts"

// Sketches are stored as JSON (window partials in Redis, jsonb) and read back through their Schema.
const fromJSON = Schema.decodeUnknownEither(SketchSchema)
const fromText = Schema.decodeUnknownSync(Schema.parseJson(SketchSchema))

const numRuns = 200
const value = fc.double({ min: -1e6, max: 1e6, noNaN: true })
const positive = fc.double({ min: 1e-6, max: 1e6, noNaN: true })
const values = fc.array(value, { maxLength: 200 })
const qs = [0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1]
const exactRank = (sorted: ReadonlyArray<number>, q: number) => sorted[Math.floor(q * (sorted.length - 1))] ?? Number.NaN

describe("sketch", () => {
  it("empty sketch has no quantiles", () => {
    expect(quantile(empty(), 0.5)).toBeNaN()
    expect(empty().count).toBe(0)
  })

  it("handles zero, negative and positive values", () => {
    const s = fromValues([-100, -1, 0, 0, 1, 100])
    expect(s.count).toBe(6)
    expect(s.zeroCount).toBe(2)
    expect(quantile(s, 0)).toBe(-100)
    expect(quantile(s, 1)).toBe(100)
    expect(quantile(s, 0.4)).toBe(0)
    expect(quantile(s, 0.2)).toBeCloseTo(-1, 1)
  })

  it("rejects q outside [0, 1]", () => {
    const s = fromValues([1, 2, 3])
    expect(quantile(s, -0.1)).toBeNaN()
    expect(quantile(s, 1.5)).toBeNaN()
    expect(quantile(s, Number.NaN)).toBeNaN()
  })

  it("add does not mutate its input and skips non-finite values", () => {
    const s = fromValues([1, 2])
    const before = JSON.stringify(s)
    const t = add(add(s, Number.NaN), 3)
    expect(JSON.stringify(s)).toBe(before)
    expect(t.count).toBe(3)
  })

  it("keeps at most maxBuckets buckets per sign, folding the smallest magnitudes", () => {
    const xs = Array.from({ length: 100 }, (_, i) => Math.pow(2, i - 50))
    const s = addMany(empty(0.01, 16), xs)
    expect(Object.keys(s.pos).length).toBeLessThanOrEqual(16)
    expect(s.count).toBe(100)
    expect(quantile(s, 0.99)).toBeGreaterThan(Math.pow(2, 48) * 0.98)
  })

  it("round-trips through JSON and rejects corrupt values with a typed failure", () => {
    const s = fromValues([-3, 0, 1.5, 2e5])
    expect(fromJSON(JSON.parse(JSON.stringify(s)))).toEqual(Either.right(s))
    expect(fromText(JSON.stringify(s))).toEqual(s)
    expect(Either.isLeft(fromJSON({ ...s, count: 99 }))).toBe(true)
    expect(Either.isLeft(fromJSON({ ...s, pos: { abc: 1 } }))).toBe(true)
    expect(() => fromText("{not json")).toThrow()
    expect(Either.isLeft(fromJSON({ ...s, alpha: 2 }))).toBe(true)
  })

  it("property: count, min and max are exact and JSON round-trips", () => {
    fc.assert(
      fc.property(values, (xs) => {
        const s = fromValues(xs)
        expect(fromText(JSON.stringify(s))).toEqual(s)
        expect(s.count).toBe(xs.length)
        if (xs.length > 0) {
          // == rather than Object.is: the sketch stores -0 as 0
          expect(s.min === Math.min(...xs)).toBe(true)
          expect(s.max === Math.max(...xs)).toBe(true)
        }
      }),
      { numRuns }
    )
  })

  it("property: merge is commutative and associative", () => {
    fc.assert(
      fc.property(values, values, values, (xs, ys, zs) => {
        const [a, b, c] = [fromValues(xs), fromValues(ys), fromValues(zs)]
        expect(merge(a, b)).toEqual(merge(b, a))
        const left = merge(merge(a, b), c)
        const right = merge(a, merge(b, c))
        expect(left).toEqual(right)
        expect(quantiles(left, qs)).toEqual(quantiles(right, qs))
      }),
      { numRuns }
    )
  })

  it("property: merging the sketches of a split equals the sketch of the whole", () => {
    fc.assert(
      fc.property(values, fc.nat(), (xs, cut) => {
        const at = xs.length === 0 ? 0 : cut % (xs.length + 1)
        expect(merge(fromValues(xs.slice(0, at)), fromValues(xs.slice(at)))).toEqual(fromValues(xs))
      }),
      { numRuns }
    )
  })

  it("property: merge stays associative when buckets collapse", () => {
    const wide = fc.array(fc.double({ min: 1e-12, max: 1e12, noNaN: true }), { maxLength: 80 })
    fc.assert(
      fc.property(wide, wide, wide, (xs, ys, zs) => {
        const mk = (v: ReadonlyArray<number>) => addMany(empty(0.01, 8), v)
        const [a, b, c] = [mk(xs), mk(ys), mk(zs)]
        expect(merge(merge(a, b), c)).toEqual(merge(a, merge(b, c)))
        expect(merge(merge(a, b), c)).toEqual(addMany(empty(0.01, 8), [...xs, ...ys, ...zs]))
      }),
      { numRuns }
    )
  })

  it("property: quantiles of positive values are within relative error alpha of the exact rank value", () => {
    fc.assert(
      fc.property(fc.array(positive, { minLength: 1, maxLength: 300 }), fc.constantFrom(0.005, 0.01, 0.05), (xs, alpha) => {
        const s = fromValues(xs, alpha)
        const sorted = [...xs].sort((a, b) => a - b)
        for (const q of qs) {
          const exact = exactRank(sorted, q)
          expect(Math.abs(quantile(s, q) - exact)).toBeLessThanOrEqual(alpha * exact * (1 + 1e-9))
        }
      }),
      { numRuns }
    )
  })

  it("property: quantiles of mixed-sign values are within relative error alpha", () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 200 }), (xs) => {
        const s = fromValues(xs)
        const sorted = [...xs].sort((a, b) => a - b)
        for (const q of qs) {
          const exact = exactRank(sorted, q)
          expect(Math.abs(quantile(s, q) - exact)).toBeLessThanOrEqual(0.01 * Math.abs(exact) * (1 + 1e-9) + 1e-300)
        }
      }),
      { numRuns }
    )
  })
})
