import { Effect, Layer, Option, Runtime } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { timeWindow } from "../domain/limits.ts"
import { IngestQueue } from "../ingest/IngestQueue.ts"
import { normalizeMetrics } from "../ingest/otlp/normalizeMetrics.ts"
import { normalizeTraces } from "../ingest/otlp/normalize.ts"
import { Telemetry } from "./Telemetry.ts"

/**
 * MPLP_SELF_TENANT: the service's own spans and metrics go into that tenant through the ingest path a
 * client's OTLP takes (the same normalisers and bounds as POST /v1/traces and /v1/metrics, the ingest
 * queue, the ingest stage), straight into the queue rather than over HTTP: every process has Redis, not
 * every process serves the API, and it needs no API key.
 *
 * The guard against tracing without end: the enqueue runs with the tracer off, and the stages run the
 * jobs of the self tenant untraced (src/queues/Queues.ts), so ingesting the service's spans makes none.
 */
const make = (tenantId: string) =>
  Effect.gen(function* () {
    const { selfExport } = yield* Telemetry
    const ingest = yield* IngestQueue
    const { eventMaxAgeSeconds, eventMaxFutureSeconds } = yield* AppConfig
    const run = Runtime.runPromise(yield* Effect.runtime<never>())
    const window = () => timeWindow(Date.now(), eventMaxAgeSeconds, eventMaxFutureSeconds)
    // Over the backlog bound the submission fails and the batch is dropped: the service's own telemetry
    // never adds to an overloaded queue.
    const submit = (job: Parameters<typeof ingest.submit>[0]) =>
      run(ingest.submit(job).pipe(Effect.asVoid, Effect.withTracerEnabled(false)))

    selfExport.traces = (request) => {
      const { spans } = normalizeTraces(request, undefined, window())
      return spans.length === 0 ? Promise.resolve() : submit({ _tag: "spans", tenantId, receivedAtMs: Date.now(), spans })
    }
    selfExport.metrics = (request) => {
      const { points } = normalizeMetrics(request, undefined, window())
      if (points.length === 0) return Promise.resolve()
      return submit({
        _tag: "metrics", tenantId, receivedAtMs: Date.now(), source: "otlp",
        points: points.map((p) => ({ name: p.name, value: p.value, timeMs: p.timeMs, serviceName: p.serviceName, traceId: null, attributes: p.attributes }))
      })
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => selfExport.flush()).pipe(
        Effect.ensuring(Effect.sync(() => {
          selfExport.traces = undefined
          selfExport.metrics = undefined
        }))
      )
    )
  })

export const SelfExport = {
  /** Nothing unless MPLP_SELF_TENANT is set. */
  Live: Layer.unwrapEffect(
    Effect.map(AppConfig, (config) =>
      Option.match(config.selfTenant, {
        onNone: () => Layer.empty,
        onSome: (tenantId) => Layer.scopedDiscard(make(tenantId)).pipe(Layer.provide(IngestQueue.Live))
      })
    )
  )
}
