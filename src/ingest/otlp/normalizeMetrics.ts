import { MAX_NAME_LENGTH, outsideWindow, storableValue, VALUE_RANGE } from "../../domain/limits.ts"
import type { TimeWindow } from "../../domain/limits.ts"
import { attributesProblem, attributesToRecord, resourceProblem, serviceNameOf } from "./attributes.ts"
import type {
  ExportMetricsServiceRequest, KeyValue, Metric, NumberDataPoint, Rejections, SummaryDataPoint
} from "./types.ts"
import { floatMs, iso, makeRejections, reject } from "./types.ts"

export interface MetricPointRow {
  readonly name: string
  readonly value: number
  readonly timeMs: number
  readonly serviceName: string
  readonly attributes: Record<string, unknown>
  readonly unit?: string
}

export interface MetricsResult {
  readonly points: Array<MetricPointRow>
  readonly rejected: number
  readonly errors: Array<string>
}

// DataPointFlags.FLAG_NO_RECORDED_VALUE: the point is a staleness marker, not a measurement.
const NO_RECORDED_VALUE = 1

interface PointCommon {
  readonly attributes: Array<KeyValue>
  readonly timeMs: number
  readonly timeNs: number
  readonly flags: number
}

/** One row to emit: name suffix, value, whether the metric unit applies, and a summary quantile. */
type Row = readonly [suffix: string, value: number, hasUnit: boolean, quantile?: number]

/**
 * Decoded metrics request to rows, one OTLP data point giving one or more rows:
 * - gauge and sum: `name` = the value as sent (cumulative sums stay cumulative, not differenced);
 * - histogram and exponential histogram: `name.count`, `name.sum` (if sent), `name.min`,
 *   `name.max` (if sent); buckets are not stored, a mean is Δsum/Δcount over a window;
 * - summary: `name.count`, `name.sum`, and `name` with attribute `quantile` per quantile value.
 * Rejections (no name, no time, no value, non-finite numbers, bounds of src/domain/limits.ts, a
 * time outside `window` when given) count OTLP data points, not rows.
 */
export const normalizeMetrics = (req: ExportMetricsServiceRequest, rej: Rejections = makeRejections(), window?: TimeWindow): MetricsResult => {
  const points: Array<MetricPointRow> = []
  for (const rm of req.resourceMetrics) {
    const serviceName = serviceNameOf(attributesToRecord(rm.resource.attributes))
    const unstorable = resourceProblem(rm.resource.attributes, serviceName)
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        const data = m.gauge ?? m.sum
        const c = { m, serviceName, window, unstorable, out: points, rej }
        if (data !== undefined) emit(c, data.dataPoints, numberRows)
        else if (m.histogram !== undefined) emit(c, m.histogram.dataPoints, histogramRows)
        else if (m.exponentialHistogram !== undefined) emit(c, m.exponentialHistogram.dataPoints, histogramRows)
        else if (m.summary !== undefined) emit(c, m.summary.dataPoints, summaryRows)
      }
    }
  }
  return { points, rejected: rej.count, errors: rej.errors }
}

interface EmitContext {
  readonly m: Metric
  readonly serviceName: string
  readonly window: TimeWindow | undefined
  /** Why the metric's resource cannot be stored: every point of it is rejected. */
  readonly unstorable: string | undefined
  readonly out: Array<MetricPointRow>
  readonly rej: Rejections
}

const pointProblem = <P extends PointCommon>(c: EmitContext, p: P, timeMs: number): string | undefined => {
  if (c.unstorable !== undefined) return c.unstorable
  if (c.m.name === "") return "metric name is missing"
  if (c.m.name.length > MAX_NAME_LENGTH) return `metric name is ${c.m.name.length} characters long (at most ${MAX_NAME_LENGTH})`
  if (p.timeMs === 0 && p.timeNs === 0) return "timeUnixNano is missing"
  if (c.window !== undefined && outsideWindow(c.window, timeMs)) {
    return `time ${iso(timeMs)} is outside the accepted window (${iso(c.window.minMs)} to ${iso(c.window.maxMs)})`
  }
  return p.attributes.length === 0 ? undefined : attributesProblem(p.attributes, "the data point")
}

const emit = <P extends PointCommon>(c: EmitContext, dataPoints: ReadonlyArray<P>, rowsOf: (p: P) => string | ReadonlyArray<Row>): void => {
  const { m, serviceName, out, rej } = c
  for (const p of dataPoints) {
    if ((p.flags & NO_RECORDED_VALUE) !== 0) continue
    const timeMs = floatMs(p.timeMs, p.timeNs)
    const rows = pointProblem(c, p, timeMs) ?? rowsOf(p)
    if (typeof rows === "string") {
      reject(rej, 1, `metric ${JSON.stringify(m.name.slice(0, 64))}: ${rows}`)
      continue
    }
    const attributes = attributesToRecord(p.attributes)
    for (const [suffix, value, hasUnit, quantile] of rows) {
      const row = {
        name: m.name + suffix, value, timeMs, serviceName,
        attributes: quantile === undefined ? attributes : { ...attributes, quantile }
      }
      out.push(hasUnit && m.unit !== "" ? { ...row, unit: m.unit } : row)
    }
  }
}

const numberRows = (p: NumberDataPoint): string | ReadonlyArray<Row> => {
  const value = p.asDouble ?? p.asInt
  if (value === undefined) return "data point has no value"
  if (!Number.isFinite(value)) return `value ${value} is not finite`
  if (!storableValue(value)) return `value ${value} is not ${VALUE_RANGE}`
  return [["", value, true]]
}

interface HistogramLike {
  readonly count: number
  readonly sum?: number
  readonly min?: number
  readonly max?: number
}

const histogramRows = (p: HistogramLike): string | ReadonlyArray<Row> => {
  if (!storableValue(p.count)) return `histogram count ${p.count} is not ${VALUE_RANGE}`
  const rows: Array<Row> = [[".count", p.count, false]]
  for (const [suffix, v] of [[".sum", p.sum], [".min", p.min], [".max", p.max]] as const) {
    if (v === undefined) continue
    if (!storableValue(v)) return `histogram${suffix} ${v} is not ${VALUE_RANGE}`
    rows.push([suffix, v, true])
  }
  return rows
}

const summaryRows = (p: SummaryDataPoint): string | ReadonlyArray<Row> => {
  if (!storableValue(p.sum) || !storableValue(p.count)) return `summary sum ${p.sum} or count ${p.count} is not ${VALUE_RANGE}`
  const rows: Array<Row> = [[".count", p.count, false], [".sum", p.sum, true]]
  for (const q of p.quantileValues) {
    if (!storableValue(q.value) || !Number.isFinite(q.quantile)) return `summary quantile ${q.quantile} = ${q.value} is not ${VALUE_RANGE}`
    rows.push(["", q.value, true, q.quantile])
  }
  return rows
}
