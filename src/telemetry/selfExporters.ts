import type { Attributes, HrTime } from "@opentelemetry/api"
import { ExportResultCode } from "@opentelemetry/core"
import type { ExportResult } from "@opentelemetry/core"
import { AggregationTemporality, DataPointType } from "@opentelemetry/sdk-metrics"
import type { InstrumentType, MetricData, PushMetricExporter, ResourceMetrics } from "@opentelemetry/sdk-metrics"
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"
import type * as Otlp from "../ingest/otlp/types.ts"

/**
 * Where the exporters for MPLP_SELF_TENANT hand their batches. The exporters exist from the start (the
 * OpenTelemetry providers take them at construction); the ingest queue they feed comes up later and goes
 * first on shutdown (src/telemetry/SelfExport.ts fills and empties this slot). Unset, batches are dropped.
 */
export class SelfExportSlot {
  traces: ((request: Otlp.ExportTraceServiceRequest) => Promise<void>) | undefined = undefined
  metrics: ((request: Otlp.ExportMetricsServiceRequest) => Promise<void>) | undefined = undefined
  /** Exports what waits: the spans in the batch processor, the metrics of the current interval. */
  flush: () => Promise<void> = () => Promise.resolve()
}

const settle = (work: Promise<void> | undefined, done: (result: ExportResult) => void) => {
  if (work === undefined) return done({ code: ExportResultCode.SUCCESS })
  work.then(
    () => done({ code: ExportResultCode.SUCCESS }),
    (error: unknown) => done({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) })
  )
}

export class SelfSpanExporter implements SpanExporter {
  private readonly slot: SelfExportSlot
  constructor(slot: SelfExportSlot) {
    this.slot = slot
  }
  export(spans: Array<ReadableSpan>, done: (result: ExportResult) => void): void {
    const send = this.slot.traces
    settle(send === undefined || spans.length === 0 ? undefined : send(traceRequestOf(spans)), done)
  }
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

export class SelfMetricExporter implements PushMetricExporter {
  private readonly slot: SelfExportSlot
  constructor(slot: SelfExportSlot) {
    this.slot = slot
  }
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    const send = this.slot.metrics
    settle(send === undefined ? undefined : send(metricsRequestOf(metrics)), done)
  }
  /** Deltas: a counter's point is what happened in its interval, which is what a window aggregates. */
  selectAggregationTemporality(_type: InstrumentType): AggregationTemporality {
    return AggregationTemporality.DELTA
  }
  forceFlush(): Promise<void> {
    return Promise.resolve()
  }
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

// The SDK's objects in the decoded OTLP shape (src/ingest/otlp/types.ts), so the same normalisers as
// POST /v1/traces and /v1/metrics check and convert them.

// An HrTime ([seconds, nanoseconds]) as the decoded shape's whole milliseconds and the nanoseconds past them.
const ms = (t: HrTime): number => t[0] * 1000 + Math.floor(t[1] / 1e6)
const ns = (t: HrTime): number => t[1] % 1e6

const anyValue = (v: unknown): Otlp.AnyValue => {
  if (typeof v === "string") return { stringValue: v }
  if (typeof v === "boolean") return { boolValue: v }
  if (typeof v === "number") return Number.isSafeInteger(v) ? { intValue: v } : { doubleValue: v }
  if (Array.isArray(v)) return { arrayValue: { values: v.filter((x) => x !== null && x !== undefined).map(anyValue) } }
  return { stringValue: String(v) }
}

const keyValues = (attributes: Attributes | undefined): Array<Otlp.KeyValue> => {
  const out: Array<Otlp.KeyValue> = []
  for (const [key, value] of Object.entries(attributes ?? {})) if (value !== undefined && value !== null) out.push({ key, value: anyValue(value) })
  return out
}

const scopeOf = (name: string, version: string | undefined): Otlp.InstrumentationScope =>
  ({ name, version: version ?? "", attributes: [], droppedAttributesCount: 0 })

const spanOf = (s: ReadableSpan): Otlp.Span => {
  const context = s.spanContext()
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    traceState: "",
    parentSpanId: s.parentSpanContext?.spanId ?? "",
    flags: context.traceFlags,
    name: s.name,
    // OTLP numbers kinds from 1 (INTERNAL); the API's enum from 0.
    kind: s.kind + 1,
    startMs: ms(s.startTime), startNs: ns(s.startTime),
    endMs: ms(s.endTime), endNs: ns(s.endTime),
    attributes: keyValues(s.attributes),
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({ timeMs: ms(e.time), timeNs: ns(e.time), name: e.name, attributes: keyValues(e.attributes), droppedAttributesCount: 0 })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links.map((l) => ({
      traceId: l.context.traceId, spanId: l.context.spanId, traceState: "", attributes: keyValues(l.attributes), droppedAttributesCount: 0, flags: l.context.traceFlags
    })),
    droppedLinksCount: s.droppedLinksCount,
    status: { code: s.status.code, message: s.status.message ?? "" }
  }
}

/** One resource (the process), one scope list per instrumentation scope. */
export const traceRequestOf = (spans: ReadonlyArray<ReadableSpan>): Otlp.ExportTraceServiceRequest => {
  const scopes = new Map<string, Otlp.ScopeSpans>()
  for (const s of spans) {
    const key = `${s.instrumentationScope.name}@${s.instrumentationScope.version ?? ""}`
    let scope = scopes.get(key)
    if (scope === undefined) {
      scope = { scope: scopeOf(s.instrumentationScope.name, s.instrumentationScope.version), spans: [], schemaUrl: "" }
      scopes.set(key, scope)
    }
    scope.spans.push(spanOf(s))
  }
  const resource = spans[0]?.resource.attributes
  return { resourceSpans: [{ resource: { attributes: keyValues(resource), droppedAttributesCount: 0 }, scopeSpans: [...scopes.values()], schemaUrl: "" }] }
}

const numberPoint = (p: { readonly startTime: HrTime; readonly endTime: HrTime; readonly attributes: Attributes; readonly value: unknown }): Otlp.NumberDataPoint => ({
  attributes: keyValues(p.attributes),
  startMs: ms(p.startTime), startNs: ns(p.startTime),
  timeMs: ms(p.endTime), timeNs: ns(p.endTime),
  ...(typeof p.value === "number" ? { asDouble: p.value } : {}),
  flags: 0
})

const metricOf = (m: MetricData): Otlp.Metric | undefined => {
  const base = { name: m.descriptor.name, description: m.descriptor.description, unit: m.descriptor.unit }
  const temporality = m.aggregationTemporality === AggregationTemporality.DELTA ? 1 : 2
  switch (m.dataPointType) {
    case DataPointType.GAUGE:
      return { ...base, gauge: { dataPoints: m.dataPoints.map(numberPoint) } }
    case DataPointType.SUM:
      return { ...base, sum: { dataPoints: m.dataPoints.map(numberPoint), aggregationTemporality: temporality, isMonotonic: m.isMonotonic } }
    case DataPointType.HISTOGRAM:
      return {
        ...base,
        histogram: {
          aggregationTemporality: temporality,
          dataPoints: m.dataPoints.map((p) => ({
            attributes: keyValues(p.attributes),
            startMs: ms(p.startTime), startNs: ns(p.startTime),
            timeMs: ms(p.endTime), timeNs: ns(p.endTime),
            count: p.value.count,
            ...(p.value.sum === undefined ? {} : { sum: p.value.sum }),
            bucketCounts: p.value.buckets.counts,
            explicitBounds: p.value.buckets.boundaries,
            ...(p.value.min === undefined ? {} : { min: p.value.min }),
            ...(p.value.max === undefined ? {} : { max: p.value.max }),
            flags: 0
          }))
        }
      }
    default:
      return undefined
  }
}

export const metricsRequestOf = (rm: ResourceMetrics): Otlp.ExportMetricsServiceRequest => ({
  resourceMetrics: [{
    resource: { attributes: keyValues(rm.resource.attributes), droppedAttributesCount: 0 },
    scopeMetrics: rm.scopeMetrics.map((sm) => ({
      scope: scopeOf(sm.scope.name, sm.scope.version),
      metrics: sm.metrics.flatMap((m) => {
        const metric = metricOf(m)
        return metric === undefined ? [] : [metric]
      }),
      schemaUrl: ""
    })),
    schemaUrl: ""
  }]
})
