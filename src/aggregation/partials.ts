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

/** Where series points go, one call per point (a fold, or a collector for tests and benches). */
export type PointSink = (metricName: string, serviceName: string, operation: string, timeMs: number, value: number) => void

/**
 * A batch folded into one partial aggregate per (series, window), point by point, without a point object
 * per point (a batch of 500 GenAI spans has ~2,750 points in a few dozen partials: the objects were a
 * fifth of the derivation's garbage). No key is built, escaped or parsed per point: a series is found by
 * its parts, operation and service first (the points of one span share them: its RED points, a model
 * call's latency, errors, tokens and cost), then its metric in that pair's small map; and a series keeps
 * its latest window, so that its next point (consecutive spans mostly share a window) costs neither the
 * window start's division nor a lookup. Each group also keeps its latest point's time and its number of
 * points, for what a refused series takes out of the batch.
 */
export const makeBatchFold = (windowSizeMs: number) => {
  type Group = { readonly series: Series; readonly windowStartMs: number; readonly values: Array<number>; maxTimeMs: number }
  type Entry = { readonly series: Series; readonly windows: Map<number, Group>; latest: Group | undefined }
  // operation → service → metric → the series' entry
  const byOperation = new Map<string, Map<string, Map<string, Entry>>>()
  const groups: Array<Group> = []
  // The last (service, operation) pair's metrics: the points of one span skip its lookups.
  let lastService: string | undefined
  let lastOperation: string | undefined
  let lastMetrics: Map<string, Entry> | undefined
  const metricsOf = (serviceName: string, operation: string): Map<string, Entry> => {
    let byService = byOperation.get(operation)
    if (byService === undefined) byOperation.set(operation, (byService = new Map()))
    let metrics = byService.get(serviceName)
    if (metrics === undefined) byService.set(serviceName, (metrics = new Map()))
    return metrics
  }
  const add: PointSink = (metricName, serviceName, operation, timeMs, value) => {
    if (!Number.isFinite(timeMs) || !Number.isFinite(value)) return
    if (lastMetrics === undefined || operation !== lastOperation || serviceName !== lastService) {
      lastMetrics = metricsOf(serviceName, operation)
      lastService = serviceName
      lastOperation = operation
    }
    let entry = lastMetrics.get(metricName)
    if (entry === undefined) lastMetrics.set(metricName, (entry = { series: { metricName, serviceName, operation }, windows: new Map(), latest: undefined }))
    let group = entry.latest
    if (group === undefined || timeMs < group.windowStartMs || timeMs >= group.windowStartMs + windowSizeMs) {
      const start = windowStart(timeMs, windowSizeMs)
      group = entry.windows.get(start)
      if (group === undefined) {
        group = { series: entry.series, windowStartMs: start, values: [], maxTimeMs: timeMs }
        entry.windows.set(start, group)
        groups.push(group)
      }
      entry.latest = group
    }
    if (timeMs > group.maxTimeMs) group.maxTimeMs = timeMs
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
