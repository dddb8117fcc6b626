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
  const keys = new Map<string, Map<string, Map<string, string>>>()
  return (p: Series): string => {
    let byService = keys.get(p.metricName)
    if (byService === undefined) keys.set(p.metricName, (byService = new Map()))
    let byOperation = byService.get(p.serviceName)
    if (byOperation === undefined) byService.set(p.serviceName, (byOperation = new Map()))
    let key = byOperation.get(p.operation)
    if (key === undefined) {
      key = seriesKeyOf(p)
      byOperation.set(p.operation, key)
      onNew?.(key, p)
    }
    return key
  }
}

/**
 * A batch folded into one partial aggregate per (series, window): what travels to the aggregate stage,
 * in the order each (series, window) first appears. As `foldPoints` over the points' series keys, but
 * the windows are found by the series' parts (maps of maps) and the window start: no key is built,
 * escaped or parsed per point (a batch of 500 GenAI spans has ~3,000 points in a few dozen partials).
 */
export const foldBatch = (points: ReadonlyArray<SeriesPoint>, windowSizeMs: number): AggregateJob["partials"] => {
  type Group = { readonly series: Series; readonly windowStartMs: number; readonly values: Array<number> }
  const bySeries = new Map<string, Map<string, Map<string, { readonly series: Series; readonly windows: Map<number, Group> }>>>()
  const groups: Array<Group> = []
  for (const p of points) {
    if (!Number.isFinite(p.timeMs) || !Number.isFinite(p.value)) continue
    let byService = bySeries.get(p.metricName)
    if (byService === undefined) bySeries.set(p.metricName, (byService = new Map()))
    let byOperation = byService.get(p.serviceName)
    if (byOperation === undefined) byService.set(p.serviceName, (byOperation = new Map()))
    let entry = byOperation.get(p.operation)
    if (entry === undefined) {
      entry = { series: { metricName: p.metricName, serviceName: p.serviceName, operation: p.operation }, windows: new Map() }
      byOperation.set(p.operation, entry)
    }
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
