import type { HrTime, Meter, Tracer } from "@opentelemetry/api"
import {
  JsonMetricsSerializer, JsonTraceSerializer, ProtobufMetricsSerializer, ProtobufTraceSerializer
} from "@opentelemetry/otlp-transformer"
import { resourceFromAttributes } from "@opentelemetry/resources"
import type { ResourceMetrics, ViewOptions } from "@opentelemetry/sdk-metrics"
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { SpanRow } from "../../src/ingest/otlp/index.ts"

/** Finished spans from a real SDK pipeline, one provider per resource. */
export const recordSpans = (
  resources: ReadonlyArray<Record<string, string>>, build: (tracerFor: (resource: number, scope: string, version?: string) => Tracer) => void
): Array<ReadableSpan> => {
  const exporter = new InMemorySpanExporter()
  const providers = resources.map((attributes) =>
    new BasicTracerProvider({ resource: resourceFromAttributes(attributes), spanProcessors: [new SimpleSpanProcessor(exporter)] }))
  build((resource, scope, version) => providers[resource]!.getTracer(scope, version))
  return exporter.getFinishedSpans()
}

const text = new TextDecoder()

export const serializeSpans = (spans: Array<ReadableSpan>) => ({
  protobuf: ProtobufTraceSerializer.serializeRequest(spans)!,
  json: JSON.parse(text.decode(JsonTraceSerializer.serializeRequest(spans)!)) as unknown
})

class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

export const recordMetrics = async (
  attributes: Record<string, string>, views: Array<ViewOptions>, record: (meter: Meter) => void
): Promise<ResourceMetrics> => {
  const reader = new CollectingReader()
  const provider = new MeterProvider({ resource: resourceFromAttributes(attributes), readers: [reader], views })
  record(provider.getMeter("metrics-scope", "0.1.0"))
  const { resourceMetrics } = await reader.collect()
  return resourceMetrics
}

export const serializeMetrics = (rm: ResourceMetrics) => ({
  protobuf: ProtobufMetricsSerializer.serializeRequest(rm)!,
  json: JSON.parse(text.decode(JsonMetricsSerializer.serializeRequest(rm)!)) as unknown
})

// The oracle: what a row must hold, computed from the SDK's own span objects.

export const hrTimeMs = ([s, ns]: HrTime): number => s * 1000 + Math.floor(ns / 1e6) + (ns % 1e6) / 1e6

const hrDurationMs = (start: HrTime, end: HrTime): number =>
  (end[0] - start[0]) * 1000 + Math.floor(end[1] / 1e6) - Math.floor(start[1] / 1e6) + ((end[1] % 1e6) - (start[1] % 1e6)) / 1e6

export const expectedValue = (v: unknown): unknown => {
  if (v == null) return null
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) return Number.isSafeInteger(v) ? v + 0 : BigInt(v).toString()
    return Number.isFinite(v) ? v : String(v)
  }
  return Array.isArray(v) ? v.map(expectedValue) : v
}

export const expectedAttributes = (attrs: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> =>
  Object.fromEntries(Object.entries(attrs ?? {}).map(([k, v]) => [k, expectedValue(v)]))

export const expectedRow = (s: ReadableSpan): SpanRow => {
  const resourceAttributes = expectedAttributes(s.resource.attributes)
  const service = resourceAttributes["service.name"]
  return {
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId ?? null,
    name: s.name,
    kind: s.kind + 1,
    statusCode: s.status.code,
    statusMessage: s.status.message ? s.status.message : null,
    startTimeMs: hrTimeMs(s.startTime),
    endTimeMs: hrTimeMs(s.endTime),
    durationMs: hrDurationMs(s.startTime, s.endTime),
    serviceName: typeof service === "string" && service !== "" ? service : "unknown_service",
    scopeName: s.instrumentationScope.name === "" ? null : s.instrumentationScope.name,
    resourceAttributes,
    attributes: expectedAttributes(s.attributes),
    events: s.events.map((e) => ({ name: e.name, timeMs: hrTimeMs(e.time), attributes: expectedAttributes(e.attributes) })),
    links: s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: expectedAttributes(l.attributes) }))
  }
}

export const bySpanId = (a: SpanRow, b: SpanRow): number => (a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0)

/** A tiny protobuf writer for hand-made messages (unknown fields, summaries, bad ids). */
export const pb = {
  varint: (n: number | bigint): Array<number> => {
    let v = BigInt.asUintN(64, BigInt(n))
    const out: Array<number> = []
    do {
      const b = Number(v & 0x7fn)
      v >>= 7n
      out.push(v > 0n ? b | 0x80 : b)
    } while (v > 0n)
    return out
  },
  tag: (field: number, wire: number): Array<number> => pb.varint(field * 8 + wire),
  int: (field: number, n: number | bigint): Array<number> => [...pb.tag(field, 0), ...pb.varint(n)],
  len: (field: number, ...payload: Array<Array<number>>): Array<number> => {
    const body = payload.flat()
    return [...pb.tag(field, 2), ...pb.varint(body.length), ...body]
  },
  str: (field: number, s: string): Array<number> => pb.len(field, [...new TextEncoder().encode(s)]),
  hex: (field: number, hex: string): Array<number> => pb.len(field, [...Buffer.from(hex, "hex")]),
  fixed64: (field: number, n: bigint): Array<number> => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt.asUintN(64, n))
    return [...pb.tag(field, 1), ...b]
  },
  double: (field: number, x: number): Array<number> => {
    const b = Buffer.alloc(8)
    b.writeDoubleLE(x)
    return [...pb.tag(field, 1), ...b]
  },
  fixed32: (field: number, n: number): Array<number> => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n)
    return [...pb.tag(field, 5), ...b]
  },
  group: (field: number, ...inner: Array<Array<number>>): Array<number> => [...pb.tag(field, 3), ...inner.flat(), ...pb.tag(field, 4)],
  kv: (field: number, key: string, value: Array<number>): Array<number> => pb.len(field, pb.str(1, key), pb.len(2, value)),
  bytes: (...parts: Array<Array<number>>): Uint8Array => Uint8Array.from(parts.flat())
}
