import { Schema } from "effect"

// The encoded forms of a window's running aggregate and of its quantile sketch: they travel in the
// aggregate stage's jobs (src/domain/pipeline.ts), so they are domain; the arithmetic on them is in
// src/aggregation/sketch.ts and window.ts.

const BucketCounts = Schema.Record({
  key: Schema.String.pipe(Schema.pattern(/^-?(0|[1-9]\d*)$/)),
  value: Schema.Int.pipe(Schema.positive())
})

const total = (store: Readonly<Record<string, number>>): number =>
  Object.values(store).reduce((acc, c) => acc + c, 0)

export const SketchSchema = Schema.Struct({
  alpha: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)),
  maxBuckets: Schema.Int.pipe(Schema.positive()),
  count: Schema.NonNegativeInt,
  zeroCount: Schema.NonNegativeInt,
  min: Schema.Finite,
  max: Schema.Finite,
  pos: BucketCounts,
  neg: BucketCounts
}).pipe(
  Schema.filter((s) => {
    if (s.count !== s.zeroCount + total(s.pos) + total(s.neg)) return "count does not equal the sum of bucket counts"
    if (s.count > 0 && s.min > s.max) return "min is greater than max"
    return true
  }, { identifier: "Sketch" })
)
export type Sketch = typeof SketchSchema.Type

/** Running aggregate of one (series, window). `m2` is the sum of squared deviations (Welford/Chan). */
export const WindowAggSchema = Schema.Struct({
  count: Schema.NonNegativeInt,
  sum: Schema.Finite,
  min: Schema.Finite,
  max: Schema.Finite,
  mean: Schema.Finite,
  m2: Schema.Finite.pipe(Schema.nonNegative()),
  sketch: SketchSchema
})
export type WindowAgg = typeof WindowAggSchema.Type
