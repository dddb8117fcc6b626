/**
 * The decoded OTLP request: the OTLP/JSON shape (lowerCamelCase fields), produced by both the
 * protobuf and the JSON decoder so that one normaliser serves both. Differences from raw
 * OTLP/JSON, all fixed by the decoders:
 * - every field is present (proto3 defaults: "", 0, false, []);
 * - trace/span ids are lowercase hex ("" when absent);
 * - a uint64 timestamp `xTimeUnixNano` is two numbers, `xMs` (whole milliseconds, exact) and `xNs` (the
 *   nanoseconds past them, 0–999,999), both 0 when absent: no BigInt, no decimal string;
 * - enums are numbers; uint64 counts and `asInt` are numbers (they end up as float values anyway);
 * - `intValue` attributes are numbers when safe integers, else exact decimal strings;
 * - `bytesValue` is standard base64.
 */

/** An epoch-ms time for a message: ISO-8601, or the number itself beyond what a Date can hold. */
export const iso = (ms: number): string => (Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms))

/** Epoch ms as a float; a double near 1.7e12 resolves ~0.25 µs, so this is the precision limit. */
export const floatMs = (ms: number, ns: number): number => ms + ns / 1e6

export interface AnyValue {
  readonly stringValue?: string
  readonly boolValue?: boolean
  readonly intValue?: number | string
  readonly doubleValue?: number
  readonly arrayValue?: { readonly values: ReadonlyArray<AnyValue> }
  readonly kvlistValue?: { readonly values: ReadonlyArray<KeyValue> }
  readonly bytesValue?: string
}

export interface KeyValue {
  readonly key: string
  readonly value: AnyValue
}

export interface Resource {
  attributes: Array<KeyValue>
  droppedAttributesCount: number
}

export interface InstrumentationScope {
  name: string
  version: string
  attributes: Array<KeyValue>
  droppedAttributesCount: number
}

export interface Status {
  message: string
  code: number
}

export interface SpanEvent {
  timeMs: number
  timeNs: number
  name: string
  attributes: Array<KeyValue>
  droppedAttributesCount: number
}

export interface SpanLink {
  traceId: string
  spanId: string
  traceState: string
  attributes: Array<KeyValue>
  droppedAttributesCount: number
  flags: number
}

export interface Span {
  traceId: string
  spanId: string
  traceState: string
  parentSpanId: string
  flags: number
  name: string
  kind: number
  startMs: number
  startNs: number
  endMs: number
  endNs: number
  attributes: Array<KeyValue>
  droppedAttributesCount: number
  events: Array<SpanEvent>
  droppedEventsCount: number
  links: Array<SpanLink>
  droppedLinksCount: number
  status: Status
}

export interface ScopeSpans {
  scope: InstrumentationScope
  spans: Array<Span>
  schemaUrl: string
}

export interface ResourceSpans {
  resource: Resource
  scopeSpans: Array<ScopeSpans>
  schemaUrl: string
}

export interface ExportTraceServiceRequest {
  resourceSpans: Array<ResourceSpans>
}

export interface NumberDataPoint {
  attributes: Array<KeyValue>
  startMs: number
  startNs: number
  timeMs: number
  timeNs: number
  asDouble?: number
  asInt?: number
  flags: number
}

export interface HistogramDataPoint {
  attributes: Array<KeyValue>
  startMs: number
  startNs: number
  timeMs: number
  timeNs: number
  count: number
  sum?: number
  bucketCounts: Array<number>
  explicitBounds: Array<number>
  min?: number
  max?: number
  flags: number
}

export interface Buckets {
  offset: number
  bucketCounts: Array<number>
}

export interface ExponentialHistogramDataPoint {
  attributes: Array<KeyValue>
  startMs: number
  startNs: number
  timeMs: number
  timeNs: number
  count: number
  sum?: number
  scale: number
  zeroCount: number
  positive: Buckets
  negative: Buckets
  min?: number
  max?: number
  zeroThreshold: number
  flags: number
}

export interface ValueAtQuantile {
  quantile: number
  value: number
}

export interface SummaryDataPoint {
  attributes: Array<KeyValue>
  startMs: number
  startNs: number
  timeMs: number
  timeNs: number
  count: number
  sum: number
  quantileValues: Array<ValueAtQuantile>
  flags: number
}

export interface Metric {
  name: string
  description: string
  unit: string
  gauge?: { dataPoints: Array<NumberDataPoint> }
  sum?: { dataPoints: Array<NumberDataPoint>; aggregationTemporality: number; isMonotonic: boolean }
  histogram?: { dataPoints: Array<HistogramDataPoint>; aggregationTemporality: number }
  exponentialHistogram?: { dataPoints: Array<ExponentialHistogramDataPoint>; aggregationTemporality: number }
  summary?: { dataPoints: Array<SummaryDataPoint> }
}

export interface ScopeMetrics {
  scope: InstrumentationScope
  metrics: Array<Metric>
  schemaUrl: string
}

export interface ResourceMetrics {
  resource: Resource
  scopeMetrics: Array<ScopeMetrics>
  schemaUrl: string
}

export interface ExportMetricsServiceRequest {
  resourceMetrics: Array<ResourceMetrics>
}

/** Per-request rejection tally; feeds OTLP `partialSuccess`. Messages are capped, the count is not. */
export interface Rejections {
  count: number
  readonly errors: Array<string>
}

const MAX_ERRORS = 20

export const makeRejections = (): Rejections => ({ count: 0, errors: [] })

export const reject = (r: Rejections, n: number, message: string): void => {
  r.count += n
  if (r.errors.length < MAX_ERRORS) r.errors.push(message)
}

export const emptyResource = (): Resource => ({ attributes: [], droppedAttributesCount: 0 })

export const emptyScope = (): InstrumentationScope => ({ name: "", version: "", attributes: [], droppedAttributesCount: 0 })
