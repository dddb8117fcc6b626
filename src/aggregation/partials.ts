import type { MetricRow, SpanRow } from "../domain/jobs.ts"
import { genaiMetricOperation } from "../ingest/genai/metrics.ts"
import { seriesKeyOf } from "../domain/pipeline.ts"
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

/**
 * `seriesKeyOf` for the points of one batch: a batch has few series and many points, so each series'
 * key (its parts escaped) is built once; `onNew` sees each series the first time.
 */
export const seriesKeyMemo = (onNew?: (key: string, s: Series) => void) => {
  const keys: SeriesMap<string> = new Map()
  const make = (s: Series) => {
    const key = seriesKeyOf(s)
    onNew?.(key, s)
    return key
  }
  return (p: Series): string => seriesEntry(keys, p, make)
}

/** Something per series, found by the series' parts (maps of maps): no key is built per lookup. */
type SeriesMap<V> = Map<string, Map<string, Map<string, V>>>

/** The entry of a series in `map`, made by `make` (from the series) the first time. */
const seriesEntry = <V>(map: SeriesMap<V>, s: Series, make: (s: Series) => V): V => {
  let byService = map.get(s.metricName)
  if (byService === undefined) map.set(s.metricName, (byService = new Map()))
  let byOperation = byService.get(s.serviceName)
  if (byOperation === undefined) byService.set(s.serviceName, (byOperation = new Map()))
  let entry = byOperation.get(s.operation)
  if (entry === undefined) byOperation.set(s.operation, (entry = make(s)))
  return entry
}

/**
 * A batch folded into one partial aggregate per (series, window): what travels to the aggregate stage,
 * in the order each (series, window) first appears. As `foldPoints` over the points' series keys, but
 * the windows are found by the series' parts (maps of maps) and the window start: no key is built,
 * escaped or parsed per point (a batch of 500 GenAI spans has ~3,000 points in a few dozen partials).
 */
export const foldBatch = (points: ReadonlyArray<SeriesPoint>, windowSizeMs: number): AggregateJob["partials"] => {
  type Group = { readonly series: Series; readonly windowStartMs: number; readonly values: Array<number> }
  const bySeries: SeriesMap<{ readonly series: Series; readonly windows: Map<number, Group> }> = new Map()
  const newSeries = (p: Series) => ({ series: { metricName: p.metricName, serviceName: p.serviceName, operation: p.operation }, windows: new Map<number, Group>() })
  const groups: Array<Group> = []
  for (const p of points) {
    if (!Number.isFinite(p.timeMs) || !Number.isFinite(p.value)) continue
    const entry = seriesEntry(bySeries, p, newSeries)
    const start = windowStart(p.timeMs, windowSizeMs)
    let group = entry.windows.get(start)
    if (group === undefined) {
      group = { series: entry.series, windowStartMs: start, values: [] }
      entry.windows.set(start, group)
      groups.push(group)
    }
    group.values.push(p.value)
  }
  return groups.map((g) => ({ ...g.series, windowStartMs: g.windowStartMs, agg: aggOf(g.values) }))
}
