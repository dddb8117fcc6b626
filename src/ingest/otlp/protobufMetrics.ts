import { decodeKeyValue, decodeResource, decodeScope } from "./protoCommon.ts"
import type {
  Buckets, ExponentialHistogramDataPoint, ExportMetricsServiceRequest, HistogramDataPoint, Metric,
  NumberDataPoint, ResourceMetrics, ScopeMetrics, SummaryDataPoint, ValueAtQuantile
} from "./types.ts"
import { emptyResource, emptyScope } from "./types.ts"
import { I64, ProtoReader } from "./wire.ts"

/** opentelemetry-proto v1 `ExportMetricsServiceRequest` from protobuf bytes; throws OtlpDecodeError. */
export const decodeMetricsRequest = (buf: Uint8Array): ExportMetricsServiceRequest => {
  const r = new ProtoReader(buf)
  const resourceMetrics: Array<ResourceMetrics> = []
  while (r.pos < r.length) {
    const tag = r.uint32()
    if (tag === 10) resourceMetrics.push(decodeResourceMetrics(r, r.end()))
    else r.skip(tag)
  }
  return { resourceMetrics }
}

const decodeResourceMetrics = (r: ProtoReader, end: number): ResourceMetrics => {
  const out: ResourceMetrics = { resource: emptyResource(), scopeMetrics: [], schemaUrl: "" }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: out.resource = decodeResource(r, r.end()); break
      case 18: out.scopeMetrics.push(decodeScopeMetrics(r, r.end())); break
      case 26: out.schemaUrl = r.string(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return out
}

const decodeScopeMetrics = (r: ProtoReader, end: number): ScopeMetrics => {
  const out: ScopeMetrics = { scope: emptyScope(), metrics: [], schemaUrl: "" }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: out.scope = decodeScope(r, r.end()); break
      case 18: out.metrics.push(decodeMetric(r, r.end())); break
      case 26: out.schemaUrl = r.string(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return out
}

const decodeMetric = (r: ProtoReader, end: number): Metric => {
  const m: Metric = { name: "", description: "", unit: "" }
  // `data` is a oneof: the last one on the wire wins.
  let data: Partial<Metric> = {}
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: m.name = r.string(); break
      case 18: m.description = r.string(); break
      case 26: m.unit = r.string(); break
      case 42: data = { gauge: { dataPoints: decodePoints(r, r.end(), decodeNumberPoint).dataPoints } }; break
      case 58: data = { sum: decodeSum(r, r.end()) }; break
      case 74: data = { histogram: decodePoints(r, r.end(), decodeHistogramPoint) }; break
      case 82: data = { exponentialHistogram: decodePoints(r, r.end(), decodeExponentialPoint) }; break
      case 90: data = { summary: { dataPoints: decodePoints(r, r.end(), decodeSummaryPoint).dataPoints } }; break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return Object.assign(m, data)
}

/** Gauge, Histogram, ExponentialHistogram, Summary: 1 data_points (+ 2 aggregation_temporality for histograms). */
const decodePoints = <P>(r: ProtoReader, end: number, point: (r: ProtoReader, end: number) => P) => {
  const dataPoints: Array<P> = []
  let aggregationTemporality = 0
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 10) dataPoints.push(point(r, r.end()))
    else if (tag === 16) aggregationTemporality = r.int32()
    else r.skip(tag)
  }
  r.checkEnd(end)
  return { dataPoints, aggregationTemporality }
}

const decodeSum = (r: ProtoReader, end: number): NonNullable<Metric["sum"]> => {
  const sum: NonNullable<Metric["sum"]> = { dataPoints: [], aggregationTemporality: 0, isMonotonic: false }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: sum.dataPoints.push(decodeNumberPoint(r, r.end())); break
      case 16: sum.aggregationTemporality = r.int32(); break
      case 24: sum.isMonotonic = r.bool(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return sum
}

const decodeNumberPoint = (r: ProtoReader, end: number): NumberDataPoint => {
  const p: NumberDataPoint = { attributes: [], startMs: 0, startNs: 0, timeMs: 0, timeNs: 0, flags: 0 }
  let value: { asDouble: number } | { asInt: number } | undefined
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 58: p.attributes.push(decodeKeyValue(r, r.end())); break
      case 17: p.startMs = r.nanosMs(); p.startNs = r.subMsNs; break
      case 25: p.timeMs = r.nanosMs(); p.timeNs = r.subMsNs; break
      case 33: value = { asDouble: r.double() }; break
      case 49: value = { asInt: r.sfixed64() }; break
      case 64: p.flags = r.uint32(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return value === undefined ? p : Object.assign(p, value)
}

const decodeHistogramPoint = (r: ProtoReader, end: number): HistogramDataPoint => {
  const p: HistogramDataPoint = {
    attributes: [], startMs: 0, startNs: 0, timeMs: 0, timeNs: 0, count: 0, bucketCounts: [], explicitBounds: [], flags: 0
  }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 74: p.attributes.push(decodeKeyValue(r, r.end())); break
      case 17: p.startMs = r.nanosMs(); p.startNs = r.subMsNs; break
      case 25: p.timeMs = r.nanosMs(); p.timeNs = r.subMsNs; break
      case 33: p.count = r.fixed64(); break
      case 41: p.sum = r.double(); break
      case 49: case 50: readRepeated64(r, tag, p.bucketCounts, false); break
      case 57: case 58: readRepeated64(r, tag, p.explicitBounds, true); break
      case 80: p.flags = r.uint32(); break
      case 89: p.min = r.double(); break
      case 97: p.max = r.double(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return p
}

const decodeExponentialPoint = (r: ProtoReader, end: number): ExponentialHistogramDataPoint => {
  const p: ExponentialHistogramDataPoint = {
    attributes: [], startMs: 0, startNs: 0, timeMs: 0, timeNs: 0, count: 0, scale: 0, zeroCount: 0,
    positive: { offset: 0, bucketCounts: [] }, negative: { offset: 0, bucketCounts: [] }, zeroThreshold: 0, flags: 0
  }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: p.attributes.push(decodeKeyValue(r, r.end())); break
      case 17: p.startMs = r.nanosMs(); p.startNs = r.subMsNs; break
      case 25: p.timeMs = r.nanosMs(); p.timeNs = r.subMsNs; break
      case 33: p.count = r.fixed64(); break
      case 41: p.sum = r.double(); break
      case 48: p.scale = r.sint32(); break
      case 57: p.zeroCount = r.fixed64(); break
      case 66: p.positive = decodeBuckets(r, r.end()); break
      case 74: p.negative = decodeBuckets(r, r.end()); break
      case 80: p.flags = r.uint32(); break
      case 97: p.min = r.double(); break
      case 105: p.max = r.double(); break
      case 113: p.zeroThreshold = r.double(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return p
}

const decodeBuckets = (r: ProtoReader, end: number): Buckets => {
  const b: Buckets = { offset: 0, bucketCounts: [] }
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 8) b.offset = r.sint32()
    else if (tag === 16) b.bucketCounts.push(r.uint64())
    else if (tag === 18) {
      const e = r.end()
      while (r.pos < e) b.bucketCounts.push(r.uint64())
      r.checkEnd(e)
    } else r.skip(tag)
  }
  r.checkEnd(end)
  return b
}

const decodeSummaryPoint = (r: ProtoReader, end: number): SummaryDataPoint => {
  const p: SummaryDataPoint = {
    attributes: [], startMs: 0, startNs: 0, timeMs: 0, timeNs: 0, count: 0, sum: 0, quantileValues: [], flags: 0
  }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 58: p.attributes.push(decodeKeyValue(r, r.end())); break
      case 17: p.startMs = r.nanosMs(); p.startNs = r.subMsNs; break
      case 25: p.timeMs = r.nanosMs(); p.timeNs = r.subMsNs; break
      case 33: p.count = r.fixed64(); break
      case 41: p.sum = r.double(); break
      case 50: p.quantileValues.push(decodeQuantile(r, r.end())); break
      case 64: p.flags = r.uint32(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return p
}

const decodeQuantile = (r: ProtoReader, end: number): ValueAtQuantile => {
  const q: ValueAtQuantile = { quantile: 0, value: 0 }
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 9) q.quantile = r.double()
    else if (tag === 17) q.value = r.double()
    else r.skip(tag)
  }
  r.checkEnd(end)
  return q
}

/** repeated fixed64 / double, packed (LEN) or not (I64): parsers must accept both encodings. */
const readRepeated64 = (r: ProtoReader, tag: number, into: Array<number>, isDouble: boolean): void => {
  if ((tag & 7) === I64) {
    into.push(isDouble ? r.double() : r.fixed64())
    return
  }
  const e = r.end()
  if ((e - r.pos) % 8 !== 0) r.fail("packed 64-bit field length is not a multiple of 8")
  while (r.pos < e) into.push(isDouble ? r.double() : r.fixed64())
}
