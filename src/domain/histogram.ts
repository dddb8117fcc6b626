// Quantiles from span_red_1m's cumulative duration buckets (count of spans with duration_ms <= bound).

/** The `le_*` bounds of span_red_1m, in milliseconds. */
export const LE_BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000] as const
export const LE_COLUMNS = LE_BOUNDS.map((b) => `le_${b}`)

export interface DurationHistogram {
  readonly count: number
  /** cumulative[i] = spans with duration <= LE_BOUNDS[i]; spans above the last bound are `count - cumulative[last]`. */
  readonly cumulative: ReadonlyArray<number>
  readonly min: number
  readonly max: number
}

/**
 * The q-quantile, Prometheus `histogram_quantile` style: find the first bucket whose cumulative count
 * reaches rank = q × count, and interpolate linearly inside it. The bucket's edges are clamped to the
 * observed min and max (and the open last bucket ends at max), so the answer never leaves the observed
 * range and a bucket holding one distinct value answers that value.
 */
export const quantileFromHistogram = (h: DurationHistogram, q: number): number | null => {
  if (h.count <= 0) return null
  const rank = q * h.count
  let prevCum = 0
  for (let i = 0; i <= h.cumulative.length; i++) {
    const cum = i < h.cumulative.length ? Math.min(h.cumulative[i] ?? 0, h.count) : h.count
    if (cum >= rank && cum > prevCum) {
      const lowerEdge = i === 0 ? 0 : LE_BOUNDS[i - 1] ?? 0
      const upperEdge = i < LE_BOUNDS.length ? LE_BOUNDS[i] ?? h.max : h.max
      const lo = Math.min(Math.max(lowerEdge, h.min), h.max)
      const hi = Math.max(Math.min(upperEdge, h.max), lo)
      return lo + (hi - lo) * ((rank - prevCum) / (cum - prevCum))
    }
    prevCum = cum
  }
  return h.max
}

/** Histograms of disjoint minutes add up bucket by bucket: this is why span_red_1m keeps counts, not percentiles. */
export const mergeHistograms = (hs: ReadonlyArray<DurationHistogram>): DurationHistogram => ({
  count: hs.reduce((s, h) => s + h.count, 0),
  cumulative: LE_BOUNDS.map((_, i) => hs.reduce((s, h) => s + (h.cumulative[i] ?? 0), 0)),
  min: hs.reduce((m, h) => (h.count > 0 ? Math.min(m, h.min) : m), Number.POSITIVE_INFINITY),
  max: hs.reduce((m, h) => (h.count > 0 ? Math.max(m, h.max) : m), Number.NEGATIVE_INFINITY)
})

/**
 * The histogram of a row as the GenAI readers select it from the aggregates: `calls` (its count), the summed
 * `le_*` columns, `dmin` and `dmax` (src/query/genaiUsage.ts, src/query/genaiGraph.ts).
 */
export const histogramOfRow = (r: Readonly<Record<string, unknown>>): DurationHistogram => ({
  count: Number(r.calls ?? 0), cumulative: LE_COLUMNS.map((c) => Number(r[c] ?? 0)), min: Number(r.dmin ?? 0), max: Number(r.dmax ?? 0)
})
