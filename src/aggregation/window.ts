import { addMany, empty, fromValues, merge, mergeSketches, quantiles } from "./sketch.ts"
import { WindowAggSchema } from "../domain/windowAgg.ts"
import type { WindowAgg } from "../domain/windowAgg.ts"

export { WindowAggSchema }
export type { WindowAgg }

export type SeriesKey = string

export interface WindowStats {
  readonly count: number
  readonly sum: number
  readonly min: number
  readonly max: number
  readonly mean: number
  readonly variance: number
  readonly p50: number
  readonly p95: number
  readonly p99: number
}

export interface Point {
  readonly series: SeriesKey
  readonly timeMs: number
  readonly value: number
}

const checkSize = (sizeMs: number) => {
  if (!(sizeMs > 0 && Number.isFinite(sizeMs))) throw new RangeError(`window size must be a positive finite number, got ${sizeMs}`)
}

/** Floor to a multiple of sizeMs, also for negative times (t % size keeps the sign of t). */
export const windowStart = (timeMs: number, sizeMs: number): number => {
  checkSize(sizeMs)
  const r = timeMs % sizeMs
  return timeMs - (r < 0 ? r + sizeMs : r)
}

/** min/max/mean are 0 while count is 0 so the aggregate stays JSON-serialisable. */
export const emptyAgg = (): WindowAgg => ({ count: 0, sum: 0, min: 0, max: 0, mean: 0, m2: 0, sketch: empty() })

/** Returns a new aggregate; non-finite values are skipped (same rule as the sketch). */
export const addPoint = (agg: WindowAgg, raw: number): WindowAgg => {
  if (!Number.isFinite(raw)) return agg
  const value = raw === 0 ? 0 : raw // -0 does not survive JSON
  const count = agg.count + 1
  const d = value - agg.mean
  const mean = agg.mean + d / count
  return {
    count,
    sum: agg.sum + value,
    min: agg.count === 0 ? value : Math.min(agg.min, value),
    max: agg.count === 0 ? value : Math.max(agg.max, value),
    mean,
    m2: agg.m2 + d * (value - mean),
    sketch: addMany(agg.sketch, [value])
  }
}

/** Chan et al. parallel combine of two non-empty aggregates' moments, with `sketch` as the result's sketch. */
const combine = (a: WindowAgg, b: WindowAgg, sketch: WindowAgg["sketch"]): WindowAgg => {
  const count = a.count + b.count
  const delta = b.mean - a.mean
  return {
    count,
    sum: a.sum + b.sum,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    mean: a.mean + (delta * b.count) / count,
    m2: a.m2 + b.m2 + (delta * delta * a.count * b.count) / count,
    sketch
  }
}

/** Chan et al. parallel combine: associative and commutative up to floating-point rounding. */
export const mergeAgg = (a: WindowAgg, b: WindowAgg): WindowAgg => {
  if (a.count === 0) return b.count === 0 ? { ...a, sketch: merge(a.sketch, b.sketch) } : b
  if (b.count === 0) return a
  return combine(a, b, merge(a.sketch, b.sketch))
}

/**
 * `aggs.reduce(mergeAgg, emptyAgg())` with the sketches merged at once (mergeSketches): what a window's
 * close does with the partials of every batch that touched it. The same value, field for field.
 */
export const mergeAggs = (aggs: ReadonlyArray<WindowAgg>): WindowAgg => {
  const full = aggs.filter((a) => a.count > 0)
  if (full.length === 0) return aggs.reduce(mergeAgg, emptyAgg())
  let acc: WindowAgg = full[0]!
  // The moments pairwise as mergeAgg combines them; the sketches once, below.
  for (let i = 1; i < full.length; i++) acc = combine(acc, full[i]!, acc.sketch)
  return full.length === 1 ? acc : { ...acc, sketch: mergeSketches(full[0]!.sketch, full.slice(1).map((a) => a.sketch)) }
}

/** Population variance. */
export const variance = (agg: WindowAgg): number => (agg.count < 2 ? 0 : Math.max(0, agg.m2) / agg.count)

/** Quantiles come from the sketch (1% relative error); they are NaN for an empty aggregate. */
export const finalize = (agg: WindowAgg): WindowStats => {
  const [p50 = Number.NaN, p95 = Number.NaN, p99 = Number.NaN] = quantiles(agg.sketch, [0.5, 0.95, 0.99])
  return { count: agg.count, sum: agg.sum, min: agg.min, max: agg.max, mean: agg.mean, variance: variance(agg), p50, p95, p99 }
}

/** Builds an aggregate from a batch with one sketch copy instead of one per value. */
export const aggOf = (values: ReadonlyArray<number>): WindowAgg => {
  let count = 0, sum = 0, min = 0, max = 0, mean = 0, m2 = 0
  // Copied only when a value is not finite or is -0 (JSON has no -0): a stage's values never are.
  let finite = values
  for (const v of values) {
    if (!Number.isFinite(v) || Object.is(v, -0)) {
      finite = values.filter(Number.isFinite).map((x) => (x === 0 ? 0 : x))
      break
    }
  }
  for (const v of finite) {
    min = count === 0 ? v : Math.min(min, v)
    max = count === 0 ? v : Math.max(max, v)
    count++
    sum += v
    const d = v - mean
    mean += d / count
    m2 += d * (v - mean)
  }
  return { count, sum, min, max, mean, m2, sketch: fromValues(finite) }
}

/** Key of `foldPoints`' map; the window start follows the last "|" so series keys may contain "|". */
export const windowKey = (series: SeriesKey, windowStartMs: number): string => `${series}|${windowStartMs}`

export const parseWindowKey = (key: string): { readonly series: SeriesKey; readonly windowStartMs: number } => {
  const at = key.lastIndexOf("|")
  return { series: key.slice(0, at), windowStartMs: Number(key.slice(at + 1)) }
}

/**
 * Groups points into tumbling windows: `windowKey(series, windowStartMs)` → aggregate.
 * Points with a non-finite time or value are dropped. Map order is first appearance.
 */
export const foldPoints = (points: ReadonlyArray<Point>, sizeMs: number): Map<string, WindowAgg> => {
  checkSize(sizeMs)
  const groups = new Map<string, Array<number>>()
  for (const p of points) {
    if (!Number.isFinite(p.timeMs) || !Number.isFinite(p.value)) continue
    const key = windowKey(p.series, windowStart(p.timeMs, sizeMs))
    const values = groups.get(key)
    if (values) values.push(p.value)
    else groups.set(key, [p.value])
  }
  return new Map([...groups].map(([k, vs]) => [k, aggOf(vs)] as const))
}

/** Event-time watermark: everything at or before it is assumed to have arrived. */
export const watermark = (maxEventTimeMs: number, allowedLatenessMs: number): number => maxEventTimeMs - allowedLatenessMs

/**
 * Windows ending at or before this close: those the watermark has passed, and, since a quiet tenant
 * never advances its watermark, those whose end is more than lateness + idle timeout of processing time ago.
 */
export const closeCutoff = (maxEventTimeMs: number, nowMs: number, allowedLatenessMs: number, idleTimeoutMs: number): number =>
  Math.max(watermark(maxEventTimeMs, allowedLatenessMs), watermark(nowMs, allowedLatenessMs + idleTimeoutMs))
