import { metrics, trace } from "@opentelemetry/api"
import type { Counter, Histogram, ObservableGauge } from "@opentelemetry/api"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { AggregationTemporality, MeterProvider, MetricReader, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Context, Effect, Layer, Option } from "effect"
import { AppConfig } from "../config/AppConfig.ts"

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
  readonly requestsRejected: Counter
  readonly jobsProcessed: Counter
  readonly jobLatency: Histogram
  readonly requestDuration: Histogram
  readonly actorRestarts: Counter
  readonly alertsSent: Counter
  readonly lateEvents: Counter
  /** Queue depth gauges are registered by the queue layer through this callback. */
  readonly queueDepth: ObservableGauge
  /** Active trace actors of this process, registered by the trace actors' layer. */
  readonly traceActors: ObservableGauge
  readonly prometheus: () => Promise<string>
}

export class Telemetry extends Context.Tag("telemetry/Telemetry")<Telemetry, SelfMetrics>() {
  /** The service's own traces and metrics through @opentelemetry/api; OTLP export when configured. */
  static readonly Live = Layer.scoped(
    Telemetry,
    Effect.gen(function* () {
      const config = yield* AppConfig
      const resource = resourceFromAttributes({ "service.name": config.serviceName, "process.pid": process.pid })
      const pull = new PullReader()
      const readers: Array<MetricReader> = [pull]
      const endpoint = Option.getOrUndefined(config.otlpEndpoint)
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
      const tracerProvider = new BasicTracerProvider({
        resource,
        spanProcessors: endpoint === undefined
          ? []
          : [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, "")}/v1/traces` }))]
      })
      trace.setGlobalTracerProvider(tracerProvider)
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()])).pipe(
          Effect.tap(() => Effect.sync(() => {
            metrics.disable()
            trace.disable()
          }))
        )
      )
      const meter = meterProvider.getMeter("mplp-trace")
      const serializer = new PrometheusSerializer()
      return {
        pointsAccepted: meter.createCounter("mplp_points_accepted", { description: "metric points accepted by the API" }),
        spansAccepted: meter.createCounter("mplp_spans_accepted", { description: "spans accepted by the API" }),
        requestsRejected: meter.createCounter("mplp_requests_rejected", { description: "requests refused, by reason" }),
        jobsProcessed: meter.createCounter("mplp_jobs_processed", { description: "queue jobs processed, by stage and outcome" }),
        jobLatency: meter.createHistogram("mplp_job_latency_ms", { description: "enqueue to completion, by stage", unit: "ms" }),
        requestDuration: meter.createHistogram("mplp_http_request_duration_ms", { description: "HTTP request duration", unit: "ms" }),
        actorRestarts: meter.createCounter("mplp_actor_restarts", { description: "tenant actor restarts (after a failure, with back-off)" }),
        alertsSent: meter.createCounter("mplp_alert_notifications", { description: "alert notifications, by channel type and outcome" }),
        lateEvents: meter.createCounter("mplp_late_events", { description: "points that arrived after their window closed" }),
        queueDepth: meter.createObservableGauge("mplp_queue_depth", { description: "waiting jobs per queue" }),
        traceActors: meter.createObservableGauge("mplp_trace_actors_active", { description: "running executions with an active trace actor in this process" }),
        prometheus: async () => {
          const { resourceMetrics } = await pull.collect()
          return serializer.serialize(resourceMetrics)
        }
      }
    })
  )
}

export const tracer = () => trace.getTracer("mplp-trace")
