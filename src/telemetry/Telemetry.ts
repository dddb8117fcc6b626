import * as OtelTracer from "@effect/opentelemetry/Tracer"
import { metrics } from "@opentelemetry/api"
import type { Counter, Histogram, ObservableGauge, Tracer } from "@opentelemetry/api"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { AggregationTemporality, MeterProvider, MetricReader, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Context, Effect, Layer, Option } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { observeEventLoop } from "./eventLoop.ts"
import { SelfExportSlot, SelfMetricExporter, SelfSpanExporter } from "./selfExporters.ts"

/** A pull reader: `/metrics` asks it for the current values and renders Prometheus text. */
class PullReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface SelfMetrics {
  readonly pointsAccepted: Counter
  readonly spansAccepted: Counter
  /** GenAI attributes dropped at the door: message contents (kind=content) and token counts that are no counts (kind=tokens). */
  readonly genaiAttributesDropped: Counter
  readonly requestsRejected: Counter
  readonly jobsProcessed: Counter
  readonly jobLatency: Histogram
  readonly requestDuration: Histogram
  readonly actorRestarts: Counter
  readonly alertsSent: Counter
  readonly lateEvents: Counter
  /** Points of new series refused over a tenant's maxActiveSeries, by where (api: not stored; stage: stored raw, not windowed). */
  readonly seriesRejected: Counter
  /** Queue depth gauges are registered by the queue layer through this callback. */
  readonly queueDepth: ObservableGauge
  /** Active trace actors of this process, registered by the trace actors' layer. */
  readonly traceActors: ObservableGauge
  readonly prometheus: () => Promise<string>
  /** The OpenTelemetry tracer behind every `Effect.withSpan` / `Effect.fn` span of the process. */
  readonly otelTracer: Tracer
  /** Where the spans and metrics for MPLP_SELF_TENANT go, once the ingest queue is up (src/telemetry/SelfExport.ts). */
  readonly selfExport: SelfExportSlot
  /** Whether the service's spans go anywhere (OTEL_EXPORTER_OTLP_ENDPOINT or MPLP_SELF_TENANT): else none are made. */
  readonly spansExported: boolean
}

const SELF_METRICS_EVERY_MS = 15_000
const SELF_SPANS_EVERY_MS = 1_000

/** The service's own metrics (and the tracer provider); OTLP export when configured, self export when MPLP_SELF_TENANT is set. */
const makeTelemetry = Effect.gen(function* () {
  const config = yield* AppConfig
  const resource = resourceFromAttributes({ "service.name": config.serviceName, "process.pid": process.pid })
  const pull = new PullReader()
  const readers: Array<MetricReader> = [pull]
  const endpoint = Option.getOrUndefined(config.otlpEndpoint)
  const selfExport = new SelfExportSlot()
  if (Option.isSome(config.selfTenant)) {
    readers.push(new PeriodicExportingMetricReader({ exporter: new SelfMetricExporter(selfExport), exportIntervalMillis: SELF_METRICS_EVERY_MS }))
  }
  if (endpoint !== undefined) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${endpoint.replace(/\/$/, "")}/v1/metrics` }),
        exportIntervalMillis: 15_000
      })
    )
  }
  const meterProvider = new MeterProvider({ resource, readers })
  metrics.setGlobalMeterProvider(meterProvider)
  const spanProcessors: Array<SpanProcessor> = []
  if (endpoint !== undefined) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, "")}/v1/traces` })))
  if (Option.isSome(config.selfTenant)) {
    spanProcessors.push(new BatchSpanProcessor(new SelfSpanExporter(selfExport), { scheduledDelayMillis: SELF_SPANS_EVERY_MS }))
  }
  // Not registered as the global provider: the Effect tracer is given this one, and two apps in one
  // process (the tests) keep their own.
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors })
  selfExport.flush = () => Promise.all([tracerProvider.forceFlush(), meterProvider.forceFlush()]).then(() => undefined)
  yield* Effect.addFinalizer(() =>
    Effect.promise(() => Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()])).pipe(
      Effect.tap(() => Effect.sync(() => metrics.disable()))
    )
  )
  const meter = meterProvider.getMeter("mplp-trace")
  const stopEventLoop = observeEventLoop(meter)
  yield* Effect.addFinalizer(() => Effect.sync(stopEventLoop))
  const serializer = new PrometheusSerializer()
  return {
    pointsAccepted: meter.createCounter("mplp_points_accepted", { description: "metric points accepted by the API" }),
    genaiAttributesDropped: meter.createCounter("mplp_genai_attributes_dropped", { description: "GenAI span attributes dropped at ingest, by kind (content, tokens)" }),
    spansAccepted: meter.createCounter("mplp_spans_accepted", { description: "spans accepted by the API" }),
    requestsRejected: meter.createCounter("mplp_requests_rejected", { description: "requests refused, by reason" }),
    jobsProcessed: meter.createCounter("mplp_jobs_processed", { description: "queue jobs processed, by stage and outcome" }),
    jobLatency: meter.createHistogram("mplp_job_latency_ms", { description: "enqueue to completion, by stage", unit: "ms" }),
    requestDuration: meter.createHistogram("mplp_http_request_duration_ms", { description: "HTTP request duration", unit: "ms" }),
    actorRestarts: meter.createCounter("mplp_actor_restarts", { description: "tenant actor restarts (after a failure, with back-off)" }),
    alertsSent: meter.createCounter("mplp_alert_notifications", { description: "alert notifications, by channel type and outcome" }),
    lateEvents: meter.createCounter("mplp_late_events", { description: "points that arrived after their window closed" }),
    seriesRejected: meter.createCounter("mplp_series_rejected_points", { description: "points of new series over a tenant's maxActiveSeries, by where refused" }),
    queueDepth: meter.createObservableGauge("mplp_queue_depth", { description: "waiting jobs per queue" }),
    traceActors: meter.createObservableGauge("mplp_trace_actors_active", { description: "running executions with an active trace actor in this process" }),
    prometheus: async () => {
      const { resourceMetrics } = await pull.collect()
      return serializer.serialize(resourceMetrics)
    },
    otelTracer: tracerProvider.getTracer("mplp-trace"),
    selfExport,
    spansExported: spanProcessors.length > 0
  }
})

export class Telemetry extends Context.Tag("telemetry/Telemetry")<Telemetry, SelfMetrics>() {
  /**
   * The service's own telemetry, and the one Effect tracer (@effect/opentelemetry): every `Effect.withSpan`
   * and `Effect.fn` span of the layers built on this one is an OpenTelemetry span of `otelTracer`.
   */
  static readonly Live = Layer.unwrapEffect(
    Effect.map(Telemetry, (t) =>
      // Spans nobody exports are not made (Effect's no-op spans): they cost the pipeline a few µs per
      // span it ingests (profiles of the bench) and showed nowhere.
      t.spansExported
        ? OtelTracer.layerWithoutOtelTracer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracer, t.otelTracer)))
        : Layer.setTracerEnabled(false)
    )
  ).pipe(Layer.provideMerge(Layer.scoped(Telemetry, makeTelemetry)))
}
