import { LE_BOUNDS } from "../../src/domain/histogram.ts"
import type { DurationHistogram } from "../../src/domain/histogram.ts"

/** The histogram the continuous aggregates keep, of raw durations: the tests' oracle for p95s. */
export const histogramOf = (durations: ReadonlyArray<number>): DurationHistogram => ({
  count: durations.length,
  cumulative: LE_BOUNDS.map((b) => durations.filter((d) => d <= b).length),
  min: durations.length === 0 ? 0 : Math.min(...durations),
  max: durations.length === 0 ? 0 : Math.max(...durations)
})
