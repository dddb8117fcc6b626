import { OtlpDecodeError } from "./errors.ts"
import {
  bool, collect, countNested, digitsMs, digitsNs, double, enumValue, field, int, isObj, keyValues, list, nanos, obj, optionalDouble,
  resource, scope, str, uint
} from "./jsonCommon.ts"
import type { Obj } from "./jsonCommon.ts"
import type {
  Buckets, ExponentialHistogramDataPoint, ExportMetricsServiceRequest, HistogramDataPoint, Metric, NumberDataPoint,
  Rejections, ResourceMetrics, ScopeMetrics, SummaryDataPoint
} from "./types.ts"

const TEMPORALITY: Readonly<Record<string, number>> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0, AGGREGATION_TEMPORALITY_DELTA: 1, AGGREGATION_TEMPORALITY_CUMULATIVE: 2
}
const SCOPE_METRICS = ["scopeMetrics", "scope_metrics"] as const
const METRICS = ["metrics", "metrics"] as const
const DATA_KINDS = [
  ["gauge", "gauge"], ["sum", "sum"], ["histogram", "histogram"],
  ["exponentialHistogram", "exponential_histogram"], ["summary", "summary"]
] as const

const countPoints = (metric: unknown): number => {
  let n = 0
  if (isObj(metric)) for (const kind of DATA_KINDS) n += countNested(field(metric, kind[0], kind[1]), [["dataPoints", "data_points"]])
  return n
}

/** OTLP/JSON `ExportMetricsServiceRequest` to the decoded shape; rejections count data points. */
export const decodeJsonMetricsRequest = (body: unknown, rej: Rejections): ExportMetricsServiceRequest => {
  if (!isObj(body)) throw new OtlpDecodeError({ message: "OTLP/JSON metrics request must be a JSON object" })
  const raw = field(body, "resourceMetrics", "resource_metrics")
  if (raw != null && !Array.isArray(raw)) throw new OtlpDecodeError({ message: "resourceMetrics must be an array" })
  const count = (r: unknown) => countNested(r, [SCOPE_METRICS, METRICS], countPoints)
  const resourceMetrics = collect(raw ?? [], "resourceMetrics", rej, count, (r, i) =>
    resourceMetricsFrom(obj(r, "resourceMetrics entry"), `resourceMetrics[${i}]`, rej))
  return { resourceMetrics }
}

// Container fields are read before the items are collected, so that a container rejected as a
// whole never counts a data point that was already rejected on its own.
const resourceMetricsFrom = (o: Obj, path: string, rej: Rejections): ResourceMetrics => {
  const res = resource(o.resource)
  const schemaUrl = str(field(o, "schemaUrl", "schema_url"), "schemaUrl")
  const scopes = list(field(o, ...SCOPE_METRICS), "scopeMetrics")
  const scopeMetrics = collect(scopes, `${path}.scopeMetrics`, rej, (s) => countNested(s, [METRICS], countPoints),
    (s, i) => scopeMetricsFrom(obj(s, "scopeMetrics entry"), `${path}.scopeMetrics[${i}]`, rej))
  return { resource: res, scopeMetrics, schemaUrl }
}

const scopeMetricsFrom = (o: Obj, path: string, rej: Rejections): ScopeMetrics => {
  const sc = scope(o.scope)
  const schemaUrl = str(field(o, "schemaUrl", "schema_url"), "schemaUrl")
  const metrics = collect(list(o.metrics, "metrics"), `${path}.metrics`, rej, countPoints, (m, i) =>
    metricFrom(obj(m, "metric"), `${path}.metrics[${i}]`, rej))
  return { scope: sc, metrics, schemaUrl }
}

const metricFrom = (o: Obj, path: string, rej: Rejections): Metric => {
  const m: Metric = { name: str(o.name, "name"), description: str(o.description, "description"), unit: str(o.unit, "unit") }
  const points = <P>(data: Obj, f: (p: Obj) => P): Array<P> =>
    collect(list(field(data, "dataPoints", "data_points"), "dataPoints"), `${path} "${m.name}" dataPoints`, rej, () => 1,
      (p) => f(obj(p, "data point")))
  const temporality = (data: Obj) =>
    enumValue(field(data, "aggregationTemporality", "aggregation_temporality"), TEMPORALITY, "aggregationTemporality")
  let d: unknown
  if ((d = o.gauge) != null) {
    m.gauge = { dataPoints: points(obj(d, "gauge"), numberPoint) }
  } else if ((d = o.sum) != null) {
    const s = obj(d, "sum")
    const aggregationTemporality = temporality(s)
    const isMonotonic = bool(field(s, "isMonotonic", "is_monotonic"), "isMonotonic")
    m.sum = { dataPoints: points(s, numberPoint), aggregationTemporality, isMonotonic }
  } else if ((d = o.histogram) != null) {
    const h = obj(d, "histogram")
    const aggregationTemporality = temporality(h)
    m.histogram = { dataPoints: points(h, histogramPoint), aggregationTemporality }
  } else if ((d = field(o, "exponentialHistogram", "exponential_histogram")) != null) {
    const h = obj(d, "exponentialHistogram")
    const aggregationTemporality = temporality(h)
    m.exponentialHistogram = { dataPoints: points(h, exponentialPoint), aggregationTemporality }
  } else if ((d = o.summary) != null) {
    m.summary = { dataPoints: points(obj(d, "summary"), summaryPoint) }
  }
  return m
}

interface PointBase {
  attributes: NumberDataPoint["attributes"]
  startMs: number
  startNs: number
  timeMs: number
  timeNs: number
}

const base = (p: Obj): PointBase => {
  const attributes = keyValues(p.attributes)
  const start = nanos(field(p, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano")
  const time = nanos(field(p, "timeUnixNano", "time_unix_nano"), "timeUnixNano")
  return { attributes, startMs: digitsMs(start), startNs: digitsNs(start), timeMs: digitsMs(time), timeNs: digitsNs(time) }
}

const numberPoint = (p: Obj): NumberDataPoint => {
  const out: NumberDataPoint = { ...base(p), flags: uint(p.flags, "flags") }
  const asDouble = field(p, "asDouble", "as_double")
  const asInt = field(p, "asInt", "as_int")
  if (asDouble != null) out.asDouble = double(asDouble, "asDouble")
  else if (asInt != null) out.asInt = int(asInt, "asInt")
  return out
}

const numbers = (v: unknown, what: string, f: (x: unknown, what: string) => number): Array<number> =>
  list(v, what).map((x) => f(x, what))

const histogramPoint = (p: Obj): HistogramDataPoint => {
  const out: HistogramDataPoint = {
    ...base(p),
    count: uint(p.count, "count"),
    bucketCounts: numbers(field(p, "bucketCounts", "bucket_counts"), "bucketCounts", uint),
    explicitBounds: numbers(field(p, "explicitBounds", "explicit_bounds"), "explicitBounds", double),
    flags: uint(p.flags, "flags")
  }
  return withSumMinMax(out, p)
}

const buckets = (v: unknown, what: string): Buckets => {
  if (v == null) return { offset: 0, bucketCounts: [] }
  const o = obj(v, what)
  return { offset: int(o.offset, `${what}.offset`), bucketCounts: numbers(field(o, "bucketCounts", "bucket_counts"), what, uint) }
}

const exponentialPoint = (p: Obj): ExponentialHistogramDataPoint => {
  const out: ExponentialHistogramDataPoint = {
    ...base(p),
    count: uint(p.count, "count"),
    scale: int(p.scale, "scale"),
    zeroCount: uint(field(p, "zeroCount", "zero_count"), "zeroCount"),
    positive: buckets(p.positive, "positive"),
    negative: buckets(p.negative, "negative"),
    zeroThreshold: optionalDouble(field(p, "zeroThreshold", "zero_threshold"), "zeroThreshold") ?? 0,
    flags: uint(p.flags, "flags")
  }
  return withSumMinMax(out, p)
}

const withSumMinMax = <P extends { sum?: number; min?: number; max?: number }>(out: P, p: Obj): P => {
  const sum = optionalDouble(p.sum, "sum")
  const min = optionalDouble(p.min, "min")
  const max = optionalDouble(p.max, "max")
  if (sum !== undefined) out.sum = sum
  if (min !== undefined) out.min = min
  if (max !== undefined) out.max = max
  return out
}

const summaryPoint = (p: Obj): SummaryDataPoint => ({
  ...base(p),
  count: uint(p.count, "count"),
  sum: optionalDouble(p.sum, "sum") ?? 0,
  quantileValues: list(field(p, "quantileValues", "quantile_values"), "quantileValues").map((q) => {
    const o = obj(q, "quantileValue")
    return { quantile: optionalDouble(o.quantile, "quantile") ?? 0, value: optionalDouble(o.value, "value") ?? 0 }
  }),
  flags: uint(p.flags, "flags")
})
