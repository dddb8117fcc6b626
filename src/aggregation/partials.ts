import type { MetricRow, SpanRow } from "../domain/jobs.ts"
import { genaiMetricOperation } from "../ingest/genai/metrics.ts"
import type { AggregateJob, Series } from "../domain/pipeline.ts"
import { aggOf, windowStart } from "./window.ts"

export interface SeriesPoint extends Series {
  readonly timeMs: number
  readonly value: number
}

export const metricSeriesPoints = (rows: ReadonlyArray<MetricRow>): Array<SeriesPoint> =>
  rows.map((r) => ({ metricName: r.name, serviceName: r.serviceName, operation: genaiMetricOperation(r.attributes), timeMs: r.timeMs, value: r.value }))

/**
 * RED series from spans, as the OpenTelemetry Collector's span-metrics connector derives them: per
 * service and operation, the duration (`responseTimeMs`) and the error flag (`errorRate`, whose
 * window mean is the error rate); the window count is the request count.
 */
export const spanSeriesPoints = (spans: ReadonlyArray<SpanRow>): Array<SeriesPoint> =>
  spans.flatMap((s) => [
    { metricName: "responseTimeMs", serviceName: s.serviceName, operation: s.name, timeMs: s.startTimeMs, value: s.durationMs },
    { metricName: "errorRate", serviceName: s.serviceName, operation: s.name, timeMs: s.startTimeMs, value: s.statusCode === 2 ? 1 : 0 }
  ])

/** Something per series, found by the series' parts (maps of maps): no key is built per lookup. */
type SeriesMap<V> = Map<string, Map<string, Map<string, V>>>

/** Where series points go, one call per point (a fold, or a collector for tests and benches). */
export type PointSink = (metricName: string, serviceName: string, operation: string, timeMs: number, value: number) => void

/**
 * A batch folded into one partial aggregate per (series, window), point by point, without a point object
 * per point (a batch of 500 GenAI spans has ~2,750 points in a few dozen partials: the objects were a
 * fifth of the derivation's garbage). The windows are found by the series' parts (maps of maps) and the
 * window start: no key is built, escaped or parsed per point. Each group also keeps its latest point's
 * time and its number of points, for what a refused series takes out of the batch.
 */
export const makeBatchFold = (windowSizeMs: number) => {
  type Group = { readonly series: Series; readonly windowStartMs: number; readonly values: Array<number>; maxTimeMs: number }
  const bySeries: SeriesMap<{ readonly series: Series; readonly windows: Map<number, Group> }> = new Map()
  const newSeries = (p: Series) => ({ series: { metricName: p.metricName, serviceName: p.serviceName, operation: p.operation }, windows: new Map<number, Group>() })
  const groups: Array<Group> = []
  // The last series found: consecutive points of one series (a batch's RED points, span after span) skip the lookups.
  let last: { readonly series: Series; readonly windows: Map<number, Group> } | undefined
  const add: PointSink = (metricName, serviceName, operation, timeMs, value) => {
    if (!Number.isFinite(timeMs) || !Number.isFinite(value)) return
    const entry = last !== undefined && last.series.metricName === metricName && last.series.operation === operation && last.series.serviceName === serviceName
      ? last
      : (last = seriesEntryOf(bySeries, metricName, serviceName, operation, newSeries))
    const start = windowStart(timeMs, windowSizeMs)
    let group = entry.windows.get(start)
    if (group === undefined) {
      group = { series: entry.series, windowStartMs: start, values: [], maxTimeMs: timeMs }
      entry.windows.set(start, group)
      groups.push(group)
    } else if (timeMs > group.maxTimeMs) group.maxTimeMs = timeMs
    group.values.push(value)
  }
  return {
    add,
    /** The partials, in the order each (series, window) first appeared, each with its points' count and latest time. */
    result: () => groups.map((g) => ({
      partial: { ...g.series, windowStartMs: g.windowStartMs, agg: aggOf(g.values) } as AggregateJob["partials"][number],
      points: g.values.length,
      maxTimeMs: g.maxTimeMs
    }))
  }
}

/** The entry of a series in `map`, made by `make` (from the series) the first time. */
const seriesEntryOf = <V>(map: SeriesMap<V>, metricName: string, serviceName: string, operation: string, make: (s: Series) => V): V => {
  let byService = map.get(metricName)
  if (byService === undefined) map.set(metricName, (byService = new Map()))
  let byOperation = byService.get(serviceName)
  if (byOperation === undefined) byService.set(serviceName, (byOperation = new Map()))
  let entry = byOperation.get(operation)
  if (entry === undefined) byOperation.set(operation, (entry = make({ metricName, serviceName, operation })))
  return entry
}

/** makeBatchFold over points already made (metric points, tests). */
export const foldBatch = (points: ReadonlyArray<SeriesPoint>, windowSizeMs: number): AggregateJob["partials"] => {
  const fold = makeBatchFold(windowSizeMs)
  for (const p of points) fold.add(p.metricName, p.serviceName, p.operation, p.timeMs, p.value)
  return fold.result().map((g) => g.partial)
}

/** spanSeriesPoints, into a sink. */
export const spanSeriesInto = (sink: PointSink, spans: ReadonlyArray<SpanRow>): void => {
  for (const s of spans) {
    sink("responseTimeMs", s.serviceName, s.name, s.startTimeMs, s.durationMs)
    sink("errorRate", s.serviceName, s.name, s.startTimeMs, s.statusCode === 2 ? 1 : 0)
  }
}

/** A sink that collects the points (tests, benches). */
export const collectPoints = (): { readonly sink: PointSink; readonly points: Array<SeriesPoint> } => {
  const points: Array<SeriesPoint> = []
  return { points, sink: (metricName, serviceName, operation, timeMs, value) => void points.push({ metricName, serviceName, operation, timeMs, value }) }
}
