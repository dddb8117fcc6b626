import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from "@opentelemetry/api"
import type { Context, Span } from "@opentelemetry/api"
import { ExportResultCode } from "@opentelemetry/core"
import type { ExportResult } from "@opentelemetry/core"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"
import { SERVICES } from "./story.ts"
import type { Kind, RunPlan, Service } from "./story.ts"

const KINDS: Record<Kind, SpanKind> = { internal: SpanKind.INTERNAL, server: SpanKind.SERVER, client: SpanKind.CLIENT }

const resourceOf = (service: string) =>
  resourceFromAttributes({ "service.name": service, "service.version": "1.4.2", "service.namespace": "research-agents", "deployment.environment.name": "demo" })

/** The OTLP exporter, remembering how its last export went (the batch processor only logs failures). */
class WatchedExporter implements SpanExporter {
  last: ExportResult = { code: ExportResultCode.SUCCESS }
  private readonly inner: SpanExporter
  constructor(inner: SpanExporter) {
    this.inner = inner
  }
  export(spans: Array<ReadableSpan>, done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      this.last = result
      done(result)
    })
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown()
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve()
  }
}

/** The W3C traceparent of a native execution as the remote parent of the run's spans. */
export const parentContext = (traceparent: string): Context | undefined => {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent)
  if (m === null) return undefined
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: m[1] ?? "", spanId: m[2] ?? "", traceFlags: Number.parseInt(m[3] ?? "1", 16) || TraceFlags.SAMPLED, isRemote: true })
}

/**
 * One tracer provider per service (a resource each), all feeding one batch processor and exporter, so
 * that one export carries every service's spans of the same moment: the pipeline's windows close by
 * event time, and spans of one moment split over several requests could arrive out of order.
 */
export const makeTracing = (baseUrl: string, key: string) => {
  const exporter = new WatchedExporter(new OTLPTraceExporter({ url: `${baseUrl}/v1/traces`, headers: { "x-api-key": key }, timeoutMillis: 30_000 }))
  const processor = new BatchSpanProcessor(exporter, { maxExportBatchSize: 5000, maxQueueSize: 50_000, scheduledDelayMillis: 500 })
  const providers = new Map(SERVICES.map((s) => [s, new BasicTracerProvider({ resource: resourceOf(s), spanProcessors: [processor] })]))
  const tracer = (s: Service) => (providers.get(s) as BasicTracerProvider).getTracer("mplp-demo", "1.0.0")

  /**
   * The run's spans, starting at `startMs` (epoch). `live`: each span ends when its end time comes, as
   * a real one would (the promise resolves once all have); otherwise all end at once (history).
   * Returns the root span's trace id.
   */
  const emit = (plan: RunPlan, startMs: number, parent: Context | undefined, live: boolean, onEnd: (service: Service, durationMs: number) => void) => {
    const created: Array<Span> = []
    const ends: Array<Promise<void>> = []
    for (const s of plan.spans) {
      const ctx = s.parent === null ? parent ?? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, created[s.parent] as Span)
      const span = tracer(s.service).startSpan(s.name, { kind: KINDS[s.kind], attributes: s.attributes, startTime: startMs + s.startMs }, ctx)
      if (s.error !== null) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: s.error })
        span.setAttribute("error.type", s.error.startsWith("HTTP") ? "503" : "agent_failed")
      }
      created.push(span)
      const endMs = startMs + s.startMs + s.durationMs
      const end = () => {
        span.end(endMs)
        onEnd(s.service, s.durationMs)
      }
      if (!live) end()
      else ends.push(new Promise((resolve) => setTimeout(() => resolve(end()), Math.max(0, endMs - Date.now()))))
    }
    return { traceId: created[0]?.spanContext().traceId ?? "", ended: Promise.all(ends).then(() => undefined) }
  }

  return {
    emit,
    /** Sends everything ended so far; fails when the service refused it. */
    flush: async () => {
      await processor.forceFlush()
      if (exporter.last.code !== ExportResultCode.SUCCESS) throw new Error(`OTLP export failed: ${exporter.last.error?.message ?? "refused"}`)
    },
    shutdown: () => Promise.all([...providers.values()].map((p) => p.shutdown())).then(() => undefined)
  }
}

export interface Gauges { readonly cpuUsagePercent: number; readonly memoryUsageMb: number; readonly responseTimeMs: number }

/** CPU, memory and response time of the services behind the planner, as OTLP gauges every `intervalMs`. */
export const makeMetrics = (baseUrl: string, key: string, services: ReadonlyArray<Service>, sample: (service: Service) => Gauges, intervalMs = 5000) => {
  const providers = services.map((service) => {
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: `${baseUrl}/v1/metrics`, headers: { "x-api-key": key } }),
      exportIntervalMillis: intervalMs
    })
    const provider = new MeterProvider({ resource: resourceOf(service), readers: [reader] })
    const meter = provider.getMeter("mplp-demo", "1.0.0")
    const gauge = (name: keyof Gauges, unit: string) =>
      meter.createObservableGauge(name, { unit }).addCallback((o) => o.observe(Math.round(sample(service)[name] * 10) / 10))
    gauge("cpuUsagePercent", "%")
    gauge("memoryUsageMb", "MB")
    gauge("responseTimeMs", "ms")
    return provider
  })
  return { shutdown: () => Promise.all(providers.map((p) => p.shutdown())).then(() => undefined) }
}
