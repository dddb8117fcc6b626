import type { MetricRow, SpanRow } from "../domain/jobs.ts"
import { genaiMetricOperation } from "../ingest/genai/metrics.ts"
import { seriesKeyOf } from "../domain/pipeline.ts"
import type { AggregateJob, Series } from "../domain/pipeline.ts"
import { foldPoints, parseWindowKey } from "./window.ts"

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

/** A batch folded into one partial aggregate per (series, window): what travels to the aggregate stage. */
export const foldBatch = (points: ReadonlyArray<SeriesPoint>, windowSizeMs: number): AggregateJob["partials"] => {
  const series = new Map<string, Series>()
  const keyOf = seriesKeyMemo((key, p) => series.set(key, { metricName: p.metricName, serviceName: p.serviceName, operation: p.operation }))
  const keyed = points.map((p) => ({ series: keyOf(p), timeMs: p.timeMs, value: p.value }))
  return [...foldPoints(keyed, windowSizeMs)].map(([k, agg]) => {
    const { series: key, windowStartMs } = parseWindowKey(k)
    const s = series.get(key) ?? { metricName: key, serviceName: "", operation: "" }
    return { ...s, windowStartMs, agg }
  })
}
